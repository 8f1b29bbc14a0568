"""Celery tasks of the grading worker: thin, they take an id and call a service."""
from celery import shared_task

from . import services


@shared_task(name="basin.grading.grade_submission", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def grade_submission(submission_id: int) -> None:
    services.grade_submission(submission_id)


# Routed to the "diagnostics" queue, which workers consume after "scoring" and "basin" (see settings).
@shared_task(name="basin.diagnostics.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_diagnostics(submission_id: int) -> None:
    from . import diagnostics

    diagnostics.run_diagnostics(submission_id)


# Named outside basin.grading.* so it is routed to the general queue, not behind the scoring jobs.
@shared_task(name="basin.watchdog", ignore_result=True)
def watchdog() -> None:
    from .watchdog import run_watchdog

    run_watchdog()
