"""The watchdog: expired leases re-queued, lost messages resent, orphaned containers removed."""
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from basin.dispatch import GRADE
from basin.grading import watchdog
from basin.submissions import runs
from basin.submissions.models import Run, Submission
from tests import services as real

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(dispatched):
    """sent(): the scoring runs whose message was sent, in order (tests/conftest.py's dispatched)."""
    return lambda: [pk for task, pk, _ in dispatched if task == GRADE]


@pytest.fixture
def submission(homework, people):
    """make(...) -> the scoring run of a new submission, in that state."""
    def make(status="queued", attempts=0, lease_in=None, age=timedelta(0), enqueued_ago=None) -> Run:
        now = timezone.now()
        s = Submission.objects.create(
            homework=homework, user=people["student"], file=ContentFile(b"x", name="s.zip"), original_name="s.zip",
            kind="bundle", size=1, sha256="0" * 64, status=status)
        Submission.objects.filter(pk=s.pk).update(created_at=now - age)
        return Run.objects.create(submission=s, kind=runs.SCORE, state=status, attempt=attempts, created_at=now - age,
                                  lease_expires_at=None if lease_in is None else now + lease_in,
                                  enqueued_at=None if enqueued_ago is None else now - enqueued_ago)
    return make


# leases judged on the database clock; release is a conditional UPDATE
@pytest.mark.database_sensitive
def test_a_running_submission_whose_lease_expired_is_queued_again(submission, sent):
    lost = submission("running", attempts=1, lease_in=-timedelta(seconds=1))
    busy = submission("running", attempts=1, lease_in=timedelta(minutes=5))
    assert watchdog.run_watchdog().requeued == 1
    lost.refresh_from_db(), busy.refresh_from_db()
    assert (lost.state, lost.submission.status, busy.state) == ("queued", "queued", "running") and sent() == [lost.pk]
    assert "try 1: its lease expired: its worker was lost; again in 10 s" in lost.log


# leases judged on the database clock; giving up is a conditional UPDATE
@pytest.mark.database_sensitive
def test_a_lost_submission_out_of_attempts_fails_without_counting_against_the_student(submission, sent, settings):
    settings.BASIN_MAX_ATTEMPTS = 2
    lost = submission("running", attempts=2, lease_in=-timedelta(seconds=1))
    watchdog.run_watchdog()
    lost.refresh_from_db()
    assert (lost.submission.status, lost.submission.verdict) == ("failed", "infrastructure_error") and sent() == []
    assert (lost.state, lost.outcome) == ("failed", "infrastructure_error")


# the backoff stamped on the database clock, compared with this process's
@pytest.mark.database_sensitive
def test_a_run_released_for_a_retry_is_not_resent_before_its_backoff_ends(submission, sent, settings):
    settings.BASIN_RESEND_AFTER_SECONDS = 10
    lost = submission("running", attempts=1, lease_in=-timedelta(seconds=1), age=timedelta(hours=1))
    assert watchdog.run_watchdog().requeued == 1 and sent() == [lost.pk]
    lost.refresh_from_db()
    assert lost.enqueued_at > timezone.now() + timedelta(seconds=5)  # due after its 10 s backoff
    assert watchdog.run_watchdog().resent == 0 and sent() == [lost.pk]


# release is a conditional UPDATE fenced by the attempt
@pytest.mark.database_sensitive
def test_a_restarted_worker_gives_back_the_runs_its_previous_process_held_at_once(submission, sent):
    """No wait for the lease: a worker that starts holds nothing, so what runs under its name was lost."""
    mine = submission("running", attempts=1, lease_in=timedelta(minutes=5))
    theirs = submission("running", attempts=1, lease_in=timedelta(minutes=5))
    Run.objects.filter(pk=mine.pk).update(worker="celery@gpu-1")
    Run.objects.filter(pk=theirs.pk).update(worker="celery@gpu-2")
    assert runs.release_held_by("celery@gpu-1") == 1
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert (mine.state, theirs.state) == ("queued", "running") and sent() == [mine.pk]
    assert "its worker celery@gpu-1 restarted" in mine.log


# stale messages judged on the database clock
@pytest.mark.database_sensitive
def test_a_queued_submission_whose_message_was_lost_is_sent_again(submission, sent, settings):
    settings.BASIN_RESEND_AFTER_SECONDS = 600
    lost = submission(age=timedelta(hours=1), enqueued_ago=timedelta(hours=1))
    never_sent = submission(age=timedelta(hours=1))
    fresh = submission(age=timedelta(seconds=5), enqueued_ago=timedelta(seconds=5))
    waiting_but_recently_sent = submission(age=timedelta(hours=1), enqueued_ago=timedelta(minutes=2))
    assert watchdog.run_watchdog().resent == 2
    assert sorted(sent()) == sorted([lost.pk, never_sent.pk])
    assert fresh.pk not in sent() and waiting_but_recently_sent.pk not in sent()


def test_containers_of_attempts_that_are_no_longer_running_are_removed(submission, sent, settings):
    real.require("docker")
    import docker

    running = submission("running", attempts=1, lease_in=timedelta(minutes=5))
    requeued = submission("queued", attempts=1)
    client = docker.from_env()
    def container(instance, run, **labels):
        labels = {"basin.sandbox": "1", "basin.instance": instance, "basin.submission": str(run.submission_id),
                  "basin.run": str(run.pk), "basin.attempt": "1", **labels}
        return client.containers.run("basin-sandbox:cpu", entrypoint=["sleep", "120"], detach=True,
                                     network_mode="none", labels={k: v for k, v in labels.items() if v is not None})

    mine = settings.BASIN_INSTANCE
    made = {"live": container(mine, running), "orphan": container(mine, requeued),
            "another basin's": container("some-other-basin", requeued),
            "an older release's": container(mine, running, **{"basin.run": None}),  # a submission's label, no run's
            "a TA's own": container(mine, running, **{"basin.submission": None, "basin.run": None})}  # no worker's
    try:
        assert watchdog.run_watchdog().containers_removed == 2
        left = {name for name, c in made.items() if client.containers.list(all=True, filters={"id": c.id})}
        assert left == {"live", "another basin's", "a TA's own"}
    finally:
        for leftover in made.values():
            try:
                leftover.remove(force=True)
            except docker.errors.NotFound:
                pass
        client.close()


# skipped on SQLite: PostgreSQL's clock only
@pytest.mark.database_sensitive
def test_leases_follow_the_database_clock_not_a_skewed_worker_clock(monkeypatch, submission, sent):
    """A worker whose clock runs an hour fast claims a submission; the watchdog (on a machine
    with the right time) must neither see the lease as an hour long nor re-queue it early."""
    from django.db import connection

    from basin.clock import database_now

    if connection.vendor != "postgresql":
        pytest.skip("SQLite is never shared by several machines (its clock is the machine's); this runs in the "
                    "PostgreSQL re-run of this folder (test_on_postgres.py)")
    queued = submission()
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=1))
    claimed = runs.claim(queued.pk, runs.SCORE, "celery@fast-clock")
    monkeypatch.setattr(timezone, "now", real_now)
    lease = Run.objects.get(pk=claimed.run.pk).lease_expires_at - database_now()
    from django.conf import settings

    assert abs(lease.total_seconds() - settings.BASIN_LEASE_SECONDS) < 30
    assert watchdog.run_watchdog().requeued == 0
