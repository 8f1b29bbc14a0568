"""The one seam between Basin and its Celery queues: the queues by name, the tasks by name, and
`send`. Nothing else sends a task or imports one to send it, so the web never loads the worker's
code, and a task's queue is written here, at the send, not inferred from the prefix of its name.

Queues, in the order a grading worker takes them (settings.BASIN_WORKER_QUEUES; -Q keeps the
order, and Redis's "priority" strategy honours it): a score never waits behind a diagnostics run
still queued, only behind one already running.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

SCORING = "scoring"  # a submission's scoring run: short, taken first
UPKEEP = "basin"  # the watchdog (Celery beat); Celery's default queue
DIAGNOSTICS = "diagnostics"  # a scored submission's diagnostics run: long, taken last
WORKER_QUEUES = (SCORING, UPKEEP, DIAGNOSTICS)

# Task names (basin.grading.tasks registers the tasks under them): stable, since messages that
# are queued while a new release rolls out carry them. A task's argument is a run's id
# (basin.submissions.models.Run); the names changed when it stopped being a submission's, so a
# message of the older release is refused as unknown, never read as a run's (the watchdog sends
# the run's message again).
GRADE = "basin.runs.score"
DIAGNOSE = "basin.runs.diagnose"
WATCHDOG = "basin.watchdog"
QUEUE_OF = {GRADE: SCORING, DIAGNOSE: DIAGNOSTICS, WATCHDOG: UPKEEP}


def send(task: str, run_id: int, countdown: float = 0) -> bool:
    """Send `task` for a run to its queue; False when the broker refused it (logged: the run
    stays queued, and the watchdog sends the message again)."""
    from basin.celery import app

    try:
        app.send_task(task, args=(run_id,), queue=QUEUE_OF[task], countdown=countdown)
    except Exception:
        log.exception("could not send %s for run %s; the watchdog will", task, run_id)
        return False
    return True
