"""Writes for submissions: accepting an upload (its scoring run queued with it), cancelling,
rescoring, the final selection, disqualifying and marking baselines. Runs change state only in
basin.submissions.runs."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from basin.courses import access
from basin.courses.models import Homework, Membership
from basin.errors import ApplicationError
from basin_grader.formats import inspect_submission
from basin_grader.verdicts import GradingError

from . import runs
from .models import Submission
from .selectors import quota_of

log = logging.getLogger(__name__)



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
                               f"{homework.max_upload_mb} MB. Make the model smaller or save weights in half "
                               "precision.", details={"limit_bytes": limit, "size_bytes": size})


def check_not_empty(upload) -> None:
    if upload.size == 0:
        raise ApplicationError("empty_file", f"{upload.name[:100]} is empty (0 bytes): nothing was saved into it. "
                               "Export the checkpoint again (in the notebook, run the cell that saves the bundle) "
                               "and upload the file it writes.", details={"size_bytes": 0})


# An identical file in one of these states would be graded the same: sending it again only uses quota.
DUPLICATE_STATUSES = (Submission.Status.RECEIVED, Submission.Status.QUEUED, Submission.Status.RUNNING,
                      Submission.Status.SCORED)


def refuse_duplicate(*, homework: Homework, user, digest: str) -> None:
    earlier = (Submission.objects.filter(homework=homework, user=user, is_baseline=False, sha256=digest,
                                         status__in=DUPLICATE_STATUSES).order_by("-pk").first())
    if earlier is not None:
        raise ApplicationError("duplicate_submission", f"This file is identical to your submission #{earlier.pk} "
                               f"({earlier.status}): it would be graded the same, so it was not taken and used "
                               "none of your quota. Submit a changed checkpoint, or send it again with "
                               "`basin submit --force`.",
                               details={"submission_id": earlier.pk, "status": earlier.status})


def submit(*, homework: Homework, user, upload, note: str = "", is_baseline: bool = False,
           force: bool = False) -> Submission:
    """Accept an upload: size, membership, opening, deadline (or late period) and quotas are
    checked before the file is looked into (a refused upload costs no inspection); then its
    format; then, under the membership lock, the rules again and, unless `force`, a file identical
    to one already graded or waiting is refused; the row is stored; grading is queued once the
    transaction has committed."""
    now = timezone.now()
    check_not_empty(upload)
    check_upload_size(homework, upload.size)
    may_submit(homework=homework, user=user, is_baseline=is_baseline, now=now,
               membership=Membership.objects.filter(course_id=homework.course_id, user=user).first())
    info = _inspect(upload)
    digest = _sha256(upload)
    with transaction.atomic():
        # The membership row is the lock that serializes this student's concurrent uploads (on
        # PostgreSQL; SQLite's IMMEDIATE transactions serialize all writers anyway), so a quota
        # is counted and used in one step.
        membership = (Membership.objects.select_for_update()
                      .filter(course_id=homework.course_id, user=user).first())
        late_penalty = may_submit(homework=homework, user=user, is_baseline=is_baseline, now=now,
                                  membership=membership)
        if not (force or is_baseline):  # under the lock: of two identical uploads at once, one is taken
            refuse_duplicate(homework=homework, user=user, digest=digest)
        submission = Submission.objects.create(
            homework=homework, user=user, is_baseline=is_baseline, file=upload, original_name=upload.name[:255],
            kind=info.kind, size=upload.size, sha256=digest, note=note[:500], late_penalty=late_penalty,
            status=Submission.Status.QUEUED)
        runs.open_run(submission.pk, runs.SCORE)  # sent once this transaction commits
    return submission


def _inspect(upload):
    """The upload's format (bounded work: basin_grader.formats.ArchiveLimits), or the student's fix."""
    try:
        return inspect_submission(upload.file, upload.name)
    except GradingError as e:
        raise ApplicationError("invalid_submission", e.message) from e
    finally:
        upload.seek(0)


def may_submit(*, homework: Homework, user, is_baseline: bool, now: datetime, membership) -> float:
    """Whether this member may submit now (raises ApplicationError if not); the late penalty."""
    if membership is None:
        raise ApplicationError("not_enrolled", "You are not enrolled in this course.")
    if is_baseline:
        if not access.Viewer(membership.user_id, membership.role).is_staff:
            raise ApplicationError("not_course_staff", "Only TAs add baseline submissions.")
        return 0.0
    check_open(homework, now)
    quota = quota_of(homework, user, now)
    if quota.total_left == 0:
        raise ApplicationError("total_quota_exceeded", f"You have used all {homework.total_quota} "
                               "submissions of this homework.",
                               details={"total_quota": homework.total_quota})
    if quota.daily_left == 0:
        # with a daily quota of at least 1 (the API's minimum), a used-up day holds a submission to age out
        assert quota.resets_at is not None
        raise ApplicationError("quota_exceeded", f"You have used all {homework.daily_quota} submissions of "
                               f"the last 24 hours; the next one frees up at {quota.resets_at.isoformat()}.",
                               details={"daily_quota": homework.daily_quota, "resets_at": quota.resets_at.isoformat()})
    return homework.late_penalty_at(now)


def check_open(homework: Homework, now: datetime) -> None:
    """Submissions are taken from the opening to the deadline, or to the end of the late period."""
    if now < homework.opens_at:
        raise ApplicationError("not_open", f"This homework opens at {homework.opens_at.isoformat()}.")
    if homework.private_is_revealed:  # a later submission would be scored against a split everyone sees
        raise ApplicationError("revealed", "The private leaderboard has been revealed: submissions are closed.")
    if now > homework.closes_at:
        late = (f"; late submissions were taken until {homework.closes_at.isoformat()}"
                if homework.closes_at != homework.deadline else "")
        raise ApplicationError("deadline_passed", f"The deadline was {homework.deadline.isoformat()}{late}: "
                               "submissions are closed.")


def cancel(*, submission: Submission, actor_is_staff: bool) -> Submission:
    """Cancel a submission that is not finished: it stops counting against the quota. Its owner
    may cancel it while it waits; the course's TAs also while it runs (the worker's result for a
    cancelled run is dropped: storing it needs the run still running)."""
    allowed = [Submission.Status.RECEIVED, Submission.Status.QUEUED]
    if actor_is_staff:
        allowed.append(Submission.Status.RUNNING)
    with transaction.atomic():
        runs.lock_live(submission.pk)
        done = Submission.objects.filter(pk=submission.pk, status__in=allowed).update(
            status=Submission.Status.CANCELLED,
            message="Cancelled before it was scored; it does not count against the quota.")
        if done:
            runs.cancel_live(submission.pk, "cancelled with its submission")
    if not done:
        submission.refresh_from_db()
        raise ApplicationError("not_cancellable", f"Submission {submission.pk} is {submission.status}; only a "
                               "submission still waiting for the grader can be cancelled.")
    submission.refresh_from_db()
    return submission


def rescore(submission: Submission) -> bool:
    """Grade a finished submission again from its stored file (after a grader fix, say): a new
    scoring run, with tries of its own; a diagnostics run still live is cancelled, and the old
    runs stay as its history. False for a submission that is still queued or running."""
    with transaction.atomic():
        runs.lock_live(submission.pk)
        done = Submission.objects.filter(pk=submission.pk, status__in=Submission.TERMINAL_STATUSES).update(
            verdict="", message="", log_tail="", hidden_log="", public_score=None, private_score=None, scores={},
            trusted_diagnostics={}, sandbox_diagnostics={}, landscape_thumbnail=None, sharpness=None,
            diagnostics_status=Submission.DiagnosticsStatus.NONE)
        if done:
            runs.cancel_live(submission.pk, "superseded by a rescore")
            runs.open_run(submission.pk, runs.SCORE)
    return bool(done)


def select_final(*, homework: Homework, user, ids: list[int]) -> list[Submission]:
    """Replace the student's choice of submissions for the private leaderboard: their own scored
    submissions of this homework, at most homework.final_selections, until the deadline."""
    ids = sorted(set(ids))
    if len(ids) > homework.final_selections:
        raise ApplicationError("too_many_selected", f"Choose at most {homework.final_selections} submissions "
                               f"for the private leaderboard; you named {len(ids)}.",
                               details={"final_selections": homework.final_selections})
    if timezone.now() > homework.closes_at or homework.private_is_revealed:
        raise ApplicationError("deadline_passed", "The deadline has passed (and any late period): the final "
                               "selection is closed.")
    with transaction.atomic():
        Membership.objects.select_for_update().filter(course_id=homework.course_id, user=user).first()
        mine = Submission.objects.filter(homework=homework, user=user, is_baseline=False)
        chosen = list(mine.filter(pk__in=ids))
        missing = set(ids) - {s.pk for s in chosen}
        if missing:
            listed = ", ".join(map(str, sorted(missing)))
            raise ApplicationError("no_such_submission", f"You have no submission {listed} in this homework.")
        unscored = [s.pk for s in chosen if s.status != Submission.Status.SCORED or s.disqualified]
        if unscored:
            raise ApplicationError("not_scored", f"Only scored submissions that are not disqualified can be chosen; "
                                   f"{', '.join(map(str, unscored))} {'is' if len(unscored) == 1 else 'are'} not.")
        mine.exclude(pk__in=ids).filter(selected=True).update(selected=False)
        mine.filter(pk__in=ids).update(selected=True)
    return list(mine.filter(selected=True).select_related("homework__course").prefetch_related("runs").order_by("pk"))


def disqualify(submission: Submission, reason: str) -> None:
    """Keep the submission (it still counts against the quota) but never rank it."""
    Submission.objects.filter(pk=submission.pk).update(disqualified=True, selected=False,
                                                       disqualified_reason=reason[:500])


def mark_baseline(submission: Submission) -> None:
    """Show a TA's own submission on the leaderboard as a reference row, never ranked. A student's
    is refused: marking it would take it off the ranking (ApplicationError)."""
    if submission.is_baseline:
        raise ApplicationError("already_baseline", "Already a baseline.")
    if not access.is_course_staff(submission.user, submission.homework.course_id):
        raise ApplicationError("not_course_staff", "A baseline is a TA's own submission; this one is a student's, "
                               "and marking it would take it off the ranking.")
    Submission.objects.filter(pk=submission.pk).update(is_baseline=True, selected=False)
