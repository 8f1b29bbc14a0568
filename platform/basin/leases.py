"""How long a sandbox run may hold its claim, and the one rule that follows from it: a run must
end inside its lease, with a margin for copying, starting the container and storing the result.
A time limit past that would turn a student's slow model into a lost lease: a retried worker
failure instead of a time-limit verdict. Homework limits are refused past it and clamped to it.

Celery's own time limits sit between the two (settings: soft 3 s, hard 1 s before the lease ends),
so the margin's minimum (10 s; 5 s outside production) leaves the task time to store its verdict."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings

LIMIT_HELP = "(BASIN_LEASE_SECONDS minus BASIN_LEASE_MARGIN_SECONDS)"


def lease() -> timedelta:
    return timedelta(seconds=settings.BASIN_LEASE_SECONDS)


def longest_run_s() -> int:
    """The longest a sandbox run may take on this deployment, in seconds."""
    return settings.BASIN_LEASE_SECONDS - settings.BASIN_LEASE_MARGIN_SECONDS


def clamp(seconds: float) -> float:
    """A time limit, shortened to end inside the lease (an admin edit, or a worker with a shorter lease)."""
    return min(seconds, longest_run_s())
