"""Operations: which grading workers answer and which queues they take, how many messages wait in
the broker, `manage.py grading_status` and its exit codes, the queue page with a broker that is
down, and JSON logs from the web and the worker. Real Redis (db 13, queue names of the test's
own), one real worker process for the module, the real file broker in a tmp dir; nothing mocked."""
from __future__ import annotations

import inspect
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from kombu import Connection, Exchange, Producer, Queue

from basin.demo.management.commands.demo import worker_command
from basin.grading.fleet import WorkerStatus, known_queues, queue_depth, worker_health
from tests import services
from tests.e2e.live import ROOT, LivePlatform, base_env

# Storage, broker, logs and settings: the same on SQLite and PostgreSQL; not re-run there.


REDIS = "redis://127.0.0.1:6379/13"  # a db of the tests' own; every name in it is made unique below
REDIS_OPTIONS = {"visibility_timeout": 3600, "queue_order_strategy": "priority"}
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once
SEP = "\x06\x16"  # kombu.transport.redis.Channel.sep


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def on_redis(settings):
    services.require("redis")
    settings.CELERY_BROKER_URL = REDIS
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS


@pytest.fixture
def file_broker(settings, tmp_path):
    options = {"data_folder_in": str(tmp_path / "queue"), "data_folder_out": str(tmp_path / "queue"),
               "control_folder": str(tmp_path / "control"), "store_processed": False}
    for folder in ("queue", "control"):
        (tmp_path / folder).mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    return options


@pytest.fixture
def broker_down(settings):
    settings.CELERY_BROKER_URL = DOWN
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS


@pytest.fixture
def silent_broker(settings):
    """A port that accepts connections and never says a word: a hung broker, not a refused one."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_OPTIONS
    yield
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def publish(url: str, options: dict, queue: str, priorities: list[int]) -> None:
    """Messages as Celery sends them: kombu, the queue's own direct exchange, one per priority."""
    exchange = Exchange(queue, "direct")
    with Connection(url, transport_options=options) as conn:
        producer = Producer(conn.default_channel)
        for priority in priorities:
            producer.publish({"n": priority}, exchange=exchange, routing_key=queue, priority=priority,
                             declare=[Queue(queue, exchange, routing_key=queue)], serializer="json")


def forget(*queues: str) -> None:
    """Remove a test queue from Redis db 13: its lists and kombu's binding sets of its exchange."""
    import redis

    client = redis.Redis.from_url(REDIS)
    for name in queues:
        client.delete(*client.keys(f"{name}*"), f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    client.close()


@pytest.fixture(scope="module")
def live_worker(tmp_path_factory):
    """One real grading worker for the module (starting one costs seconds), on Redis db 13, taking
    scoring, basin and a queue only it takes, logging JSON at INFO. Its database has no tables:
    nothing here needs them, and a task sent to it fails, which is the log line one test wants."""
    services.require("redis")
    folder = tmp_path_factory.mktemp("ops-worker")
    name, own = f"{unique('ops')}@{socket.gethostname()}", unique("ops-queue")
    platform = LivePlatform(base_env(folder) | {"CELERY_BROKER_URL": REDIS, "BASIN_LOG_FORMAT": "json"}, folder)
    platform.start("worker",
                   worker_command(queues=f"scoring,basin,{own}", beat=False) + ["-n", name, "--loglevel", "INFO"])
    try:
        with override_settings(CELERY_BROKER_URL=REDIS, CELERY_BROKER_TRANSPORT_OPTIONS=REDIS_OPTIONS):
            platform.wait_for(lambda: worker_health(timeout=1.0, destination=[name]).worker(name).answered, 90,
                              "the worker to answer a ping")
        yield SimpleNamespace(name=name, queue=own, platform=platform, log=folder / "worker.log")
    finally:
        platform.stop()
        forget(own)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "BASIN_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment | env,
                          capture_output=True, text=True, timeout=120)


# --- queue depth --------------------------------------------------------------------------------

def test_queue_depth_on_redis_sums_the_lists_of_every_priority(on_redis):
    import redis

    queue, other = unique("ops-depth"), unique("ops-depth")
    client = redis.Redis.from_url(REDIS)
    try:
        publish(REDIS, REDIS_OPTIONS, queue, priorities=list(range(10)))
        publish(REDIS, REDIS_OPTIONS, other, priorities=[0, 9])
        # kombu keeps one list per priority step (0, 3, 6, 9): counting the plain key alone would say 3.
        assert sorted(k.decode() for k in client.keys(f"{queue}*")) == sorted(
            [queue, f"{queue}{SEP}3", f"{queue}{SEP}6", f"{queue}{SEP}9"])
        assert client.llen(queue) == 3
        depth = queue_depth([queue, other])
        assert (depth.depths, depth.total, depth.reason) == ({queue: 10, other: 2}, 12, None)
        with Connection(REDIS, transport_options=REDIS_OPTIONS) as conn:  # kombu's own count agrees
            assert conn.default_channel._size(queue) == 10
        assert queue_depth([unique("ops-empty")]).total == 0
    finally:
        client.close()
        forget(queue, other)


def test_queue_depth_on_the_file_broker_counts_each_queues_message_files(file_broker):
    # Published from a process of their own: kombu keeps exchange bindings of earlier tests in this
    # one's memory, which sent these messages elsewhere when the whole suite ran.
    script = "\n".join(["import inspect, json, sys",
                         "from kombu import Connection, Exchange, Producer, Queue",
                         inspect.getsource(publish),
                         "o = json.loads(sys.argv[1])",
                         "for queue, priorities in "
                         "(('scoring', [0, 0, 0]), ('diagnostics', [0, 5]), ('elsewhere', [0])):",
                         "    publish('filesystem://', o, queue, priorities)"])
    done = subprocess.run([sys.executable, "-c", script, json.dumps(file_broker)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60)
    assert done.returncode == 0, done.stderr
    assert known_queues() == ("scoring", "basin", "diagnostics")
    assert queue_depth().depths == {"scoring": 3, "basin": 0, "diagnostics": 2}
    assert queue_depth(["elsewhere", "scoring"]).depths == {"elsewhere": 1, "scoring": 3}


def test_queue_depth_says_why_it_cannot_count(settings, broker_down):
    started = time.monotonic()
    down = queue_depth(timeout=1.0)
    assert down.depths is None and down.reason.startswith("broker unreachable: ") and "111" in down.reason
    assert time.monotonic() - started < 3
    settings.CELERY_BROKER_URL = "memory://"
    assert queue_depth().depths is None and "not counted on a 'memory' broker" in queue_depth().reason
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": "/nonexistent/ops-broker"}
    missing = queue_depth()
    assert missing.depths is None and missing.reason.startswith("broker unreachable: its folder /nonexistent")


# --- worker health ------------------------------------------------------------------------------

def test_the_live_worker_answers_with_its_queues_and_a_missing_one_does_not(on_redis, live_worker):
    ghost = f"{unique('ghost')}@nowhere"
    health = worker_health(timeout=1.5, expected=[ghost])
    me = health.worker(live_worker.name)
    assert health.error is None
    assert (me.answered, me.queues, me.active) == (True, ("scoring", "basin", live_worker.queue), 0)
    assert health.worker(ghost) == WorkerStatus(ghost, answered=False)
    assert health.verdict("scoring")[0] and me in health.consuming(live_worker.queue)
    healthy, reason = health.verdict("queue-nobody-takes")
    assert not healthy and "none consumes the 'queue-nobody-takes' queue" in reason
    # Asking one worker stops as soon as it has answered.
    started = time.monotonic()
    assert worker_health(timeout=5, destination=[live_worker.name]).worker(live_worker.name).answered
    assert time.monotonic() - started < 2.5


def test_worker_health_never_raises_and_never_hangs(settings, broker_down):
    settings.CELERY_BROKER_URL = "redis://:s3cret-pw@127.0.0.1:1/0"
    started = time.monotonic()
    health = worker_health(timeout=1.0, expected=["celery@gpu-1"])
    assert health.error.startswith("broker unreachable: ") and time.monotonic() - started < 3
    assert [(w.name, w.answered) for w in health.workers] == [("celery@gpu-1", False)]
    assert health.verdict() == (False, health.error)
    assert health.broker == "redis://:***@127.0.0.1:1/0" and "s3cret-pw" not in repr((health, queue_depth()))
    settings.CELERY_BROKER_URL = "nosuchtransport://x"
    assert worker_health().error == "broker unreachable: KeyError: 'No such transport: nosuchtransport'"


def test_a_broker_that_accepts_but_never_answers_is_unreachable_within_the_timeout(silent_broker):
    started = time.monotonic()
    health, depth = worker_health(timeout=0.5), queue_depth(timeout=0.5)
    assert time.monotonic() - started < 6
    assert health.error.startswith("broker unreachable: ") and depth.reason.startswith("broker unreachable: ")


# --- grading_status -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_grading_status_is_healthy_while_a_worker_takes_scoring(on_redis, live_worker):
    out = io.StringIO()
    call_command("grading_status", "--json", "--timeout", "1.5", stdout=out)  # returns: exit code 0
    report = json.loads(out.getvalue())
    assert report["healthy"] is True and "consume 'scoring'" in report["reason"]
    me = next(w for w in report["workers"] if w["name"] == live_worker.name)
    assert me == {"name": live_worker.name, "answered": True, "queues": ["scoring", "basin", live_worker.queue],
                  "active": 0}
    assert set(report["queue_depth"]) == {"scoring", "basin", "diagnostics"}
    assert report["database"]["scoring"]["queued"] == 0 and report["database"]["diagnostics"]["running"] == 0
    text = io.StringIO()
    call_command("grading_status", "--timeout", "1.5", stdout=text)
    lines = text.getvalue().splitlines()
    assert f"  {live_worker.name}: answers · queues scoring, basin, {live_worker.queue} · running 0" in lines
    assert lines[-1].startswith("healthy: ")


def test_the_workers_own_healthcheck_exits_0_while_it_answers(live_worker):
    done = manage("grading_status", "--worker", live_worker.name, "--timeout", "3", CELERY_BROKER_URL=REDIS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == (f"healthy: {live_worker.name} answers; "
                                   f"consumes scoring, basin, {live_worker.queue}; running 0")


@pytest.fixture
def held_submissions(course, people):
    """One submission waiting for ten minutes, one held by celery@gone-1 since five minutes ago."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from basin.courses.models import DatasetVersion, Homework
    from basin.submissions.models import Run, Submission

    now = timezone.now()
    homework = Homework.objects.create(course=course, slug="hw1", title="hw1", opens_at=now - timedelta(days=1),
                                       deadline=now + timedelta(days=1), dataset=DatasetVersion.objects.create(
                                           slug="stub", directory="stub", seed=0, manifest={}))

    def make(status, **fields):
        s = Submission.objects.create(homework=homework, user=people["student"], status=status, kind="bundle",
                                      file=ContentFile(b"x", name="s.zip"), original_name="s.zip", size=1,
                                      sha256="0" * 64)
        Submission.objects.filter(pk=s.pk).update(created_at=now - timedelta(minutes=10))
        Run.objects.create(submission=s, kind="score", state=status, created_at=now - timedelta(minutes=10),
                           attempt=int(status == "running"), **fields)
    make("queued")
    make("running", worker="celery@gone-1", started_at=now - timedelta(minutes=5),
         lease_expires_at=now + timedelta(minutes=10))


@pytest.mark.django_db
def test_grading_status_exits_1_when_no_worker_answers(file_broker, held_submissions):
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit:
        call_command("grading_status", "--timeout", "0.5", stdout=out)
    assert exit.value.code == 1
    lines = out.getvalue().splitlines()
    assert lines[-1] == "unhealthy: no worker answered (filesystem://)"
    assert "  celery@gone-1: NO ANSWER (it holds a running submission)" in lines
    assert "  scoring 0 · basin 0 · diagnostics 0" in lines
    assert any(line.startswith("  scoring: 1 queued (oldest waiting 10m") and line.endswith("1 running")
               for line in lines)
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("grading_status", "--json", "--timeout", "0.5", stdout=out)
    report = json.loads(out.getvalue())
    assert report["workers"] == [{"name": "celery@gone-1", "answered": False, "queues": [], "active": None}]
    scoring = report["database"]["scoring"]
    assert (scoring["queued"], scoring["running"], scoring["running_per_worker"]) == (1, 1, {"celery@gone-1": 1})
    assert 600 <= scoring["oldest_waiting_seconds"] < 660 and report["healthy"] is False


def test_grading_status_exits_1_with_the_reason_when_the_broker_is_down(tmp_path):
    # A real process, as a compose healthcheck runs it; its database is not even migrated.
    started = time.monotonic()
    done = manage("grading_status", "--timeout", "1", CELERY_BROKER_URL=DOWN, BASIN_DATA_DIR=str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("unhealthy: broker unreachable: ") and "Connection refused" in last
    assert "database unreachable: OperationalError: no such table" in done.stdout
    assert time.monotonic() - started < 30
    one = manage("grading_status", "--worker", "somewhere", "--json", CELERY_BROKER_URL=DOWN,
                 BASIN_DATA_DIR=str(tmp_path))
    assert one.returncode == 1 and json.loads(one.stdout)["reason"].startswith("broker unreachable: ")


# --- the queue page -----------------------------------------------------------------------------

@pytest.fixture
def ta_client(course, people):
    client = Client()
    client.force_login(people["ta"])
    return client


@pytest.mark.django_db
def test_the_queue_page_with_a_broker_down_still_renders_quickly(broker_down, ta_client):
    started = time.monotonic()
    response = ta_client.get("/queue/")
    assert time.monotonic() - started < 3
    page = response.content.decode()
    assert response.status_code == 200 and '<td id="scoring-waiting">0</td>' in page  # the database part stands
    assert "Nothing is being scored: broker unreachable: " in page and "The broker could not be asked." in page
    assert response.context["health"].error.startswith("broker unreachable")
    assert response.context["depth"].depths is None and response.context["broker_timeout"] == 1.0


@pytest.mark.django_db
def test_the_queue_page_shows_the_live_worker_and_the_depth(on_redis, live_worker, ta_client):
    page = ta_client.get("/queue/").content.decode()
    assert f"<tr><td>{live_worker.name}</td>" in page and "Grading runs: " in page
    assert f"scoring, basin, {live_worker.queue}" in page and 'id="depth-scoring"' in page


# --- structured logs ----------------------------------------------------------------------------

LOGGING_SCRIPT = """
import logging, django
django.setup()
from django.test import Client
log = logging.getLogger("basin.ops_test")
log.info("plain %s", "line")
log.warning("with extra", extra={"submission_id": 7})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
response = Client().get("/api/submissions/424242/", HTTP_HOST="localhost", HTTP_X_REQUEST_ID="ops-req-1")
print(response.status_code, response["X-Request-ID"])
"""


def run_logging_script(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "BASIN_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-c", LOGGING_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=environment | {"DJANGO_SETTINGS_MODULE": "basin.settings",
                                             "BASIN_DATA_DIR": str(tmp_path)} | env)


def test_with_json_every_log_line_of_the_web_is_one_json_object(tmp_path):
    done = run_logging_script(tmp_path, BASIN_LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["401", "ops-req-1"]
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line: a JSON object, or this fails
    ours = {r["message"]: r for r in records}
    plain = ours["plain line"]
    assert list(plain)[:4] == ["time", "level", "logger", "message"] and plain["time"].endswith("+00:00")
    assert (plain["level"], plain["logger"]) == ("INFO", "basin.ops_test")
    assert ours["with extra"]["submission_id"] == 7
    assert "ZeroDivisionError: division by zero" in ours["it broke"]["exception"]
    request = next(r for r in records if r["logger"] == "django.request")
    assert (request["level"], request["request_id"], request["submission_id"]) == ("WARNING", "ops-req-1", 424242)
    assert "request" not in request and request["status_code"] == 401


def test_text_stays_the_default(tmp_path):
    done = run_logging_script(tmp_path)
    assert done.returncode == 0, done.stderr
    assert " INFO basin.ops_test: plain line" in done.stderr and not done.stderr.lstrip().startswith("{")


def test_every_response_carries_a_request_id(db):
    client = Client()
    mine = client.get("/health/", HTTP_X_REQUEST_ID="lb-1234.abc")
    made = client.get("/health/", HTTP_X_REQUEST_ID="evil\nid")
    assert mine["X-Request-ID"] == "lb-1234.abc"
    assert made["X-Request-ID"] != "evil\nid" and len(made["X-Request-ID"]) == 32


def test_the_workers_log_lines_are_json_with_the_task_and_the_run(live_worker):
    from celery import Celery

    from basin.dispatch import GRADE

    sender = Celery("ops-test-sender", broker=REDIS, set_as_current=False)
    task_id = sender.send_task(GRADE, args=[424242], queue=live_worker.queue).id
    sender.close()

    def failed():
        records = [json.loads(line) for line in live_worker.log.read_text().splitlines() if line.startswith("{")]
        return next((r for r in records if r.get("task_id") == task_id and r["level"] == "ERROR"), None)

    error = live_worker.platform.wait_for(failed, 60, "the task's error line")
    assert (error["run_id"], error["task_name"], error["logger"]) == (424242, GRADE, "celery.app.trace")
    assert "Traceback" in error["exception"]
    # From the first log line on, every line is JSON. (Before it Celery may print, not log, a
    # warning of its own to stderr: running as root.)
    lines = live_worker.log.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    records = [json.loads(line) for line in lines[first:] if line.strip()]
    assert any(r["logger"] == "celery.apps.worker" and r["message"].endswith("ready.") for r in records)


# Last: it stops the module's worker.
def test_a_stopped_worker_answers_no_more_and_its_healthcheck_exits_1(on_redis, live_worker):
    live_worker.platform.stop()
    health = worker_health(timeout=1.0, expected=[live_worker.name])
    assert health.error is None and health.worker(live_worker.name).answered is False
    done = manage("grading_status", "--worker", live_worker.name, "--timeout", "1", CELERY_BROKER_URL=REDIS)
    assert done.returncode == 1
    assert done.stdout.strip() == f"unhealthy: {live_worker.name} did not answer within 1 s ({REDIS})"
