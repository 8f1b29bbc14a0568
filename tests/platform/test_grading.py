"""The worker's side: claimed once, scored through the sandbox (the canned process sandbox of
tests/platform/conftest.py), stored once, retried when the grader itself fails."""
import pytest
from django.core.files.base import ContentFile

from basin.dispatch import GRADE
from basin.grading import services
from basin.submissions.models import Submission
from basin_grader.evaluate import Evaluation
from tests import factories

# Re-run on PostgreSQL (tests/platform/test_on_postgres.py): claims are conditional UPDATEs.
pytestmark = [pytest.mark.django_db, pytest.mark.database_sensitive]


@pytest.fixture
def queued(homework, people):
    def make(data: bytes | None = None) -> Submission:
        return Submission.objects.create(
            homework=homework, user=people["student"], file=ContentFile(data or factories.bundle(), name="s.zip"),
            original_name="s.zip", kind="bundle", size=1, sha256="0" * 64, status=Submission.Status.QUEUED)
    return make


def test_only_one_claim_wins(queued):
    submission = queued()
    first, second = services.claim(submission.pk), services.claim(submission.pk)
    assert first is not None and first.attempt == 1 and second is None
    submission.refresh_from_db()
    assert submission.status == "running" and submission.lease_expires_at is not None


# The canned process sandbox (tests/platform/conftest.py): Docker through a real worker is
# tests/e2e/test_submission_flow.py's, the sandbox itself tests/grader's.
def test_a_queued_submission_is_scored_through_the_sandbox(queued, settings):
    sandbox = "process"
    submission = queued()
    services.grade_submission(submission.pk)
    submission.refresh_from_db()
    assert submission.status == "scored", (submission.message, submission.log_tail)
    assert submission.backend == sandbox and submission.attempts == 1
    assert submission.public_score == submission.scores["public"]["accuracy"]
    assert submission.private_score == submission.scores["private"]["accuracy"]
    assert submission.diagnostics["profile"] == settings.BASIN_DIAGNOSTICS == "cpu"
    assert submission.diagnostics["public"]["calibration"]["ece"] >= 0.0
    assert 0.0 <= submission.public_score <= 1.0 and submission.finished_at and submission.lease_expires_at is None


def test_a_students_failure_is_stored_with_its_verdict(queued):
    submission = queued(factories.bundle(model_source=factories.RAISES_IN_BUILD))
    services.grade_submission(submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.verdict) == ("failed", "runtime_error")
    assert "my model is broken" in submission.message


def test_a_result_from_an_attempt_that_lost_its_lease_changes_nothing(queued):
    submission = queued()
    stale = services.claim(submission.pk)
    Submission.objects.filter(pk=submission.pk).update(status="queued")  # the watchdog re-queued it
    current = services.claim(submission.pk)
    assert services.record(stale, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.99}})) is False
    assert services.record(current, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.5}})) is True
    assert services.record(current, Evaluation("scored", "Scored.", scores={"public": {"accuracy": 0.7}})) is False
    submission.refresh_from_db()
    assert submission.public_score == 0.5 and submission.attempts == 2


def test_infrastructure_errors_are_retried_then_failed_without_blaming_the_student(queued, settings, dispatched):
    settings.BASIN_SANDBOX_BACKEND = "docker"
    settings.BASIN_SANDBOX_IMAGE = "basin-sandbox:does-not-exist"  # no engine, or no such image: the grader's fault
    settings.BASIN_MAX_ATTEMPTS = 2
    submission = queued()
    services.grade_submission(submission.pk)
    submission.refresh_from_db()
    assert submission.status == "queued" and submission.attempts == 1 and dispatched == [(GRADE, submission.pk, 10)]
    services.grade_submission(submission.pk)
    submission.refresh_from_db()
    assert (submission.status, submission.verdict, submission.attempts) == ("failed", "infrastructure_error", 2)
    assert "does not count against your quota" in submission.message


def test_production_never_falls_back_to_the_process_sandbox(settings):
    from basin_grader.verdicts import InfrastructureError

    settings.PRODUCTION = True
    settings.BASIN_SANDBOX_BACKEND = "process"
    with pytest.raises(InfrastructureError, match="production grades only in Docker"):
        services.sandbox_backend()
