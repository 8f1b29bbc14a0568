"""The grading worker's side of a submission: claim it once, evaluate it in the sandbox, store
the verdict once. Exactly-once comes from conditional UPDATEs, not from the broker:

    claim   queued  → running   (attempt + 1, lease until T)   only one worker wins
    record  running → scored | failed, for *this* attempt      a late duplicate changes nothing
    retry   running → queued    on an infrastructure error, with backoff, until the attempts run out
"""
from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from basin import leases
from basin.clock import database_now
from basin.submissions.models import Submission
from basin.submissions.services import enqueue_diagnostics, enqueue_grading
from basin_grader.evaluate import Evaluation, evaluate
from basin_grader.sandbox import RunIdentity, SandboxLimits, get_backend
from basin_grader.verdicts import INFRASTRUCTURE_ERROR, SCORED, InfrastructureError

log = logging.getLogger(__name__)
RETRY_BACKOFF_S = (10, 60, 300)


@dataclass(frozen=True)
class Claim:
    submission: Submission
    attempt: int


def worker_name() -> str:
    """The Celery worker's name (what the queue page shows), or the host's outside a worker, with
    the GPU it owns where it owns one."""
    from celery import current_task

    request = getattr(current_task, "request", None)
    name = str(getattr(request, "hostname", None) or socket.gethostname())
    return (f"{name} gpu {settings.BASIN_GPU}" if settings.BASIN_GPU else name)[:255]


def claim(submission_id: int) -> Claim | None:
    now = database_now()
    won = Submission.objects.filter(pk=submission_id, status=Submission.Status.QUEUED).update(
        status=Submission.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, worker=worker_name(),
        lease_expires_at=now + leases.lease())
    if not won:
        return None
    submission = Submission.objects.select_related("homework__dataset").get(pk=submission_id)
    return Claim(submission, submission.attempts)


def _running(claim: Claim):
    return Submission.objects.filter(pk=claim.submission.pk, status=Submission.Status.RUNNING, attempts=claim.attempt)


def wants_diagnostics(submission: Submission) -> bool:
    """Whether a scored submission gets a diagnostics run: this worker's setting and its homework's."""
    return settings.BASIN_DIAGNOSTICS != "off" and submission.homework.diagnostics_enabled


def record(claim: Claim, evaluation: Evaluation) -> bool:
    """Store a verdict for this attempt; False when the attempt is no longer current. A scored
    submission's diagnostics run is queued with it (basin.grading.diagnostics)."""
    scores = evaluation.scores
    diagnose = evaluation.verdict == SCORED and wants_diagnostics(claim.submission)
    stored = bool(_running(claim).update(
        status=Submission.Status.SCORED if evaluation.verdict == SCORED else Submission.Status.FAILED,
        diagnostics_status=Submission.DiagnosticsStatus.QUEUED if diagnose else Submission.DiagnosticsStatus.NONE,
        model_diagnostics={}, landscape_thumbnail=None, sharpness=None,
        verdict=evaluation.verdict, message=evaluation.message, log_tail=evaluation.log_tail,
        hidden_log=evaluation.hidden_log,
        scores=scores, diagnostics=evaluation.diagnostics, timings=evaluation.timings, backend=evaluation.backend,
        public_score=scores.get("public", {}).get("accuracy"), private_score=scores.get("private", {}).get("accuracy"),
        finished_at=timezone.now(), lease_expires_at=None))
    if stored and diagnose:
        enqueue_diagnostics(claim.submission.pk)
    return stored


def release_for_retry(claim: Claim, reason: str) -> None:
    """An infrastructure failure: queue again with backoff, or fail once the attempts are spent."""
    # Attempt numbers only grow (a stale worker's attempt must never match a new one); a rescore
    # grants a fresh set of tries from where they stood.
    tries = claim.attempt - claim.submission.attempts_before_rescore
    if tries >= settings.BASIN_MAX_ATTEMPTS:
        _running(claim).update(status=Submission.Status.FAILED, verdict=INFRASTRUCTURE_ERROR,
                               message="The grader failed on this submission several times; the course staff "
                                       "have been told. It does not count against your quota.",
                               finished_at=timezone.now(), lease_expires_at=None)
        log.error("submission %s failed for good after %s attempts: %s", claim.submission.pk, claim.attempt, reason)
        return
    if _running(claim).update(status=Submission.Status.QUEUED, lease_expires_at=None):
        delay = RETRY_BACKOFF_S[min(tries, len(RETRY_BACKOFF_S)) - 1]
        log.warning("submission %s attempt %s: infrastructure error, retry in %ss: %s",
                    claim.submission.pk, claim.attempt, delay, reason)
        enqueue_grading(claim.submission.pk, countdown=delay)


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


def run_identity(submission_id: int, attempt: int) -> RunIdentity:
    instance = settings.BASIN_INSTANCE
    return RunIdentity(name=f"basin-{instance}-sub-{submission_id}-a{attempt}",
                       labels={"basin.instance": instance, "basin.submission": str(submission_id),
                               "basin.attempt": str(attempt)})


def grade_submission(submission_id: int) -> None:
    claimed = claim(submission_id)
    if claimed is None:
        log.info("submission %s is not queued (taken or finished); nothing to do", submission_id)
        return
    submission = claimed.submission
    work_root = Path(settings.BASIN_WORK_DIR)
    work_root.mkdir(parents=True, exist_ok=True)
    identity = run_identity(submission.pk, claimed.attempt)
    # ignore_cleanup_errors: what a sandbox left in /out must never keep a verdict from being stored.
    with tempfile.TemporaryDirectory(prefix=f"sub-{submission.pk}-", dir=work_root, ignore_cleanup_errors=True) as tmp:
        try:
            backend = sandbox_backend()
            upload = _local_copy(submission, Path(tmp))
            evaluation = evaluate(upload, submission.homework.dataset.path, Path(tmp) / "attempt", backend,
                                  limits_for(submission.homework), identity, diagnostics=settings.BASIN_DIAGNOSTICS)
        except (InfrastructureError, OSError) as e:
            release_for_retry(claimed, f"{type(e).__name__}: {e}")
            return
        except BaseException as e:  # a bug or a time limit: retry rather than leave it running
            release_for_retry(claimed, f"unexpected {type(e).__name__}: {e}")
            raise
        if not record(claimed, evaluation):
            log.warning("submission %s attempt %s finished after losing its lease; result dropped",
                        submission.pk, claimed.attempt)


def sandbox_backend():
    backend = get_backend(settings.BASIN_SANDBOX_BACKEND, image=settings.BASIN_SANDBOX_IMAGE, gpu=settings.BASIN_GPU)
    if settings.PRODUCTION and backend.name != "docker":  # never fall back to the weak sandbox silently
        raise InfrastructureError("no Docker engine answers, and production grades only in Docker")
    return backend
