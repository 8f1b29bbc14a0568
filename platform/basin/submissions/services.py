"""Writes for submissions: accepting an upload, and handing it to the grading queue on commit."""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from basin.courses.models import Homework, Membership
from basin.errors import ApplicationError
from basin_grader.formats import inspect_submission
from basin_grader.verdicts import GradingError

from .models import Submission

log = logging.getLogger(__name__)

# Submissions that count against a quota: everything but the grader's own failures and cancels.
NOT_COUNTED_VERDICTS = ("infrastructure_error",)


def _sha256(upload) -> str:
    h = hashlib.sha256()
    for chunk in upload.chunks():
        h.update(chunk)
    upload.seek(0)
    return h.hexdigest()


def check_upload_size(homework: Homework, size: int) -> None:
    limit = homework.max_upload_mb * 1024 * 1024
    if size > limit:
        raise ApplicationError("file_too_large", f"The file is {size / 1e6:.1f} MB; this homework accepts at most "
                               f"{homework.max_upload_mb} MB. Make the model smaller or save weights in half precision.",
                               status_code=413, details={"limit_bytes": limit, "size_bytes": size})


def send(task, submission_id: int, countdown: float, stamp: str) -> None:
    """Send `task` for a submission and stamp when (the `stamp` column), so the watchdog can resend
    a message that was lost. A broker that is down loses nothing: the row keeps its state."""
    try:
        task.apply_async((submission_id,), countdown=countdown)
    except Exception:
        log.exception("could not send %s for submission %s; the watchdog will", task.name, submission_id)
        return
    Submission.objects.filter(pk=submission_id).update(**{stamp: timezone.now() + timedelta(seconds=countdown)})


def enqueue_grading(submission_id: int, countdown: float = 0) -> None:
    from basin.grading.tasks import grade_submission

    send(grade_submission, submission_id, countdown, "enqueued_at")


def submit(*, homework: Homework, user, upload, note: str = "", is_baseline: bool = False) -> Submission:
    """Accept an upload: membership, deadline, quota, size and format are checked; the file is
    stored; grading is queued once the transaction has committed."""
    now = timezone.now()
    check_upload_size(homework, upload.size)
    try:
        info = inspect_submission(upload.file, upload.name)
    except GradingError as e:
        raise ApplicationError("invalid_submission", e.message) from e
    finally:
        upload.seek(0)
    digest = _sha256(upload)
    with transaction.atomic():
        # The membership row is the lock that serializes this student's concurrent uploads (on
        # PostgreSQL; SQLite's IMMEDIATE transactions serialize all writers anyway).
        membership = (Membership.objects.select_for_update()
                      .filter(course_id=homework.course_id, user=user).first())
        if membership is None:
            raise ApplicationError("not_enrolled", "You are not enrolled in this course.", status_code=403)
        if is_baseline and membership.role != Membership.Role.TA:
            raise ApplicationError("not_course_staff", "Only TAs add baseline submissions.", status_code=403)
        if not is_baseline:
            if now < homework.opens_at:
                raise ApplicationError("not_open", f"This homework opens at {homework.opens_at.isoformat()}.",
                                       status_code=403)
            if now > homework.deadline:
                raise ApplicationError("deadline_passed", f"The deadline was {homework.deadline.isoformat()}; "
                                       "submissions are closed.", status_code=403)
            used = (Submission.objects.filter(homework=homework, user=user, created_at__gte=now - timedelta(days=1))
                    .exclude(status=Submission.Status.CANCELLED).exclude(verdict__in=NOT_COUNTED_VERDICTS).count())
            if used >= homework.daily_quota:
                raise ApplicationError("quota_exceeded", f"You have used all {homework.daily_quota} submissions of "
                                       "the last 24 hours; try again later.", status_code=429,
                                       details={"daily_quota": homework.daily_quota})
        submission = Submission.objects.create(
            homework=homework, user=user, is_baseline=is_baseline, file=upload, original_name=upload.name[:255],
            kind=info.kind, size=upload.size, sha256=digest, note=note[:500], status=Submission.Status.QUEUED)
        transaction.on_commit(lambda: enqueue_grading(submission.id))
    return submission


def select_final(*, homework: Homework, user, ids: list[int]) -> list[Submission]:
    """Replace the student's choice of submissions for the private leaderboard: their own scored
    submissions of this homework, at most homework.final_selections, until the deadline."""
    ids = sorted(set(ids))
    if len(ids) > homework.final_selections:
        raise ApplicationError("too_many_selected", f"Choose at most {homework.final_selections} submissions "
                               f"for the private leaderboard; you named {len(ids)}.",
                               details={"final_selections": homework.final_selections})
    if timezone.now() > homework.deadline:
        raise ApplicationError("deadline_passed", "The deadline has passed: the final selection is closed.",
                               status_code=403)
    with transaction.atomic():
        Membership.objects.select_for_update().filter(course_id=homework.course_id, user=user).first()
        mine = Submission.objects.filter(homework=homework, user=user, is_baseline=False)
        chosen = list(mine.filter(pk__in=ids))
        missing = set(ids) - {s.pk for s in chosen}
        if missing:
            raise ApplicationError("no_such_submission", f"You have no submission {', '.join(map(str, sorted(missing)))} "
                                   "in this homework.", status_code=404)
        unscored = [s.pk for s in chosen if s.status != Submission.Status.SCORED]
        if unscored:
            raise ApplicationError("not_scored", f"Only scored submissions can be chosen; "
                                   f"{', '.join(map(str, unscored))} {'is' if len(unscored) == 1 else 'are'} not.")
        mine.exclude(pk__in=ids).filter(selected=True).update(selected=False)
        mine.filter(pk__in=ids).update(selected=True)
    return list(mine.filter(selected=True).order_by("pk"))
