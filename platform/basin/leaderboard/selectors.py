"""The leaderboards of a homework. Scores are effective: a late submission's is already reduced
by its penalty. Disqualified submissions never appear. Ties go to the earlier submission.

- public: each student's best public score, ranked (window functions: one query for students'
  best rows, one for the baselines, whatever the number of submissions);
- private (only after the reveal): each student's final selection, or their best public
  submission if they chose none, ranked by private score, with the shake-up from the public rank
  (one narrow query over the scored rows, one for the shown rows' thumbnails, one for baselines).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db.models import Count, F, Max, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.http import Http404

from basin.courses import access
from basin.courses.models import Homework, Membership
from basin.errors import ApplicationError
from basin.submissions.models import Submission


@dataclass(frozen=True)
class Row:
    rank: int | None  # None for baselines: they are shown, not ranked
    name: str
    effective_public_score: float  # the public score after the late penalty
    entries: int
    last_submission_at: datetime
    submission_id: int
    is_baseline: bool
    late_penalty: float = 0.0
    landscape: list[float | None] | None = None  # train loss along the first 1D direction: the row's thumbnail
    sharpness: float | None = None  # top Hessian eigenvalue
    effective_private_score: float | None = None  # the private part only, after the late penalty
    public_rank: int | None = None  # the private part only: the student's rank on the public part
    shake_up: int | None = None  # public rank − private rank: how many places the reveal moved the row up


# The rows never load the reports: their thumbnail and sharpness are columns of their own.
_HEAVY = ("scores", "trusted_diagnostics", "sandbox_diagnostics", "log_tail", "hidden_log", "message")
PUBLIC = (F("public_score") * (1 - F("late_penalty")))
PRIVATE = (F("private_score") * (1 - F("late_penalty")))
# A student's best public submission first, ties to the earlier one (rows annotated effective=PUBLIC).
BEST_PUBLIC_FIRST = (F("effective").desc(), F("created_at").asc(), F("id").asc())


def scored_for_leaderboard_viewer(submission_id: int, user) -> Submission:
    """A scored submission whose diagnostics page (numbers only, never its file or logs) this
    user may open: its owner and the course's TAs any of theirs; whoever may see the homework's
    leaderboard only a submission shown on it (a student's best, a baseline, and after the reveal
    the final selections), so that stepping through ids tells no one another student's history."""
    submission = (Submission.objects.select_related("homework__course", "user")
                  .filter(pk=submission_id, status=Submission.Status.SCORED).first())
    if submission is None:
        raise Http404("No such scored submission.")
    homework = submission.homework
    viewer = access.viewer_of(homework.course_id, user)
    if viewer.owns(submission) or viewer.is_staff:
        return submission
    if (homework.leaderboard_is_public or viewer.is_member) and not submission.disqualified and (
            submission.is_baseline or submission.pk == best_public_id(homework, submission.user_id)
            or (access.private_part_visible(homework) and submission.selected)):
        return submission
    raise Http404("No such scored submission.")


def best_public_id(homework, user_id: int) -> int | None:
    """The submission a student's public leaderboard row shows (ties to the earlier one)."""
    return (Submission.objects.filter(homework=homework, user_id=user_id, status=Submission.Status.SCORED,
                                      public_score__isnull=False, disqualified=False, is_baseline=False)
            .annotate(effective=PUBLIC).order_by(*BEST_PUBLIC_FIRST).values_list("id", flat=True).first())


def _thumbnail(submission) -> dict:
    return {"landscape": submission.landscape_thumbnail, "sharpness": submission.sharpness}


def _ranked(homework: Homework):
    return Submission.objects.filter(homework=homework, status=Submission.Status.SCORED, public_score__isnull=False,
                                     disqualified=False)


def _name_of(homework: Homework, viewer: access.Viewer):
    """The students' names as this viewer sees them (access.names_visible), as a database expression."""
    if not access.names_visible(homework, viewer):
        return Subquery(Membership.objects.filter(course_id=homework.course_id, user_id=OuterRef("user_id"))
                        .values("pseudonym")[:1])
    return F("user__username")


def _baselines(homework: Homework, revealed: bool) -> list[Row]:
    return [Row(None, f"baseline: {s.note or s.original_name}", s.effective, 1, s.created_at, s.id, True,
                effective_private_score=s.effective_private if revealed else None, **_thumbnail(s))
            for s in _ranked(homework).filter(is_baseline=True).defer(*_HEAVY)
            .annotate(effective=PUBLIC, effective_private=PRIVATE)]


def public_leaderboard(homework: Homework, viewer: access.Viewer = access.NOBODY) -> list[Row]:
    best = (_ranked(homework).filter(is_baseline=False)
            .annotate(effective=PUBLIC, shown_name=_name_of(homework, viewer))
            .annotate(place=Window(RowNumber(), partition_by=[F("user_id")],
                                   order_by=list(BEST_PUBLIC_FIRST)),
                      entries=Window(Count("id"), partition_by=[F("user_id")]),
                      last_at=Window(Max("created_at"), partition_by=[F("user_id")]))
            .filter(place=1).defer(*_HEAVY)
            .order_by(*BEST_PUBLIC_FIRST))
    rows = [Row(rank, s.shown_name, s.effective, s.entries, s.last_at, s.id, False, s.late_penalty, **_thumbnail(s))
            for rank, s in enumerate(best, start=1)]
    # Baselines sit where their score puts them; on a tie the student goes first.
    return sorted(rows + _baselines(homework, False),
                  key=lambda r: (-r.effective_public_score, r.is_baseline, r.rank or 0))


def private_leaderboard(homework: Homework, viewer: access.Viewer = access.NOBODY) -> list[Row]:
    """The final standings, after the reveal; before it, refused (ApplicationError not_revealed),
    whoever asks: the private part of the test split is nobody's to rank until then."""
    if not access.private_part_visible(homework):
        raise ApplicationError("not_revealed", "The private leaderboard is shown after the course staff reveal it, "
                               "once submissions have closed.")
    by_student: dict[int, list[dict]] = {}
    for s in (_ranked(homework).filter(is_baseline=False, private_score__isnull=False)
              .annotate(effective=PUBLIC, effective_private=PRIVATE, shown_name=_name_of(homework, viewer))
              .values("id", "user_id", "shown_name", "effective", "effective_private", "late_penalty", "selected",
                      "created_at")):
        by_student.setdefault(s["user_id"], []).append(s)

    def public_order(s):  # best public first; ties to the earlier
        return (-s["effective"], s["created_at"], s["id"])

    public_rank = {uid: rank for rank, uid in enumerate(
        sorted(by_student, key=lambda uid: public_order(min(by_student[uid], key=public_order))), start=1)}
    finals = []
    for subs in by_student.values():
        chosen = [s for s in subs if s["selected"]] or [min(subs, key=public_order)]
        final = min(chosen, key=lambda s: (-s["effective_private"], s["created_at"], s["id"]))
        finals.append((final, len(subs), max(s["created_at"] for s in subs)))
    finals.sort(key=lambda f: (-f[0]["effective_private"], f[0]["created_at"], f[0]["id"]))
    thumbnails = {s.id: _thumbnail(s) for s in Submission.objects.filter(pk__in=[f[0]["id"] for f in finals])
                  .only("id", "landscape_thumbnail", "sharpness")}
    rows = []
    for rank, (s, entries, last_at) in enumerate(finals, start=1):
        before = public_rank[s["user_id"]]
        rows.append(Row(rank, s["shown_name"], s["effective"], entries, last_at, s["id"], False, s["late_penalty"],
                        effective_private_score=s["effective_private"], public_rank=before, shake_up=before - rank,
                        **thumbnails.get(s["id"], {})))
    baselines = [b for b in _baselines(homework, True) if b.effective_private_score is not None]
    # every row has a private score: the students' rows are of submissions that have one, the baselines filtered
    return sorted(rows + baselines, key=lambda r: (-cast(float, r.effective_private_score), r.is_baseline, r.rank or 0))
