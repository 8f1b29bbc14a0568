"""The diagnostics run of a scored submission: a second, lower-priority sandbox run (queue
"diagnostics", after "scoring" and the watchdog's) that fills in Submission.sandbox_diagnostics.

Scores first: a deadline rush never waits behind loss landscapes, and a diagnostics run that
fails or runs out of time never touches the score. Claims, retries and fencing are the same as
scoring's, for every kind of run (basin.submissions.runs).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

from django.conf import settings

from basin import leases
from basin.submissions import runs
from basin.submissions.models import Submission
from basin_grader.budgets import BudgetError, resolve_budget
from basin_grader.diagnostics_trust import storable, trusted
from basin_grader.evaluate import diagnose_in_sandbox
from basin_grader.sandbox_diagnostics import add_test_gaps

from .services import _local_copy, limits_for, run_identity, sandbox_backend, sandbox_try, take

log = logging.getLogger(__name__)
DiagnosticsStatus = Submission.DiagnosticsStatus


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


def _record(claim: runs.Claim, report: dict, timings: dict | None = None) -> bool:
    report = storable(report)  # every number finite: jsonb refuses NaN and infinity
    status = DiagnosticsStatus.COMPLETE if report.get("status") == "complete" else DiagnosticsStatus.PARTIAL
    return runs.finish(claim, outcome=status, status=status, run_fields={"timings": timings or {}},
                       submission_fields={"sandbox_diagnostics": report, **leaderboard_fields(report)})


def diagnose(run_id: int) -> None:
    take(run_id, runs.DIAGNOSE, _diagnose)


def _diagnose(claim: runs.Claim) -> None:
    submission, homework = claim.submission, claim.submission.homework
    try:
        budget = resolve_budget(settings.BASIN_DIAGNOSTICS, homework.diagnostics_budget)
    except BudgetError as e:  # an override the admin form would have refused; tell the staff, keep the score
        _record(claim, {"status": "partial", "errors": {"budget": f"the homework's diagnostics budget: {e}"}})
        return
    budget = replace(budget, time_limit_s=int(leases.clamp(budget.time_limit_s)))
    started = time.monotonic()
    report = sandbox_try(claim, lambda tmp: diagnose_in_sandbox(
        _local_copy(submission, tmp), homework.dataset.path, tmp / "attempt", sandbox_backend(), budget,
        limits_for(homework), run_identity(claim)))
    if report is None:
        return
    report["profile"] = settings.BASIN_DIAGNOSTICS
    timings = {"sandbox_s": round(time.monotonic() - started, 3)}  # the worker's own clock, not the report's
    if not _record(claim, add_test_gaps(report, submission.scores), timings):
        log.warning("diagnostics run %s, try %s, finished after losing its claim; dropped", claim.run.pk,
                    claim.attempt)
