"""The worker's side: claimed once, scored through the sandbox (the canned process sandbox of
tests/platform/conftest.py), stored once, retried when the grader itself fails."""
import pytest
from django.core.files.base import ContentFile

from basin.dispatch import GRADE
from basin.grading import services
from basin.submissions import runs
from basin.submissions.models import Run, Submission
from basin_grader.evaluate import Evaluation
from tests import factories
from tests.runs import latest, live

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(homework, people):
    def make(data: bytes | None = None) -> Submission:
        submission = Submission.objects.create(
            homework=homework, user=people["student"], file=ContentFile(data or factories.bundle(), name="s.zip"),
            original_name="s.zip", kind="bundle", size=1, sha256="0" * 64)
        runs.open_run(submission.pk, runs.SCORE)
        return submission
    return make


# a claim is a conditional UPDATE
@pytest.mark.database_sensitive
def test_only_one_claim_wins(queued):
    submission = queued()
    run = live(submission)
    first, second = runs.claim(run.pk, runs.SCORE, "w1"), runs.claim(run.pk, runs.SCORE, "w2")
    assert first is not None and first.attempt == 1 and second is None
    submission.refresh_from_db()
    run.refresh_from_db()
    assert submission.status == "running" and run.lease_expires_at is not None and run.worker == "w1"


# a claim is a conditional UPDATE
@pytest.mark.database_sensitive
def test_a_run_of_one_kind_is_never_claimed_as_the_other(queued):
    run = live(queued())
    assert runs.claim(run.pk, runs.DIAGNOSE, "w1") is None
    run.refresh_from_db()
    assert run.state == "queued" and run.attempt == 0


# a partial unique index; PostgreSQL aborts the transaction on its IntegrityError, SQLite does not
@pytest.mark.database_sensitive
def test_a_submission_has_at_most_one_live_run_of_each_kind(queued):
    from django.db import IntegrityError, transaction

    submission = queued()
    with pytest.raises(IntegrityError), transaction.atomic():
        runs.open_run(submission.pk, runs.SCORE)
    runs.open_run(submission.pk, runs.DIAGNOSE)  # the other kind may be live beside it
    assert Run.objects.filter(submission=submission).count() == 2


# The canned process sandbox (tests/platform/conftest.py): Docker through a real worker is
# tests/e2e/test_submission_flow.py's, the sandbox itself tests/grader's.
# claim, lock_live (select_for_update) and finish, the scores in jsonb, the diagnostics run opened
@pytest.mark.database_sensitive
def test_a_queued_submission_is_scored_through_the_sandbox(queued, settings):
    sandbox = "process"
    submission = queued()
    services.grade(live(submission).pk)
    submission.refresh_from_db()
    run = latest(submission)
    assert submission.status == "scored", (submission.message, submission.log_tail)
    assert run.backend == sandbox and run.attempt == 1 and (run.state, run.outcome) == ("finished", "scored")
    assert submission.public_score == submission.scores["public"]["accuracy"]
    assert submission.private_score == submission.scores["private"]["accuracy"]
    assert submission.trusted_diagnostics["profile"] == settings.BASIN_DIAGNOSTICS == "cpu"
    assert submission.trusted_diagnostics["public"]["calibration"]["ece"] >= 0.0
    assert 0.0 <= submission.public_score <= 1.0 and run.finished_at and run.lease_expires_at is None
    assert run.timings["sandbox_s"] > 0 and submission.diagnostics_status == "queued"  # its diagnostics run is next
    assert live(submission, runs.DIAGNOSE).attempt == 0


def test_a_students_failure_is_stored_with_its_verdict(queued):
    submission = queued(factories.bundle(model_source=factories.RAISES_IN_BUILD))
    services.grade(live(submission).pk)
    submission.refresh_from_db()
    assert (submission.status, submission.verdict) == ("failed", "runtime_error")
    assert "my model is broken" in submission.message


# fencing: finish is a conditional UPDATE on the attempt; the log's lines stamped on the database clock
@pytest.mark.database_sensitive
def test_a_result_from_an_attempt_that_lost_its_lease_changes_nothing(queued):
    submission = queued()
    run = live(submission)
    stale = runs.claim(run.pk, runs.SCORE, "lost")
    runs.release(stale, "its lease expired")  # what the watchdog does
    current = runs.claim(run.pk, runs.SCORE, "w2")
    assert services.record(stale, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.99}})) is False
    assert services.record(current, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.5}})) is True
    assert services.record(current, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.7}})) is False
    submission.refresh_from_db()
    run.refresh_from_db()
    assert submission.public_score == 0.5 and run.attempt == 2 and run.state == "finished"
    assert "try 1: its lease expired; again in 10 s" in run.log and "try 2 on w2" in run.log


# release and give up: conditional UPDATEs, the backoff stamped on the database clock
@pytest.mark.database_sensitive
def test_infrastructure_errors_are_retried_then_failed_without_blaming_the_student(queued, settings, dispatched):
    settings.BASIN_SANDBOX_BACKEND = "docker"
    settings.BASIN_SANDBOX_IMAGE = "basin-sandbox:does-not-exist"  # no engine, or no such image: the grader's fault
    settings.BASIN_MAX_ATTEMPTS = 2
    submission = queued()
    run = live(submission)
    services.grade(run.pk)
    submission.refresh_from_db()
    run.refresh_from_db()
    assert submission.status == "queued" and run.attempt == 1 and dispatched == [(GRADE, run.pk, 10)]
    services.grade(run.pk)
    submission.refresh_from_db()
    run.refresh_from_db()
    assert (submission.status, submission.verdict) == ("failed", "infrastructure_error")
    assert (run.state, run.outcome, run.attempt) == ("failed", "infrastructure_error", 2)
    assert "does not count against your quota" in submission.message


def test_production_never_falls_back_to_the_process_sandbox(settings):
    from basin_grader.verdicts import InfrastructureError

    settings.PRODUCTION = True
    settings.BASIN_SANDBOX_BACKEND = "process"
    with pytest.raises(InfrastructureError, match="production grades only in Docker"):
        services.sandbox_backend()
