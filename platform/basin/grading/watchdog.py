"""The watchdog (Celery beat, every BASIN_WATCHDOG_SECONDS): a submission whose file is stored
always reaches a terminal state, whatever happens to workers, containers or messages.

- A running submission whose lease expired lost its worker: queue it again (or fail it, without
  blaming the student, once its attempts are spent).
- A queued submission whose last message is old lost that message: send another one.
- The same two rules for diagnostics runs (basin.grading.diagnostics).
- A sandbox container of this Basin (label basin.instance) whose attempt is no longer running is
  an orphan: remove it. The watchdog sweeps the engine it can reach; every grading worker also
  sweeps its own host's engine when it starts and before each run (basin.grading.tasks), so a
  grading machine of its own is swept without a beat of its own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from basin.clock import database_now
from basin.submissions.models import Submission
from basin.submissions.services import enqueue_grading

from .services import Claim, release_for_retry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchdogReport:
    requeued: int
    resent: int
    containers_removed: int


def requeue_expired_leases(now) -> int:
    expired = Submission.objects.filter(status=Submission.Status.RUNNING, lease_expires_at__lt=now)
    count = 0
    for submission in expired.only("id", "attempts"):
        release_for_retry(Claim(submission, submission.attempts), "the lease expired: its worker was lost")
        count += 1
    return count


def resend_stale_messages(now) -> int:
    stale = now - timedelta(seconds=settings.BASIN_RESEND_AFTER_SECONDS)
    ids = list(Submission.objects.filter(status=Submission.Status.QUEUED, created_at__lt=stale)
               .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)).values_list("id", flat=True))
    for submission_id in ids:
        enqueue_grading(submission_id)
    return len(ids)


def remove_orphaned_containers() -> int:
    from basin_grader.sandbox.docker_backend import docker_available

    if not docker_available():
        return 0
    import docker

    client = docker.from_env(timeout=30)
    removed = 0
    try:
        mine = {"label": ["basin.sandbox=1", f"basin.instance={settings.BASIN_INSTANCE}"]}
        for container in client.containers.list(all=True, filters=mine):
            alive = _attempt_of(container.labels)
            if alive is not None and not alive.exists():
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    continue  # its worker, or another sweep, removed it first
                removed += 1
    finally:
        client.close()
    return removed


def _attempt_of(labels: dict):
    """The running attempt a container belongs to (a queryset, empty once that attempt is over);
    None for a container no worker started (e.g. a TA's `python -m basin_grader evaluate`)."""
    try:
        submission_id = int(labels["basin.submission"])
        if "basin.diagnostics" in labels:
            return Submission.objects.filter(pk=submission_id, diagnostics_status=Submission.DiagnosticsStatus.RUNNING,
                                             diagnostics_attempts=int(labels["basin.diagnostics"]))
        return Submission.objects.filter(pk=submission_id, status=Submission.Status.RUNNING,
                                         attempts=int(labels["basin.attempt"]))
    except (KeyError, ValueError):
        return None


def run_watchdog(now=None) -> WatchdogReport:
    now = now or database_now()
    from . import diagnostics

    report = WatchdogReport(requeue_expired_leases(now) + diagnostics.requeue_expired(now),
                            resend_stale_messages(now) + diagnostics.resend_stale(now), remove_orphaned_containers())
    if report.requeued or report.resent or report.containers_removed:
        log.warning("watchdog: %s", report)
    return report
