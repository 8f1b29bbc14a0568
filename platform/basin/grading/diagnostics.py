"""The diagnostics run of a scored submission: a second, lower-priority sandbox run (queue
"diagnostics", after "scoring" and the watchdog's) that fills in Submission.model_diagnostics.

Scores first: a deadline rush never waits behind loss landscapes, and a diagnostics run that
fails or runs out of time never touches the score. The same exactly-once rules as scoring, on
the diagnostics_* columns:

    claim   queued  → running   (attempt + 1, lease until T)   only one worker wins
    record  running → complete | partial, for *this* attempt
    retry   running → queued    on an infrastructure error, until the attempts run out (→ failed)
"""
from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import F, Q

from basin import leases
from basin.clock import database_now
from basin.submissions.models import Submission
from basin.submissions.services import enqueue_diagnostics
from basin_grader.budgets import BudgetError, resolve_budget
from basin_grader.diagnostics_trust import storable, trusted
from basin_grader.evaluate import diagnose_in_sandbox
from basin_grader.sandbox import RunIdentity
from basin_grader.sandbox_diagnostics import add_test_gaps
from basin_grader.verdicts import InfrastructureError

from .services import RETRY_BACKOFF_S, _local_copy, limits_for, sandbox_backend

log = logging.getLogger(__name__)
DiagnosticsStatus = Submission.DiagnosticsStatus


def _claim(submission_id: int) -> Submission | None:
    now = database_now()
    won = Submission.objects.filter(pk=submission_id, status=Submission.Status.SCORED,
                                    diagnostics_status=DiagnosticsStatus.QUEUED).update(
        diagnostics_status=DiagnosticsStatus.RUNNING, diagnostics_attempts=F("diagnostics_attempts") + 1,
        diagnostics_lease_expires_at=now + leases.lease())
    if not won:
        return None
    return Submission.objects.select_related("homework__dataset").get(pk=submission_id)


def _running(submission: Submission):
    return Submission.objects.filter(pk=submission.pk, diagnostics_status=DiagnosticsStatus.RUNNING,
                                     diagnostics_attempts=submission.diagnostics_attempts)


def leaderboard_fields(report: dict) -> dict:
    """The report's numbers a leaderboard row shows: none from a report that failed a check."""
    if not trusted(report):
        return {"landscape_thumbnail": None, "sharpness": None}
    try:
        line = report["landscape"]["lines"][0]["train"]["loss"]
    except (KeyError, IndexError, TypeError):
        line = None
    sharpness = (report.get("sharpness") or {}).get("top_eigenvalue")
    return {"landscape_thumbnail": line if isinstance(line, list) else None,
            "sharpness": float(sharpness) if isinstance(sharpness, int | float) and math.isfinite(sharpness) else None}


def _record(submission: Submission, report: dict) -> bool:
    report = storable(report)  # every number finite: jsonb refuses NaN and infinity
    status = DiagnosticsStatus.COMPLETE if report.get("status") == "complete" else DiagnosticsStatus.PARTIAL
    return bool(_running(submission).update(model_diagnostics=report, diagnostics_status=status,
                                            diagnostics_lease_expires_at=None, **leaderboard_fields(report)))


def release_diagnostics_for_retry(submission: Submission, reason: str) -> None:
    if submission.diagnostics_attempts >= settings.BASIN_MAX_ATTEMPTS:
        _running(submission).update(
            diagnostics_status=DiagnosticsStatus.FAILED, diagnostics_lease_expires_at=None,
            model_diagnostics={"status": "failed", "errors": {"grader": "The diagnostics could not be computed; "
                                                              "the score is not affected."}})
        log.error("diagnostics of submission %s failed for good: %s", submission.pk, reason)
        return
    if _running(submission).update(diagnostics_status=DiagnosticsStatus.QUEUED, diagnostics_lease_expires_at=None):
        delay = RETRY_BACKOFF_S[min(submission.diagnostics_attempts, len(RETRY_BACKOFF_S)) - 1]
        log.warning("diagnostics of submission %s attempt %s: retry in %ss: %s",
                    submission.pk, submission.diagnostics_attempts, delay, reason)
        enqueue_diagnostics(submission.pk, countdown=delay)


def run_identity(submission_id: int, attempt: int) -> RunIdentity:
    instance = settings.BASIN_INSTANCE
    return RunIdentity(name=f"basin-{instance}-diag-{submission_id}-a{attempt}",
                       labels={"basin.instance": instance, "basin.submission": str(submission_id),
                               "basin.diagnostics": str(attempt)})


def run_diagnostics(submission_id: int) -> None:
    submission = _claim(submission_id)
    if submission is None:
        log.info("diagnostics of submission %s are not queued; nothing to do", submission_id)
        return
    homework = submission.homework
    try:
        budget = resolve_budget(settings.BASIN_DIAGNOSTICS, homework.diagnostics_budget)
    except BudgetError as e:  # an override the admin form would have refused; tell the staff, keep the score
        _record(submission, {"status": "partial", "errors": {"budget": f"the homework's diagnostics budget: {e}"}})
        return
    budget = replace(budget, time_limit_s=int(leases.clamp(budget.time_limit_s)))
    work_root = Path(settings.BASIN_WORK_DIR)
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"diag-{submission.pk}-", dir=work_root, ignore_cleanup_errors=True) as tmp:
        try:
            upload = _local_copy(submission, Path(tmp))
            report = diagnose_in_sandbox(upload, homework.dataset.path, Path(tmp) / "attempt", sandbox_backend(),
                                         budget, limits_for(homework),
                                         run_identity(submission.pk, submission.diagnostics_attempts))
        except (InfrastructureError, OSError) as e:
            release_diagnostics_for_retry(submission, f"{type(e).__name__}: {e}")
            return
        except BaseException as e:
            release_diagnostics_for_retry(submission, f"unexpected {type(e).__name__}: {e}")
            raise
    report["profile"] = settings.BASIN_DIAGNOSTICS
    if not _record(submission, add_test_gaps(report, submission.scores)):
        log.warning("diagnostics of submission %s finished after losing their lease; dropped", submission.pk)


def requeue_expired(now) -> int:
    """Watchdog: a diagnostics run whose lease expired lost its worker."""
    expired = Submission.objects.filter(diagnostics_status=DiagnosticsStatus.RUNNING,
                                        diagnostics_lease_expires_at__lt=now)
    count = 0
    for submission in expired.only("id", "diagnostics_attempts"):
        release_diagnostics_for_retry(submission, "the lease expired: its worker was lost")
        count += 1
    return count


def resend_stale(now) -> int:
    """Watchdog: a queued diagnostics run whose message is old lost that message."""
    stale = now - timedelta(seconds=settings.BASIN_RESEND_AFTER_SECONDS)
    ids = list(Submission.objects.filter(diagnostics_status=DiagnosticsStatus.QUEUED, finished_at__lt=stale)
               .filter(Q(diagnostics_enqueued_at__isnull=True) | Q(diagnostics_enqueued_at__lt=stale))
               .values_list("id", flat=True))
    for submission_id in ids:
        enqueue_diagnostics(submission_id)
    return len(ids)
