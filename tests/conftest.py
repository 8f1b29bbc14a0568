"""Fixtures shared by every test folder: personas, a tiny dataset version, isolated files."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests import services, threads
from tests.smtp import smtp_server  # noqa: F401  (a fixture, for every test module that asks for it)

TINY_COUNTS = {"train": 150, "val": 60, "test": 300, "shift": 60}
HIDDEN_SEED = 0x5EC12E7


def pytest_report_header(config):
    return "Basin tests: real components are used where they answer; each skip says why."


def pytest_configure(config):
    """The process that starts the run names what its processes share (with pytest-xdist, before
    its workers start, so that they inherit it): the run's folder (tests/run_once.py), the
    canned sandbox's cache, which the PostgreSQL re-run shares too, and the threads each process
    computes with (tests/threads.py)."""
    if not hasattr(config, "workerinput"):
        from tests import canned_sandbox, run_once

        run_once.run_dir()
        canned_sandbox.cache_folder()
        threads.one_per_process()


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected: only a re-run that will be waited for
def pytest_collection_modifyitems(session, config, items):
    from tests.e2e import test_student_from_a_bare_machine as bare_machine
    from tests.platform import test_on_postgres

    # Long jobs start now, once per run, and go on beside the rest of the suite:
    test_on_postgres.start_if_selected(items)  # the PostgreSQL re-run of tests/platform
    bare_machine.start_if_selected(items)  # a new venv with Jupyter, beside a preinstalled torch
    # The folders of long files first (a live platform, or many sandbox runs, a minute or more each),
    # so that the run ends on short ones: pytest-xdist hands out files in this order, and a long
    # file dealt last leaves the other process idle while it runs. They overlap the PostgreSQL
    # re-run, which is short now (tests marked database_sensitive only). A stable sort keeps each
    # file's own order.
    items.sort(key=lambda item: next((i for i, folder in enumerate(LONG_FIRST) if item.nodeid.startswith(folder)),
                                     len(LONG_FIRST)))


LONG_FIRST = ("tests/e2e/", "tests/grader/", "tests/browser/")  # then the rest, each in pytest's own order


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):  # the process that started the run: its jobs end with it
        from tests import run_once

        run_once.stop_jobs()


def pytest_sessionfinish(session):
    """An xdist worker hands what it exercised to the controller, which prints the run's summary."""
    from tests.canned_sandbox import replayed

    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["basin_exercised"], output["basin_canned"] = dict(services.exercised), dict(replayed)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on the controller
def pytest_testnodedown(node, error):
    from tests.canned_sandbox import replayed

    output = getattr(node, "workeroutput", None) or {}
    for name, used in output.get("basin_exercised", {}).items():
        services.exercised[name] = services.exercised.get(name, False) or used
    for name, count in output.get("basin_canned", {}).items():
        replayed[name] += count


def pytest_terminal_summary(terminalreporter):
    parts = " ".join(f"{name}={'yes' if used else 'no'}" for name, used in services.exercised.items())
    terminalreporter.write_line(f"real components: {parts}")
    from tests.canned_sandbox import replayed

    terminalreporter.write_line(f"canned sandbox (platform tests): {replayed['runs']} real process-sandbox runs, "
                                f"{replayed['replays']} replayed")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A small dataset version, built once per session (the real builder, small counts)."""
    from dmnist import build

    path = tmp_path_factory.mktemp("datasets") / "tiny"
    build(path, seed=7, counts=TINY_COUNTS, progress=False, workers=1, hidden_seed=HIDDEN_SEED)
    return path


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Personas are made in every database test: PBKDF2's deliberate slowness would cost ~1.5 s each.
    (The live-server tests run the real hasher in their own processes.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path, settings):
    """Uploads and sandbox working dirs of each test go to its own tmp dir; the process sandbox
    unless a test asks for Docker."""
    import uuid

    settings.BASIN_INSTANCE = f"test-{uuid.uuid4().hex[:8]}"  # its watchdog sees only its own containers
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BASIN_WORK_DIR = tmp_path / "work"
    settings.BASIN_SANDBOX_BACKEND = "process"
    settings.BASIN_LEADERBOARD_CACHE_SECONDS = 0  # each request renders what the test just stored
    from django.core.cache import cache

    cache.clear()  # nor does a test see what another cached


@pytest.fixture
def registered_dataset(db, tiny_dataset, settings):
    from basin.courses.models import DatasetVersion

    settings.BASIN_DATASETS_DIR = tiny_dataset.parent
    import json

    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    return DatasetVersion.objects.create(slug="tiny", directory=tiny_dataset.name, seed=7, manifest=manifest)


@pytest.fixture
def people(db):
    """The personas: a TA and a student of the course, a student of it, and an outsider."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {name: User.objects.create_user(username=name, password=f"{name}-password-1")
            for name in ("ta", "student", "other_student", "other_ta", "outsider")}


@pytest.fixture
def course(people):
    from basin.courses.models import Course, Membership
    from basin.courses.services import enroll

    course = Course.objects.create(slug="dl101", title="Deep Learning 101")
    other = Course.objects.create(slug="cv201", title="Computer Vision 201")
    enroll(course=course, user=people["ta"], role=Membership.Role.TA)
    enroll(course=course, user=people["student"], role=Membership.Role.STUDENT)
    enroll(course=course, user=people["other_student"], role=Membership.Role.STUDENT)
    enroll(course=other, user=people["other_ta"], role=Membership.Role.TA)
    return course


@pytest.fixture
def homework(course, people, registered_dataset):
    from django.utils import timezone

    from basin.courses.services import create_homework

    now = timezone.now()
    return create_homework(actor=people["ta"], course=course, slug="hw1", title="Homework 1",
                           dataset=registered_dataset, opens_at=now - timedelta(days=1),
                           deadline=now + timedelta(days=7), daily_quota=3, time_limit_s=120)


@pytest.fixture
def dispatched(monkeypatch):
    """Tasks sent through basin.dispatch, recorded as (task name, submission id, countdown) instead
    of reaching a broker: for tests of what is sent; the broker and real workers are the end-to-end
    tests' part."""
    from basin import dispatch

    sent: list[tuple[str, int, float]] = []
    monkeypatch.setattr(dispatch, "send", lambda task, pk, countdown=0: sent.append((task, pk, countdown)) or True)
    return sent


@pytest.fixture
def api(people):
    """api('student') is a DRF client authenticated with that persona's token; api(None) anonymous."""
    from rest_framework.test import APIClient

    from tests.tokens import token_for

    def client(persona: str | None):
        c = APIClient()
        if persona:
            c.credentials(HTTP_AUTHORIZATION=f"Token {token_for(people[persona])}")
        return c

    return client


@pytest.fixture
def scored_submission(homework, people, django_capture_on_commit_callbacks):
    """make(data=None, user="student") -> a submission scored through the real (process) sandbox, its
    diagnostics queued (and their message sent, as on the worker's commit); the homework's
    diagnostics budget is factories.SMALL_BUDGET."""
    from django.core.files.base import ContentFile

    from basin.grading import services as grading
    from basin.submissions import runs
    from basin.submissions.models import Submission
    from tests import factories

    homework.diagnostics_budget = factories.SMALL_BUDGET
    homework.save()

    def make(data: bytes | None = None, user: str = "student") -> Submission:
        submission = Submission.objects.create(
            homework=homework, user=people[user], file=ContentFile(data or factories.bundle(), name="s.zip"),
            original_name="s.zip", kind="bundle", size=1, sha256="0" * 64)
        run = runs.open_run(submission.pk, runs.SCORE)
        with django_capture_on_commit_callbacks(execute=True):
            grading.grade(run.pk)
        submission.refresh_from_db()
        assert submission.status == "scored", submission.log_tail
        return submission
    return make


@pytest.fixture
def scored(homework):
    """make(user, public, private=0.0, minutes=0, ...) -> a Submission row stored as scored, without
    grading: for leaderboard rules. `minutes` orders them in time (from five hours ago)."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from basin.submissions.models import Submission

    start = timezone.now() - timedelta(hours=5)

    def make(user, public, private=0.0, minutes=0, baseline=False, status="scored", **fields):
        s = Submission.objects.create(homework=homework, user=user, is_baseline=baseline,
                                      file=ContentFile(b"x", name="s.zip"), original_name="s.zip", kind="bundle",
                                      size=1, sha256="0" * 64, status=status, public_score=public,
                                      private_score=private, note="baseline CNN" if baseline else "", **fields)
        Submission.objects.filter(pk=s.pk).update(created_at=start + timedelta(minutes=minutes))
        s.refresh_from_db()
        return s
    return make
