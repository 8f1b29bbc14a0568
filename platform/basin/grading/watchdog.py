"""The watchdog (Celery beat, every BASIN_WATCHDOG_SECONDS): a submission whose file is stored
always reaches a terminal state, whatever happens to workers, containers or messages.

- A running run (scoring or diagnostics) whose lease expired lost its worker: queue it again (or
  fail it, without blaming the student, once its tries are spent).
- A queued run whose last message is old lost that message: send another one.
- A sandbox container of this Basin (label basin.instance) whose run attempt is no longer current is
  an orphan: remove it. The watchdog sweeps the engine it can reach; every grading worker also
  sweeps its own host's engine when it starts and before each run (basin.grading.tasks), so a
  grading machine of its own is swept without a beat of its own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from basin.clock import database_now
from basin.submissions import runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchdogReport:
    requeued: int
    resent: int
    containers_removed: int


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
            if _attempt_of(container.labels) is False:
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    continue  # its worker, or another sweep, removed it first
                removed += 1
    finally:
        client.close()
    return removed


def _attempt_of(labels: dict) -> bool | None:
    """Whether the run attempt a container belongs to is still current; None for a container no
    worker started (e.g. a TA's `python -m basin_grader evaluate`). A container of a worker of an
    older release (a submission's label, no run's) is over: its claim ended with the migration."""
    if "basin.submission" not in labels:
        return None
    try:
        return runs.is_current(int(labels["basin.run"]), int(labels["basin.attempt"]))
    except (KeyError, ValueError):
        return False


def run_watchdog(now=None) -> WatchdogReport:
    now = now or database_now()
    report = WatchdogReport(runs.release_expired(now), runs.resend_stale(now), remove_orphaned_containers())
    if report.requeued or report.resent or report.containers_removed:
        log.warning("watchdog: %s", report)
    return report
