"""Tests drive a submission's runs as a worker's task would: by the id of its live run of a kind."""
from __future__ import annotations

from basin.submissions.models import Run, Submission


def live(submission: Submission, kind: str = Run.Kind.SCORE) -> Run:
    """Its queued or running run of this kind (there is at most one: the database's constraint)."""
    return Run.objects.get(submission=submission, kind=kind, state__in=Run.LIVE_STATES)


def latest(submission: Submission, kind: str = Run.Kind.SCORE) -> Run:
    return Run.objects.filter(submission=submission, kind=kind).latest("pk")


def grade(submission: Submission) -> None:
    """What the scoring task runs, on the submission's queued scoring run."""
    from basin.grading import services

    services.grade(live(submission).pk)


def diagnose(submission: Submission) -> None:
    """What the diagnostics task runs, on the submission's queued diagnostics run."""
    from basin.grading import diagnostics

    diagnostics.diagnose(live(submission, Run.Kind.DIAGNOSE).pk)
