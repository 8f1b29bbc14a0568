"""Every change of a run's state, for both kinds of run (a submission's scoring and its
diagnostics), on the database's clock (basin.clock). Exactly-once comes from conditional
UPDATEs on the run row, not from the broker:

    open      a new run, queued              its message is sent once the transaction commits
    claim     queued  → running              attempt + 1 (the fencing token), lease until T
    finish    running → finished             for *this* attempt only: a late duplicate changes nothing
    release   running → queued               an infrastructure error or a lost lease, with backoff,
              running → failed               or for good once its tries are spent
    cancel    queued | running → cancelled   the submission was cancelled or is rescored

The submission's `status` (scoring) and `diagnostics_status` are its student's view of its
latest run of each kind: they are written here, in the same transaction as the run, and
nowhere else. What a finished run stored (scores, report) is the grading worker's to say
(basin.grading.services, basin.grading.diagnostics); `finish` stores it with the run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat

from basin import dispatch, leases
from basin.clock import database_now
from basin_grader.verdicts import INFRASTRUCTURE_ERROR

from .models import Run, Submission

log = logging.getLogger(__name__)

SCORE, DIAGNOSE = Run.Kind.SCORE, Run.Kind.DIAGNOSE
State = Run.State
TASK_OF: dict[str, str] = {SCORE: dispatch.GRADE, DIAGNOSE: dispatch.DIAGNOSE}
RETRY_BACKOFF_S = (10, 60, 300)  # after the 1st, 2nd, 3rd… failed try

# The submission's column that shows its latest run of each kind.
_STATUS_FIELD: dict[str, str] = {SCORE: "status", DIAGNOSE: "diagnostics_status"}
# What a submission shows once the grader failed on its run every try: never the student's fault.
_GIVEN_UP: dict[str, dict[str, Any]] = {
    SCORE: {"verdict": INFRASTRUCTURE_ERROR,
            "message": "The grader failed on this submission several times; the course staff have been told. "
                       "It does not count against your quota."},
    DIAGNOSE: {"sandbox_diagnostics": {"status": "failed", "errors": {
        "grader": "The diagnostics could not be computed; the score is not affected."}}},
}


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a run: `attempt` is the fencing token every later write must match."""
    run: Run
    attempt: int

    @property
    def submission(self) -> Submission:
        return self.run.submission


def _mirror(submission_id: int, kind: str, status: str, **fields) -> None:
    Submission.objects.filter(pk=submission_id).update(**{_STATUS_FIELD[kind]: status}, **fields)


def _note(line: str):
    """An expression that appends a line to a run's log, stamped with the database's clock."""
    return Concat(F("log"), Value(f"{database_now():%Y-%m-%d %H:%M:%S} {line}\n"))


def open_run(submission_id: int, kind: str) -> Run:
    """Queue a new run of this kind (in the caller's transaction: its message is sent once that
    commits). A submission has at most one live run of each kind (the database's constraint)."""
    with transaction.atomic():
        run = Run.objects.create(submission_id=submission_id, kind=kind, created_at=database_now())
        _mirror(submission_id, kind, State.QUEUED)
        # robust: a broker or stamp that fails must not turn a committed upload into an error
        transaction.on_commit(lambda: send(run.pk, kind), robust=True)
    return run


def send(run_id: int, kind: str, countdown: float = 0) -> None:
    """Send a run's task (basin.dispatch) and stamp when it is due. A broker that is down loses
    nothing: the run stays queued, unstamped, and the watchdog sends it later."""
    if dispatch.send(TASK_OF[kind], run_id, countdown):
        Run.objects.filter(pk=run_id).update(enqueued_at=database_now() + timedelta(seconds=countdown))


def claim(run_id: int, kind: str, worker: str) -> Claim | None:
    """Take a queued run for this worker; None if another worker took it, or it is over."""
    now = database_now()
    with transaction.atomic():
        won = Run.objects.filter(pk=run_id, kind=kind, state=State.QUEUED).update(
            state=State.RUNNING, attempt=F("attempt") + 1, started_at=now, worker=worker[:255],
            lease_expires_at=now + leases.lease())
        if not won:
            return None
        run = Run.objects.select_related("submission__homework__dataset").get(pk=run_id)
        Run.objects.filter(pk=run_id).update(log=_note(f"try {run.attempt} on {run.worker}"))
        _mirror(run.submission_id, kind, State.RUNNING)
    return Claim(run, run.attempt)


def _current(claim: Claim):
    return Run.objects.filter(pk=claim.run.pk, state=State.RUNNING, attempt=claim.attempt)


def finish(claim: Claim, *, outcome: str, status: str, run_fields: dict | None = None,
           submission_fields: dict | None = None) -> bool:
    """Store a run's result, for this attempt only: False (and nothing written) when the claim is
    no longer current (its lease ended and another try began, or the run was cancelled).
    `status` is what the submission shows of this kind of run from now on."""
    with transaction.atomic():
        done = _current(claim).update(state=State.FINISHED, outcome=outcome, finished_at=database_now(),
                                      lease_expires_at=None, **(run_fields or {}))
        if done:
            _mirror(claim.run.submission_id, claim.run.kind, status, **(submission_fields or {}))
    return bool(done)


def release(claim: Claim, reason: str) -> None:
    """An infrastructure failure (or a lost worker): queue the run again after a backoff, or fail
    it for good once its tries are spent. The student is never blamed for either."""
    run, kind = claim.run, claim.run.kind
    if claim.attempt >= settings.BASIN_MAX_ATTEMPTS:
        with transaction.atomic():
            failed = _current(claim).update(state=State.FAILED, outcome=INFRASTRUCTURE_ERROR,
                                            finished_at=database_now(), lease_expires_at=None,
                                            log=_note(f"try {claim.attempt}: {reason}; given up"))
            if failed:
                _mirror(run.submission_id, kind, State.FAILED, **_GIVEN_UP[kind])
        if failed:
            log.error("%s run %s of submission %s failed for good after %s tries: %s",
                      kind, run.pk, run.submission_id, claim.attempt, reason)
        return
    delay = RETRY_BACKOFF_S[min(claim.attempt, len(RETRY_BACKOFF_S)) - 1]
    with transaction.atomic():
        # Stamped as sent when it is due: the watchdog does not resend it before its backoff ends.
        released = _current(claim).update(state=State.QUEUED, lease_expires_at=None,
                                          enqueued_at=database_now() + timedelta(seconds=delay),
                                          log=_note(f"try {claim.attempt}: {reason}; again in {delay} s"))
        if released:
            _mirror(run.submission_id, kind, State.QUEUED)
    if released:
        log.warning("%s run %s of submission %s, try %s: infrastructure error, again in %ss: %s",
                    kind, run.pk, run.submission_id, claim.attempt, delay, reason)
        send(run.pk, kind, countdown=delay)


def lock_live(submission_id: int) -> list[Run]:
    """Lock the submission's live runs, in the order every change here takes them (a run, then its
    submission): a service that changes a submission and its runs together calls this first, so
    it never waits on a worker that waits on it."""
    return list(Run.objects.select_for_update().filter(submission_id=submission_id, state__in=Run.LIVE_STATES))


def cancel_live(submission_id: int, reason: str, kind: str | None = None) -> int:
    """End the submission's live runs (of one kind, or all): a worker still running one stores
    nothing (its claim is no longer current, and its container is an orphan for the sweep). A
    diagnostics run ended so leaves the submission without diagnostics."""
    live = Run.objects.filter(submission_id=submission_id, state__in=Run.LIVE_STATES)
    if kind is not None:
        live = live.filter(kind=kind)
    with transaction.atomic():
        kinds = set(live.values_list("kind", flat=True))
        ended = live.update(state=State.CANCELLED, lease_expires_at=None, finished_at=database_now(), log=_note(reason))
        if DIAGNOSE in kinds:
            Submission.objects.filter(pk=submission_id).update(diagnostics_status=Submission.DiagnosticsStatus.NONE)
    return ended


def is_current(run_id: int, attempt: int) -> bool:
    """Whether a worker holding this attempt of this run still holds it (the container sweep asks)."""
    return Run.objects.filter(pk=run_id, state=State.RUNNING, attempt=attempt).exists()


def release_held_by(worker: str) -> int:
    """A worker that starts holds no run: one still running under its name was lost with its
    previous process (killed, or its machine restarted). Queue it again now, not when its lease
    ends. Celery requires each worker's name to be unique, so no other process holds these."""
    count = 0
    for run in Run.objects.filter(state=State.RUNNING, worker=worker[:255]).only(
            "id", "kind", "submission_id", "attempt"):
        release(Claim(run, run.attempt), f"its worker {worker} restarted")
        count += 1
    return count


def release_expired(now: datetime) -> int:
    """Watchdog: a running run whose lease expired lost its worker."""
    count = 0
    for run in Run.objects.filter(state=State.RUNNING, lease_expires_at__lt=now).only(
            "id", "kind", "submission_id", "attempt"):
        release(Claim(run, run.attempt), "its lease expired: its worker was lost")
        count += 1
    return count


def resend_stale(now: datetime) -> int:
    """Watchdog: a queued run whose last message is old (or was never sent) lost that message."""
    stale = now - timedelta(seconds=settings.BASIN_RESEND_AFTER_SECONDS)
    due = (Run.objects.filter(state=State.QUEUED, created_at__lt=stale)
           .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)).values_list("id", "kind"))
    rows = list(due)
    for run_id, kind in rows:
        send(run_id, kind)
    return len(rows)
