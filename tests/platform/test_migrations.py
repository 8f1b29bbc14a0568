"""Data migrations, run for real: the schema before them, rows as they were, the migration, the rows after."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Re-run on PostgreSQL (tests/platform/test_on_postgres.py): data migrations run differently on each database.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.database_sensitive]

BEFORE = ("submissions", "0009_hidden_pass_log")
AFTER = ("submissions", "0010_hide_what_was_graded_before_the_rehearsal")


def migrate(target):
    """Every app at its latest migration but `target`'s app, which is at `target`."""
    executor = MigrationExecutor(connection)
    targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] != target[0]] + [target]
    executor.migrate(targets)
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
