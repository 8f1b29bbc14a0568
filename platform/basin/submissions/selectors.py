"""Reads for submissions, with object-level visibility: your own, or any in a course you TA."""
from __future__ import annotations

from django.http import Http404

from basin.courses.models import Course, Membership
from basin.courses.selectors import role_in

from .models import Submission


def hidden_log_readable(submission: Submission, viewer_is_staff: bool) -> bool:
    """What a submission printed on the hidden test images: never its student's to read (it could
    carry hidden images out); the course's TAs' where the course lets them, the default."""
    return viewer_is_staff and submission.homework.course.hidden_log_readers == Course.HiddenLogReaders.TAS


def submission_for(submission_id: int, user) -> Submission:
    submission = Submission.objects.select_related("homework__course", "user").filter(pk=submission_id).first()
    if submission is None or not user.is_authenticated:
        raise Http404("No such submission.")
    if submission.user_id != user.id and not Membership.objects.filter(
            course_id=submission.homework.course_id, user=user, role=Membership.Role.TA).exists():
        raise Http404("No such submission.")
    return submission


def submissions_of(user, homework) -> list[Submission]:
    return list(Submission.objects.filter(homework=homework, user=user).select_related("homework__course")
                .order_by("-created_at"))


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
    role = role_in(homework.course_id, user)
    if submission.user_id == getattr(user, "pk", None) or role == Membership.Role.TA:
        return submission
    if (homework.leaderboard_is_public or role) and not submission.disqualified and (
            submission.is_baseline or submission.pk == best_public_id(homework, submission.user_id)
            or (homework.private_is_revealed and submission.selected)):
        return submission
    raise Http404("No such scored submission.")


def best_public_id(homework, user_id: int) -> int | None:
    """The submission a student's public leaderboard row shows (ties to the earlier one)."""
    from basin.leaderboard.selectors import BEST_PUBLIC_FIRST, PUBLIC

    return (Submission.objects.filter(homework=homework, user_id=user_id, status=Submission.Status.SCORED,
                                      public_score__isnull=False, disqualified=False, is_baseline=False)
            .annotate(effective=PUBLIC).order_by(*BEST_PUBLIC_FIRST).values_list("id", flat=True).first())


# What of a submission's stored scores and trusted diagnostics anyone may see, by key: an
# allow-list, so a part added later stays hidden until it is put here. "all" is the whole test
# split: with the public part it gives the private part away, so it waits for the reveal too.
_BEFORE_REVEAL = {"scores": ("public", "shift"), "diagnostics": ("profile", "error", "public", "shift")}
_AFTER_REVEAL = {"scores": ("private", "all"), "diagnostics": ("private",)}

# Before the reveal, a student reads of the hidden splits only these summary numbers, rounded
# (decimals; None: as stored). Every number computed from the model's logits on hidden images is
# a channel the model writes into: a reliability bin's mean confidence at full precision, a
# histogram's counts, a confusion matrix each carry many bytes of hidden images out per
# submission, free of any cost to its score. These few carry a few dozen bits. The detail
# (reliability diagram, margins, confusion, per class, per paper × pen) waits for the reveal;
# the course's TAs read everything.
_SUMMARY = {"scores": {"public": {"accuracy": 4, "macro_f1": 2, "nll": 2, "count": None},
                       "shift": {"accuracy": 4, "macro_f1": 2, "nll": 2, "count": None}},
            "diagnostics": {"profile": None, "error": None,
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


def _visible(stored: dict, kind: str, revealed: bool, full: bool) -> dict:
    keys = _BEFORE_REVEAL[kind] + (_AFTER_REVEAL[kind] if revealed else ())
    shown = {key: value for key, value in (stored or {}).items() if key in keys}
    if revealed or full:
        return shown
    summary = _summary(shown, _SUMMARY[kind])
    return {**summary, DETAIL_AFTER_REVEAL: True} if summary else summary


def visible_diagnostics(submission: Submission, full: bool = False) -> dict:
    """Every diagnostic of a submission its viewer may see now: the trusted ones (the private
    part's only after the reveal, for everyone; before it, only a summary unless `full`, which is
    for the course's TAs); under "model", the sandbox's run on public-label subsets (no hidden
    labels, no hidden images: shown in full)."""
    diagnostics = _visible(submission.diagnostics, "diagnostics", submission.homework.private_is_revealed, full)
    if submission.model_diagnostics:
        model = submission.model_diagnostics
        if not full and isinstance(model.get("trust"), dict):  # which checks a report failed: the TAs' only
            model = {**model, "trust": {"trusted": model["trust"].get("trusted") is True}}
        diagnostics["model"] = model
    return diagnostics


def visible_scores(submission: Submission, full: bool = False) -> dict:
    """The scores of the public part and the shift split (before the reveal, a summary unless
    `full`, which is for the course's TAs); the private part's, and the whole split's, only after
    the reveal."""
    return _visible(submission.scores, "scores", submission.homework.private_is_revealed, full)
