"""The queue page, read from the runs: depth and oldest waiting, running per worker with its
oldest run and lease, failures by verdict over 24 hours, the same for diagnostics runs; for course staff (their
courses) and superusers; a constant number of queries."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection
from django.shortcuts import resolve_url
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from basin.courses.models import Course, DatasetVersion, Homework
from basin.grading.queue import Tally, queue_state
from basin.submissions.models import Run, Submission

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def homeworks(course):
    dataset = DatasetVersion.objects.create(slug="stub", directory="stub", seed=0, manifest={})

    def make(course, slug):
        return Homework.objects.create(course=course, slug=slug, title=slug, dataset=dataset,
                                       opens_at=NOW - timedelta(days=3), deadline=NOW + timedelta(days=7))
    return {"hw1": make(course, "hw1"), "cv1": make(Course.objects.get(slug="cv201"), "cv1")}


SCORING_STATE = {"queued": "queued", "running": "running", "scored": "finished", "failed": "finished",
                 "cancelled": "cancelled"}
DIAGNOSTICS_STATE = {"queued": "queued", "running": "running", "complete": "finished", "partial": "finished",
                     "failed": "failed"}


@pytest.fixture
def make(homeworks, people):
    """A submission in a state, with the runs that state stands for: its scoring run (queued at
    `created_ago`), and its diagnostics run (queued when the scoring finished) if it has one."""
    def submission(status, hw="hw1", created_ago=timedelta(0), verdict="", worker="", started_at=None,
                   lease_expires_at=None, finished_at=None, diagnostics_status="", diagnostics_lease_expires_at=None):
        s = Submission.objects.create(homework=homeworks[hw], user=people["student"], status=status,
                                      file=ContentFile(b"x", name="s.zip"), original_name="s.zip", kind="bundle",
                                      size=1, sha256="0" * 64, verdict=verdict, diagnostics_status=diagnostics_status)
        Submission.objects.filter(pk=s.pk).update(created_at=NOW - created_ago)
        state = SCORING_STATE[status]
        Run.objects.create(submission=s, kind="score", state=state, created_at=NOW - created_ago, worker=worker,
                           outcome=(verdict or status) if state == "finished" else "", started_at=started_at,
                           lease_expires_at=lease_expires_at, finished_at=finished_at, attempt=int(bool(started_at)))
        if diagnostics_status:
            state = DIAGNOSTICS_STATE[diagnostics_status]
            outcome = {"finished": diagnostics_status, "failed": "infrastructure_error"}.get(state, "")
            Run.objects.create(submission=s, kind="diagnose", state=state, created_at=finished_at, outcome=outcome,
                               lease_expires_at=diagnostics_lease_expires_at,
                               finished_at=finished_at if outcome else None)
        return s
    return submission


def ago(**kw):
    return NOW - timedelta(**kw)


def later(**kw):
    return NOW + timedelta(**kw)


@pytest.fixture
def seeded(make):
    """dl101's hw1 in a known state, and cv201's cv1 with a little of everything, to be left out."""
    make("queued", created_ago=timedelta(minutes=10))
    make("queued", created_ago=timedelta(minutes=30))
    make("queued", created_ago=timedelta(minutes=5))
    make("running", worker="celery@gpu-1", started_at=ago(minutes=20), lease_expires_at=later(minutes=10))
    make("running", worker="celery@gpu-1", started_at=ago(minutes=5), lease_expires_at=later(minutes=25))
    make("running", worker="celery@gpu-2", started_at=ago(minutes=40), lease_expires_at=ago(minutes=10))
    for verdict in ("runtime_error", "runtime_error", "time_limit"):
        make("failed", verdict=verdict, finished_at=ago(hours=2))
    make("failed", verdict="memory_limit", finished_at=ago(days=2))  # outside the 24 hours
    make("cancelled", finished_at=ago(hours=1))  # not a failure
    for diagnostics, finished in (("queued", ago(hours=1)), ("queued", ago(hours=3)), ("running", ago(hours=4)),
                                  ("complete", ago(hours=5)), ("complete", ago(hours=6)), ("partial", ago(hours=7)),
                                  ("failed", ago(hours=8)), ("complete", ago(days=3))):
        make("scored", finished_at=finished, diagnostics_status=diagnostics,
             diagnostics_lease_expires_at=later(minutes=12) if diagnostics == "running" else None)
    # cv201: its numbers must not reach dl101's TA.
    make("queued", hw="cv1", created_ago=timedelta(hours=5))
    make("running", hw="cv1", worker="celery@cv-box", started_at=ago(hours=1), lease_expires_at=later(minutes=1))
    make("failed", hw="cv1", verdict="invalid_output", finished_at=ago(hours=1))
    make("scored", hw="cv1", finished_at=ago(hours=1), diagnostics_status="queued")


# aggregates (Min of datetimes: text on SQLite, timestamptz on PostgreSQL), grouped and ordered by worker
@pytest.mark.database_sensitive
def test_the_numbers_of_a_seeded_queue_for_the_courses_ta(seeded, people):
    state = queue_state(people["ta"], now=NOW)
    s, d = state.scoring, state.diagnostics
    assert (s.waiting, s.oldest_waiting_age, s.running) == (3, timedelta(minutes=30), 3)
    assert [(w.worker, w.running, w.oldest_age, w.lease_expires_at, w.lease_expired) for w in s.workers] == [
        ("celery@gpu-1", 2, timedelta(minutes=20), later(minutes=10), False),
        ("celery@gpu-2", 1, timedelta(minutes=40), ago(minutes=10), True)]
    assert s.failures_24h == [Tally("runtime_error", 2), Tally("time_limit", 1)]
    assert (s.scored_24h, s.failed_24h) == (7, 3)
    assert (d.waiting, d.oldest_waiting_age, d.running, d.earliest_lease_expires_at, d.lease_expired) == (
        2, timedelta(hours=3), 1, later(minutes=12), False)
    assert d.outcomes_24h == [Tally("complete", 2), Tally("infrastructure_error", 1), Tally("partial", 1)]
    assert [(w.worker, w.running) for w in d.workers] == [("(unknown)", 1)]


# the same aggregates, with the scope as a subquery
@pytest.mark.database_sensitive
def test_a_superuser_sees_every_course_and_another_ta_only_theirs(seeded, people):
    root = get_user_model().objects.create_superuser("root", "r@example.org", "root-password-1")
    everything = queue_state(root, now=NOW)
    assert (everything.scoring.waiting, everything.scoring.oldest_waiting_age) == (4, timedelta(hours=5))
    assert [w.worker for w in everything.scoring.workers] == ["celery@cv-box", "celery@gpu-1", "celery@gpu-2"]
    assert Tally("invalid_output", 1) in everything.scoring.failures_24h and everything.diagnostics.waiting == 3
    theirs = queue_state(people["other_ta"], now=NOW)
    assert (theirs.scoring.waiting, theirs.scoring.running, theirs.diagnostics.waiting) == (1, 1, 1)
    assert theirs.scoring.failures_24h == [Tally("invalid_output", 1)]


def test_an_empty_queue_says_so(homeworks, people):
    state = queue_state(people["ta"], now=NOW)
    assert (state.scoring.waiting, state.scoring.oldest_waiting_age, state.scoring.workers,
            state.scoring.failures_24h, state.diagnostics.waiting, state.diagnostics.earliest_lease_expires_at) == (
        0, None, [], [], 0, None)
    client = Client()
    client.force_login(people["ta"])
    page = client.get("/queue/").content.decode()
    assert "No submission is being scored." in page and "No failure in the last 24 hours." in page


# the page reads the database clock (statement_timestamp() on PostgreSQL) to judge leases
@pytest.mark.database_sensitive
def test_the_page_shows_the_numbers(seeded, people):
    client = Client()
    client.force_login(people["ta"])
    response = client.get("/queue/")
    assert response.status_code == 200 and "grading/queue.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert '<td id="scoring-waiting">3</td>' in page and '<td id="diagnostics-waiting">2</td>' in page
    assert "celery@gpu-1" in page and "celery@gpu-2" in page and "celery@cv-box" not in page
    assert "runtime_error" in page and "invalid_output" not in page
    assert "the watchdog queues it again" in page  # gpu-2's expired lease


def test_only_staff_see_the_page(seeded, people):
    anonymous = Client().get("/queue/")
    login = resolve_url(settings.LOGIN_URL)
    assert anonymous.status_code == 302 and anonymous["Location"] == f"{login}?next=/queue/"
    for name, code in (("student", 404), ("other_student", 404), ("outsider", 404), ("ta", 200), ("other_ta", 200)):
        client = Client()
        client.force_login(people[name])
        assert client.get("/queue/").status_code == code, name
    root = Client()
    root.force_login(get_user_model().objects.create_superuser("root", "r@example.org", "root-password-1"))
    assert "celery@cv-box" in root.get("/queue/").content.decode()


# its count differs by engine (+ the database clock's query on PostgreSQL)
@pytest.mark.database_sensitive
def test_the_page_takes_the_same_number_of_queries_for_2_and_50_submissions(make, people):
    client = Client()
    client.force_login(people["ta"])

    def seed(n):
        for i in range(n):
            status = ("queued", "running", "failed", "scored")[i % 4]
            make(status, created_ago=timedelta(minutes=i), worker=f"celery@gpu-{i % 3}", started_at=ago(minutes=i),
                 lease_expires_at=later(minutes=i), finished_at=ago(minutes=i), verdict="runtime_error" if
                 status == "failed" else "", diagnostics_status="queued" if status == "scored" else "")

    def count():
        with CaptureQueriesContext(connection) as selector:
            queue_state(people["ta"])
        with CaptureQueriesContext(connection) as page:
            assert client.get("/queue/").status_code == 200
        return len(selector), len(page)

    seed(2)
    few = count()
    seed(48)
    many = count()
    assert many == few and few[0] == 6 + (connection.vendor == "postgresql")  # + the database clock there
    assert Submission.objects.count() == 50
