"""The public leaderboard: each student's best public score, ranked; baselines shown in place.

Two queries whatever the number of submissions: students' best rows via window functions, and
the baselines. Ties go to the earlier submission.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Max, Window
from django.db.models.fields.json import KT
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
    landscape: list[float | None] | None = None  # train loss along the first 1D direction: the row's thumbnail
    sharpness: float | None = None  # top Hessian eigenvalue


# Read out of the diagnostics JSON by the database: the rows never load the whole report.
_THUMBNAIL = {"landscape_json": KT("model_diagnostics__landscape__lines__0__train__loss"),
              "sharpness_text": KT("model_diagnostics__sharpness__top_eigenvalue")}
_HEAVY = ("scores", "diagnostics", "model_diagnostics", "log_tail", "message")


def _thumbnail(submission) -> dict:
    try:
        line = json.loads(submission.landscape_json) if submission.landscape_json else None
    except ValueError:
        line = None
    try:
        sharpness = float(submission.sharpness_text) if submission.sharpness_text not in (None, "", "null") else None
    except ValueError:
        sharpness = None
    return {"landscape": line if isinstance(line, list) else None, "sharpness": sharpness}


def public_leaderboard(homework: Homework) -> list[Row]:
    scored = Submission.objects.filter(homework=homework, status=Submission.Status.SCORED, public_score__isnull=False)
    best = (scored.filter(is_baseline=False)
            .annotate(place=Window(RowNumber(), partition_by=[F("user_id")],
                                   order_by=[F("public_score").desc(), F("created_at").asc(), F("id").asc()]),
                      entries=Window(Count("id"), partition_by=[F("user_id")]),
                      last_at=Window(Max("created_at"), partition_by=[F("user_id")]))
            .filter(place=1).select_related("user").defer(*_HEAVY).annotate(**_THUMBNAIL)
            .order_by("-public_score", "created_at", "id"))
    rows = [Row(rank, s.user.get_username(), s.public_score, s.entries, s.last_at, s.id, False, **_thumbnail(s))
            for rank, s in enumerate(best, start=1)]
    baselines = [Row(None, f"baseline: {s.note or s.original_name}", s.public_score, 1, s.created_at, s.id, True,
                     **_thumbnail(s))
                 for s in scored.filter(is_baseline=True).defer(*_HEAVY).annotate(**_THUMBNAIL)]
    # Baselines sit where their score puts them; on a tie the student goes first.
    return sorted(rows + baselines, key=lambda r: (-r.public_score, r.is_baseline, r.rank or 0))
