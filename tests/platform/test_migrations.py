"""Data migrations, run for real: the schema before them, rows as they were, the migration, the rows after."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The whole module re-runs on PostgreSQL (test_on_postgres.py): migrations alter tables differently on each engine.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.database_sensitive]

BEFORE = ("submissions", "0009_hidden_pass_log")
AFTER = ("submissions", "0010_hide_what_was_graded_before_the_rehearsal")


@pytest.fixture(autouse=True)
def _latest_schema_after():
    """Every test here moves the schema back; the tests after these need it at its latest."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(target):
    """Every app at its latest migration but `target`'s app, which is at `target`."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])  # one direction per plan: the target's app first (back or forth),
    executor.loader.build_graph()
    targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] != target[0]] + [target]
    executor.migrate(targets)  # then every other app to its latest
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def test_what_was_graded_before_the_rehearsal_moves_to_the_tas_log_and_unchecked_reports_leave_the_leaderboard():
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Course = apps.get_model("courses", "Course")
    DatasetVersion = apps.get_model("courses", "DatasetVersion")
    Homework = apps.get_model("courses", "Homework")
    Submission = apps.get_model("submissions", "Submission")
    from datetime import timedelta

    from django.utils import timezone

    student = User.objects.create(username="old-student")
    course = Course.objects.create(slug="old", title="Old", join_code="OLDCODE")
    dataset = DatasetVersion.objects.create(slug="old", directory="old", seed=1, manifest={})
    now = timezone.now()
    homework = Homework.objects.create(course=course, slug="old-hw", title="Old", dataset=dataset, opens_at=now,
                                       deadline=now + timedelta(days=1))

    def row(**fields):
        return Submission.objects.create(homework=homework, user=student, file="x.zip", original_name="x.zip",
                                         kind="bundle", size=1, sha256="0" * 64, **fields).pk

    failed = row(status="failed", verdict="runtime_error", message="ValueError: 9f8e7d (hidden pixels)",
                 log_tail="Traceback ... 9f8e7d")
    scored = row(status="scored", verdict="scored", message="Scored.", log_tail="printed 9f8e7d",
                 landscape_thumbnail=[1.0, 0.5, 1.0], sharpness=0.0, model_diagnostics={"status": "complete"})
    trusted = row(status="scored", verdict="scored", message="Scored.", landscape_thumbnail=[1.0, 0.5, 1.0],
                  sharpness=3.5, model_diagnostics={"trust": {"trusted": True}})
    broken = row(status="failed", verdict="infrastructure_error", message="The grader failed on this submission.")

    apps = migrate(AFTER)
    Submission = apps.get_model("submissions", "Submission")
    rows = {s.pk: s for s in Submission.objects.all()}
    assert rows[failed].message == "Your model raised an error while it was loaded or run. The log below shows where."
    assert rows[failed].log_tail == "" and "ValueError: 9f8e7d" in rows[failed].hidden_log
    assert "Traceback ... 9f8e7d" in rows[failed].hidden_log
    assert rows[scored].log_tail == "" and "printed 9f8e7d" in rows[scored].hidden_log
    assert rows[scored].message == "Scored."
    assert rows[scored].landscape_thumbnail is None and rows[scored].sharpness is None  # never checked
    assert rows[trusted].landscape_thumbnail == [1.0, 0.5, 1.0] and rows[trusted].sharpness == 3.5
    assert rows[broken].message == "The grader failed on this submission." and rows[broken].hidden_log == ""


TOKENS_BEFORE = ("accounts", "0002_apitoken")
TOKENS_AFTER = ("accounts", "0003_carry_over_drf_tokens")
DRF_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex characters, as rest_framework.authtoken made them


def test_a_drf_token_from_before_keeps_working_and_its_key_leaves_the_database():
    apps = migrate(TOKENS_BEFORE)
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from rest_framework.test import APIClient

    User = apps.get_model("auth", "User")
    student = User.objects.create(username="old-student", password=make_password("old-password-1"))
    q = connection.ops.quote_name
    with connection.cursor() as cursor:  # rest_framework.authtoken's table, as a deployment from before has it
        cursor.execute(f"CREATE TABLE {q('authtoken_token')} ({q('key')} varchar(40) NOT NULL PRIMARY KEY, "
                       f"{q('created')} timestamp with time zone NOT NULL, {q('user_id')} integer NOT NULL UNIQUE)")
        cursor.execute(f"INSERT INTO {q('authtoken_token')} VALUES (%s, %s, %s)", [DRF_KEY, timezone.now(), student.pk])
        cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
                       ["authtoken", "0004_alter_tokenproxy_options", timezone.now()])

    apps = migrate(TOKENS_AFTER)
    assert "authtoken_token" not in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_migrations WHERE app = 'authtoken'")
        assert cursor.fetchone()[0] == 0
    ApiToken = apps.get_model("accounts", "ApiToken")
    carried = ApiToken.objects.get(user_id=student.pk)
    assert carried.label == "basin login" and carried.expiry is None and carried.token_key == DRF_KEY[:15]
    assert DRF_KEY not in carried.digest

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {DRF_KEY}")
    me = client.get("/api/auth/me/")
    assert me.status_code == 200 and me.json()["username"] == "old-student"
    assert me.json()["token"]["label"] == "basin login" and me.json()["token"]["expiry"] is None

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=student.pk)
    user.set_password("a-new-password-2")
    user.save()
    assert client.get("/api/auth/me/").json()["error"]["code"] == "token_revoked"  # revoked like any other


RUNS_BEFORE = ("submissions", "0010_hide_what_was_graded_before_the_rehearsal")
RUNS_AFTER = ("submissions", "0011_runs")


def _old_homework(apps):
    from datetime import timedelta

    from django.utils import timezone

    User, Course = apps.get_model("auth", "User"), apps.get_model("courses", "Course")
    DatasetVersion, Homework = apps.get_model("courses", "DatasetVersion"), apps.get_model("courses", "Homework")
    now = timezone.now()
    homework = Homework.objects.create(
        course=Course.objects.create(slug="old", title="Old", join_code="OLDCODE"), slug="old-hw", title="Old",
        dataset=DatasetVersion.objects.create(slug="old", directory="old", seed=1, manifest={}), opens_at=now,
        deadline=now + timedelta(days=1))
    return homework, User.objects.create(username="old-student"), now


def test_every_submission_state_becomes_runs_with_nothing_lost_and_back():
    """Submissions in every scoring state (and every diagnostics state), with their tries, leases,
    workers, timings and times, carried into runs; and back again by the reverse migration."""
    from datetime import timedelta

    apps = migrate(RUNS_BEFORE)
    homework, student, now = _old_homework(apps)
    Submission = apps.get_model("submissions", "Submission")
    t = {name: now - timedelta(minutes=minutes) for name, minutes in
         (("created", 60), ("started", 50), ("finished", 40), ("lease", -5), ("sent", 55))}

    def row(status, **fields):
        pk = Submission.objects.create(homework=homework, user=student, file="x.zip", original_name="x.zip",
                                       kind="bundle", size=1, sha256="0" * 64, status=status, **fields).pk
        Submission.objects.filter(pk=pk).update(created_at=t["created"])  # auto_now_add on create
        return pk

    done = {"started_at": t["started"], "finished_at": t["finished"], "worker": "celery@gpu-1", "backend": "docker"}
    rows = {
        "received": row("received"),
        "queued": row("queued", enqueued_at=t["sent"]),
        "retrying": row("queued", attempts=1, enqueued_at=t["sent"]),
        "running": row("running", attempts=2, started_at=t["started"], worker="celery@gpu-2",
                       lease_expires_at=t["lease"]),
        "scored": row("scored", verdict="scored", attempts=1, timings={"sandbox_s": 3.5}, **done,
                      diagnostics_status="complete", diagnostics_attempts=1),
        "rescored": row("scored", verdict="scored", attempts=5, attempts_before_rescore=4, **done,
                        diagnostics_status="queued", diagnostics_attempts=3),
        "diagnosing": row("scored", verdict="scored", attempts=1, **done, diagnostics_status="running",
                          diagnostics_attempts=2, diagnostics_lease_expires_at=t["lease"]),
        "partial": row("scored", verdict="scored", attempts=1, **done, diagnostics_status="partial",
                       diagnostics_attempts=1),
        "diagnostics gave up": row("scored", verdict="scored", attempts=1, **done, diagnostics_status="failed",
                                   diagnostics_attempts=3),
        "runtime error": row("failed", verdict="runtime_error", attempts=1, **done),
        "grader gave up": row("failed", verdict="infrastructure_error", attempts=3, **done),
        "cancelled": row("cancelled", finished_at=t["finished"]),
    }

    apps = migrate(RUNS_AFTER)
    Run = apps.get_model("submissions", "Run")

    def runs_of(name):
        return [(r.kind, r.state, r.outcome, r.attempt) for r in Run.objects.filter(submission_id=rows[name])
                .order_by("kind")]

    assert runs_of("received") == []
    assert runs_of("queued") == [("score", "queued", "", 0)]
    assert runs_of("retrying") == [("score", "queued", "", 1)]
    assert runs_of("running") == [("score", "running", "", 2)]
    assert runs_of("scored") == [("diagnose", "finished", "complete", 1), ("score", "finished", "scored", 1)]
    assert runs_of("rescored") == [("diagnose", "queued", "", 0), ("score", "finished", "scored", 1)]
    assert runs_of("diagnosing") == [("diagnose", "running", "", 2), ("score", "finished", "scored", 1)]
    assert runs_of("partial")[0] == ("diagnose", "finished", "partial", 1)
    assert runs_of("diagnostics gave up")[0] == ("diagnose", "failed", "infrastructure_error", 3)
    assert runs_of("runtime error") == [("score", "finished", "runtime_error", 1)]
    assert runs_of("grader gave up") == [("score", "failed", "infrastructure_error", 3)]
    assert runs_of("cancelled") == [("score", "cancelled", "", 0)]
    running = Run.objects.get(submission_id=rows["running"])
    assert (running.worker, running.started_at, running.lease_expires_at) == ("celery@gpu-2", t["started"], t["lease"])
    scored = Run.objects.get(submission_id=rows["scored"], kind="score")
    assert (scored.worker, scored.backend, scored.timings) == ("celery@gpu-1", "docker", {"sandbox_s": 3.5})
    assert (scored.created_at, scored.started_at, scored.finished_at) == (t["created"], t["started"], t["finished"])
    assert Run.objects.get(submission_id=rows["diagnosing"], kind="diagnose").lease_expires_at == t["lease"]
    # Live runs carry no message stamp: the watchdog sends them at its next beat.
    assert not Run.objects.filter(state__in=["queued", "running"]).exclude(enqueued_at=None).exists()

    apps = migrate(RUNS_BEFORE)  # and back: the columns from each submission's latest run of each kind
    back = {s.pk: s for s in apps.get_model("submissions", "Submission").objects.all()}
    assert (back[rows["running"]].attempts, back[rows["running"]].worker) == (2, "celery@gpu-2")
    assert back[rows["running"]].lease_expires_at == t["lease"]
    assert (back[rows["scored"]].timings, back[rows["scored"]].finished_at) == ({"sandbox_s": 3.5}, t["finished"])
    assert (back[rows["diagnosing"]].diagnostics_attempts, back[rows["diagnosing"]].diagnostics_lease_expires_at) == (
        2, t["lease"])
    assert back[rows["received"]].attempts == 0 and back[rows["queued"]].status == "queued"
