"""The public leaderboard: each student's best public score, ranked; baselines shown in place.

Two queries whatever the number of submissions: students' best rows via window functions, and
the baselines. Ties go to the earlier submission.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Window
from django.db.models.functions import RowNumber

from basin.courses.models import Homework
from basin.submissions.models import Submission


@dataclass(frozen=True)
class Row:
    rank: int | None  # None for baselines: they are shown, not ranked
    name: str
    public_score: float
    entries: int
    last_submission_at: datetime
    submission_id: int
    is_baseline: bool


def public_leaderboard(homework: Homework) -> list[Row]:
    scored = Submission.objects.filter(homework=homework, status=Submission.Status.SCORED, public_score__isnull=False)
    best = (scored.filter(is_baseline=False)
            .annotate(place=Window(RowNumber(), partition_by=[F("user_id")],
                                   order_by=[F("public_score").desc(), F("created_at").asc(), F("id").asc()]),
                      entries=Window(Count("id"), partition_by=[F("user_id")]),
                      last_at=Window(Max("created_at"), partition_by=[F("user_id")]))
            .filter(place=1).select_related("user").order_by("-public_score", "created_at", "id"))
    rows = [Row(rank, s.user.get_username(), s.public_score, s.entries, s.last_at, s.id, False)
            for rank, s in enumerate(best, start=1)]
    baselines = [Row(None, f"baseline: {s.note or s.original_name}", s.public_score, 1, s.created_at, s.id, True)
                 for s in scored.filter(is_baseline=True)]
    # Baselines sit where their score puts them; on a tie the student goes first.
    return sorted(rows + baselines, key=lambda r: (-r.public_score, r.is_baseline, r.rank or 0))
