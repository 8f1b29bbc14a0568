"""The grading worker's side of a scoring run: claim it, evaluate the submission in the sandbox,
store the verdict once (the run's state changes are basin.submissions.runs's), and queue its
diagnostics run when it scored."""
from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import transaction

from basin import leases
from basin.logs import about_submission
from basin.submissions import runs
from basin.submissions.models import Submission
from basin_grader.evaluate import Evaluation, evaluate
from basin_grader.sandbox import RunIdentity, SandboxLimits, get_backend
from basin_grader.verdicts import SCORED, InfrastructureError

log = logging.getLogger(__name__)
T = TypeVar("T")


def worker_name(hostname: str | None = None) -> str:
    """The Celery worker's name (what the queue page shows: the running task's, or `hostname`),
    or the host's outside a worker, with the GPU it owns where it owns one."""
    from celery import current_task

    request = getattr(current_task, "request", None)
    name = str(hostname or getattr(request, "hostname", None) or socket.gethostname())
    return (f"{name} gpu {settings.BASIN_GPU}" if settings.BASIN_GPU else name)[:255]


def wants_diagnostics(submission: Submission) -> bool:
    """Whether a scored submission gets a diagnostics run: this worker's setting and its homework's."""
    return settings.BASIN_DIAGNOSTICS != "off" and submission.homework.diagnostics_enabled


def record(claim: runs.Claim, evaluation: Evaluation) -> bool:
    """Store a verdict for this attempt; False when the attempt is no longer current. A scored
    submission's diagnostics run is queued with it (basin.grading.diagnostics)."""
    scores = evaluation.scores
    scored = evaluation.verdict == SCORED
    diagnose = scored and wants_diagnostics(claim.submission)
    with transaction.atomic():
        runs.lock_live(claim.submission.pk)  # its runs before its submission: the order cancel and rescore take
        stored = runs.finish(
            claim, outcome=evaluation.verdict, status=Submission.Status.SCORED if scored else Submission.Status.FAILED,
            run_fields={"backend": evaluation.backend, "timings": evaluation.timings},
            submission_fields={
                "verdict": evaluation.verdict, "message": evaluation.message, "log_tail": evaluation.log_tail,
                "hidden_log": evaluation.hidden_log, "scores": scores, "trusted_diagnostics": evaluation.diagnostics,
                "public_score": scores.get("public", {}).get("accuracy"),
                "private_score": scores.get("private", {}).get("accuracy"),
                "diagnostics_status": Submission.DiagnosticsStatus.NONE, "sandbox_diagnostics": {},
                "landscape_thumbnail": None, "sharpness": None})
        if stored and diagnose:
            runs.cancel_live(claim.submission.pk, "superseded by a new score", kind=runs.DIAGNOSE)
            runs.open_run(claim.submission.pk, runs.DIAGNOSE)
    return stored


def _local_copy(submission: Submission, folder: Path) -> Path:
    """The stored file as a local path (storage may be remote); the name keeps its suffix."""
    assert submission.file.name is not None  # a submission is stored with its file
    target = folder / f"upload{Path(submission.file.name).suffix}"
    try:
        with submission.file.open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except OSError:
        raise
    except Exception as e:  # object storage down or refusing (botocore's errors are not OSErrors): retried
        raise InfrastructureError(f"the stored file could not be read: {type(e).__name__}: {e}") from e
    return target


def limits_for(homework) -> SandboxLimits:
    """The homework's limits, the wall clock ending inside the lease (basin.leases)."""
    return SandboxLimits(wall_seconds=leases.clamp(homework.time_limit_s), memory_mb=homework.memory_limit_mb)


def run_identity(claim: runs.Claim) -> RunIdentity:
    """The sandbox container's name and labels: the sweep (basin.grading.watchdog) removes a
    container whose run and attempt are no longer current."""
    instance, run = settings.BASIN_INSTANCE, claim.run
    return RunIdentity(name=f"basin-{instance}-{run.kind}-{run.pk}-a{claim.attempt}",
                       labels={"basin.instance": instance, "basin.submission": str(run.submission_id),
                               "basin.run": str(run.pk), "basin.attempt": str(claim.attempt)})


def take(run_id: int, kind: str, work: Callable[[runs.Claim], None]) -> None:
    """Claim a queued run of this kind for this worker and do its work, the lines it logs tagged
    with its submission; nothing when another worker took it or it is over."""
    claim = runs.claim(run_id, kind, worker_name())
    if claim is None:
        log.info("%s run %s is not queued (taken or over); nothing to do", kind, run_id)
        return
    with about_submission(claim.run.submission_id):
        work(claim)


def sandbox_try(claim: runs.Claim, attempt: Callable[[Path], T]) -> T | None:
    """One try's sandbox work, in a folder of its own: None when an infrastructure failure released
    the run for a retry; anything else releases it too, then goes on up. ignore_cleanup_errors:
    what a sandbox left in /out must never keep a result from being stored."""
    work_root = Path(settings.BASIN_WORK_DIR)
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{claim.run.kind}-{claim.run.pk}-a{claim.attempt}-", dir=work_root,
                                     ignore_cleanup_errors=True) as tmp:
        try:
            return attempt(Path(tmp))
        except (InfrastructureError, OSError) as e:
            runs.release(claim, f"{type(e).__name__}: {e}")
            return None
        except BaseException as e:  # a bug or a time limit: retry rather than leave it running
            # Only the type in the run's log (which every TA reads): the traceback is in the worker's log.
            runs.release(claim, f"unexpected {type(e).__name__}")
            raise


def grade(run_id: int) -> None:
    take(run_id, runs.SCORE, _grade)


def _grade(claim: runs.Claim) -> None:
    submission, homework = claim.submission, claim.submission.homework
    evaluation = sandbox_try(claim, lambda tmp: evaluate(
        _local_copy(submission, tmp), homework.dataset.path, tmp / "attempt", sandbox_backend(),
        limits_for(homework), run_identity(claim), diagnostics=settings.BASIN_DIAGNOSTICS))
    if evaluation is not None and not record(claim, evaluation):
        log.warning("scoring run %s, try %s, finished after losing its claim; result dropped",
                    claim.run.pk, claim.attempt)


def sandbox_backend():
    backend = get_backend(settings.BASIN_SANDBOX_BACKEND, image=settings.BASIN_SANDBOX_IMAGE, gpu=settings.BASIN_GPU)
    if settings.PRODUCTION and backend.name != "docker":  # never fall back to the weak sandbox silently
        raise InfrastructureError("no Docker engine answers, and production grades only in Docker")
    return backend
