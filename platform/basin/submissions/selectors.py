"""Reads for submissions, with object-level visibility: your own, or any in a course you TA."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.http import Http404
from django.utils import timezone

from basin.courses import access
from basin.courses.models import Homework

from .models import Submission

# Submissions that count against a quota: everything but the grader's own failures and cancels.
NOT_COUNTED_VERDICTS = ("infrastructure_error",)


@dataclass(frozen=True)
class Quota:
    """Where a student stands against a homework's quotas at `now`."""
    daily_quota: int
    daily_used: int
    resets_at: datetime | None  # when the oldest counted submission of the last 24 hours stops counting
    total_quota: int | None
    total_used: int

    @property
    def daily_left(self) -> int:
        return max(0, self.daily_quota - self.daily_used)

    @property
    def total_left(self) -> int | None:
        return None if self.total_quota is None else max(0, self.total_quota - self.total_used)

    @property
    def left(self) -> int:
        return self.daily_left if self.total_left is None else min(self.daily_left, self.total_left)


def counted(homework: Homework, user):
    """A student's submissions that count against the quotas: the grader's own failures and
    cancelled submissions never do."""
    return (Submission.objects.filter(homework=homework, user=user, is_baseline=False)
            .exclude(status=Submission.Status.CANCELLED).exclude(verdict__in=NOT_COUNTED_VERDICTS))


def quota_of(homework: Homework, user, now: datetime | None = None) -> Quota:
    now = now or timezone.now()
    mine = counted(homework, user)
    day = sorted(mine.filter(created_at__gt=now - timedelta(days=1)).values_list("created_at", flat=True))
    return Quota(daily_quota=homework.daily_quota, daily_used=len(day),
                 # With the quota used (or exceeded, after a TA lowered it), one frees up when the
                 # submission that many places back ages out of the 24 hours.
                 resets_at=day[max(0, len(day) - homework.daily_quota)] + timedelta(days=1) if day else None,
                 total_quota=homework.total_quota, total_used=mine.count())


def submission_for(submission_id: int, user) -> Submission:
    submission = (Submission.objects.select_related("homework__course", "user").prefetch_related("runs")
                  .filter(pk=submission_id).first())
    if submission is None or not user.is_authenticated:
        raise Http404("No such submission.")
    if submission.user_id != user.id and not access.is_course_staff(user, submission.homework.course_id):
        raise Http404("No such submission.")
    return submission


def submissions_of(user, homework) -> list[Submission]:
    return list(Submission.objects.filter(homework=homework, user=user).select_related("homework__course")
                .prefetch_related("runs").order_by("-created_at"))


# What of a submission's stored scores and trusted diagnostics anyone may see, by key: an
# allow-list, so a part added later stays hidden until it is put here. "all" is the whole test
# split: with the public part it gives the private part away, so it waits for the reveal too.
_BEFORE_REVEAL = {"scores": ("public", "shift"), "trusted_diagnostics": ("profile", "error", "public", "shift")}
_AFTER_REVEAL = {"scores": ("private", "all"), "trusted_diagnostics": ("private",)}

# Before the reveal, a student reads of the hidden splits only these summary numbers, rounded
# (decimals; None: as stored). Every number computed from the model's logits on hidden images is
# a channel the model writes into: a reliability bin's mean confidence at full precision, a
# histogram's counts, a confusion matrix each carry many bytes of hidden images out per
# submission, free of any cost to its score. These few carry a few dozen bits. The detail
# (reliability diagram, margins, confusion, per class, per paper × pen) waits for the reveal;
# the course's TAs read everything.
_SUMMARY = {"scores": {"public": {"accuracy": 4, "macro_f1": 2, "nll": 2, "count": None},
                       "shift": {"accuracy": 4, "macro_f1": 2, "nll": 2, "count": None}},
            "trusted_diagnostics": {"profile": None, "error": None,
                            "public": {"calibration": {"ece": 2, "nll": 2, "brier": 2}},
                            "shift": {"accuracy": 4, "drop_from_public": {"gap": 4, "ci95": 4},
                                      "calibration": {"ece": 2, "nll": 2, "brier": 2}}}}
DETAIL_AFTER_REVEAL = "detail_after_reveal"  # marks a summary: the page says when the rest comes


def _summary(value, shape):
    """`value` cut down to `shape` (nested dicts of allowed keys; leaves are decimals or None)."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return None
        return {key: _summary(value[key], inner) for key, inner in shape.items() if key in value}
    if isinstance(value, list):
        return [_summary(item, shape) for item in value]
    if shape is not None and isinstance(value, float):
        return round(value, shape)
    return value


def _visible(stored: dict, kind: str, homework, viewer: access.Viewer) -> dict:
    keys = _BEFORE_REVEAL[kind] + (_AFTER_REVEAL[kind] if access.private_part_visible(homework) else ())
    shown = {key: value for key, value in (stored or {}).items() if key in keys}
    if access.hidden_split_detail_visible(homework, viewer):
        return shown
    summary = _summary(shown, _SUMMARY[kind])
    return {**summary, DETAIL_AFTER_REVEAL: True} if summary else summary


def visible_diagnostics(submission: Submission, viewer: access.Viewer) -> dict:
    """Every diagnostic of a submission its viewer may see now (basin.courses.access): the trusted
    ones (the private part's only after the reveal; before it, for students, only a summary);
    under "model", the sandbox's run on public-label subsets (no hidden labels, no hidden images:
    shown in full, but which of the worker's checks it failed only to the course staff)."""
    diagnostics = _visible(submission.trusted_diagnostics, "trusted_diagnostics", submission.homework, viewer)
    if submission.sandbox_diagnostics:
        model = submission.sandbox_diagnostics
        if not access.report_checks_visible(viewer) and isinstance(model.get("trust"), dict):
            model = {**model, "trust": {"trusted": model["trust"].get("trusted") is True}}
        diagnostics["model"] = model
    return diagnostics


def visible_scores(submission: Submission, viewer: access.Viewer) -> dict:
    """The scores of the public part and the shift split (before the reveal, for students, a
    summary); the private part's, and the whole split's, only after the reveal."""
    return _visible(submission.scores, "scores", submission.homework, viewer)


def visible_private_score(submission: Submission) -> float | None:
    return submission.private_score if access.private_part_visible(submission.homework) else None
