"""A student uploads a checkpoint over the API; it is stored and queued once the transaction commits."""
import itertools
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from basin.submissions.models import Submission
from tests import factories

# The tests marked database_sensitive are re-run on PostgreSQL (tests/platform/test_on_postgres.py).
pytestmark = pytest.mark.django_db


_UPLOADS = itertools.count()


def fresh_bundle() -> bytes:
    """A valid bundle unlike any other in the test run (an identical file is refused as a duplicate)."""
    return factories.bundle(extra={"upload-number.txt": str(next(_UPLOADS)).encode()})


def upload(client, slug="hw1", data: bytes | None = None, name="model.zip", **extra):
    file = SimpleUploadedFile(name, fresh_bundle() if data is None else data, content_type="application/zip")
    return client.post(f"/api/homeworks/{slug}/submissions/", {"file": file, **extra}, format="multipart")


# submit under the membership's row lock (select_for_update), the run queued on commit
@pytest.mark.database_sensitive
def test_a_student_submits_and_the_submission_is_queued_on_commit(api, homework, people,
                                                                  django_capture_on_commit_callbacks):
    data = fresh_bundle()
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(api("student"), data=data, note="first try")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["kind"] == "bundle" and body["note"] == "first try"
    assert len(callbacks) == 1  # grading is enqueued only after the upload is committed
    assert [(r["kind"], r["state"], r["attempt"]) for r in body["runs"]] == [("score", "queued", 0)]
    stored = Submission.objects.get(pk=body["id"])
    assert stored.user == people["student"] and stored.file.read() == data
    assert "model.zip" not in stored.file.name  # stored under a random name


def test_anonymous_uploads_are_refused_with_the_error_shape(api, homework):
    response = upload(api(None))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "Token" in response.json()["error"]["message"]


@pytest.mark.parametrize("persona", ["outsider", "other_ta"])
def test_people_outside_the_course_do_not_learn_the_homework_exists(api, homework, persona):
    response = upload(api(persona))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_file_that_is_not_a_submission_gets_a_message_saying_what_to_send(api, homework):
    response = upload(api("student"), data=b"GIF89a...", name="cat.gif")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_submission" and "model.py" in error["message"]
    assert not Submission.objects.exists()


def test_a_missing_file_field_is_explained(api, homework):
    response = api("student").post("/api/homeworks/hw1/submissions/", {"note": "x"}, format="multipart")
    assert response.status_code == 400
    assert "field named 'file'" in response.json()["error"]["message"]


def test_an_upload_over_the_homework_limit_is_refused_with_413(api, homework):
    homework.max_upload_mb = 1
    homework.save()
    response = upload(api("student"), data=factories.bundle(extra={"padding.bin": __import__("os").urandom(2 << 20)}))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


# the quota counted and used under the membership's row lock
@pytest.mark.database_sensitive
def test_the_daily_quota_holds_and_infrastructure_failures_do_not_count(api, homework, people):
    client = api("student")
    for _ in range(homework.daily_quota):
        assert upload(client).status_code == 201
    refused = upload(client)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "quota_exceeded"
    Submission.objects.filter(user=people["student"]).update(status="failed", verdict="infrastructure_error")
    assert upload(client).status_code == 201


def test_after_the_deadline_submissions_are_closed(api, homework):
    homework.opens_at = timezone.now() - timedelta(days=9)
    homework.deadline = timezone.now() - timedelta(seconds=1)
    homework.save()
    response = upload(api("student"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "deadline_passed"


def test_only_tas_add_baselines(api, homework):
    assert upload(api("student"), baseline="true").json()["error"]["code"] == "not_course_staff"
    assert upload(api("ta"), baseline="true").json()["is_baseline"] is True


def test_a_submission_is_visible_to_its_owner_and_the_course_tas_only(api, homework):
    submission_id = upload(api("student")).json()["id"]
    assert api("student").get(f"/api/submissions/{submission_id}/").status_code == 200
    assert api("ta").get(f"/api/submissions/{submission_id}/").status_code == 200
    for persona in ("other_student", "other_ta", "outsider", None):
        assert api(persona).get(f"/api/submissions/{submission_id}/").status_code in (401, 404), persona
    assert api("other_student").get("/api/homeworks/hw1/submissions/").json() == []


def test_the_private_score_is_shown_only_after_the_reveal(api, homework):
    submission_id = upload(api("student")).json()["id"]
    Submission.objects.filter(pk=submission_id).update(
        status="scored", public_score=0.61, private_score=0.59, scores={"private": {"accuracy": 0.59}},
        trusted_diagnostics={"profile": "cpu", "public": {"calibration": {"ece": 0.125}},
                             "private": {"calibration": {"ece": 0.0625}, "gap_from_public": {"gap": 0.02}}})
    before = api("student").get(f"/api/submissions/{submission_id}/")
    assert before.json()["private_score"] is None and "0.59" not in before.content.decode()
    # before the reveal, a rounded summary of the hidden split (submissions.selectors._SUMMARY)
    assert before.json()["diagnostics"] == {"profile": "cpu", "public": {"calibration": {"ece": 0.12}},
                                            "detail_after_reveal": True}
    for persona in ("student", "ta"):  # the list and the TAs' view hide them too, until the reveal
        body = api(persona).get(f"/api/submissions/{submission_id}/").content.decode()
        assert "0.0625" not in body and "gap_from_public" not in body, persona
    assert "0.0625" not in api("student").get("/api/homeworks/hw1/submissions/").content.decode()
    homework.private_revealed_at = timezone.now() + timedelta(hours=1)  # a reveal scheduled for later
    homework.save()
    assert api("student").get(f"/api/submissions/{submission_id}/").json()["private_score"] is None
    homework.private_revealed_at = timezone.now()
    homework.save()
    after = api("student").get(f"/api/submissions/{submission_id}/").json()
    assert after["private_score"] == 0.59 and after["diagnostics"]["private"]["gap_from_public"] == {"gap": 0.02}


def test_a_ta_creates_a_homework_and_students_cannot(api, course, registered_dataset):
    payload = {"slug": "hw2", "title": "Homework 2", "dataset": "tiny",
               "opens_at": timezone.now().isoformat(), "deadline": (timezone.now() + timedelta(days=3)).isoformat()}
    assert api("student").post("/api/courses/dl101/homeworks/", payload, format="json").status_code == 404
    assert api("other_ta").post("/api/courses/dl101/homeworks/", payload, format="json").status_code == 404
    created = api("ta").post("/api/courses/dl101/homeworks/", payload, format="json")
    assert created.status_code == 201 and created.json()["dataset"] == "tiny"
    assert api("student").get("/api/homeworks/hw2/").json()["role"] == "student"
    again = api("ta").post("/api/courses/dl101/homeworks/", payload, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "homework_exists"


def test_a_homework_can_hide_logs_from_students_but_not_from_its_tas(api, homework):
    submission_id = upload(api("student")).json()["id"]
    Submission.objects.filter(pk=submission_id).update(status="failed", verdict="runtime_error",
                                                       message="ValueError: leaked-in-message",
                                                       log_tail="Traceback: secret-ish detail")
    assert "secret-ish" in api("student").get(f"/api/submissions/{submission_id}/").json()["log_tail"]
    homework.show_logs_to_students = False
    homework.save()
    hidden = api("student").get(f"/api/submissions/{submission_id}/")
    assert hidden.json()["log_tail"] is None and "leaked" not in hidden.content.decode()
    assert "raised an error" in hidden.json()["message"]  # the verdict's plain message instead
    assert api("student").get("/api/homeworks/hw1/submissions/").json()[0]["log_tail"] is None
    seen_by_ta = api("ta").get(f"/api/submissions/{submission_id}/").json()
    assert "secret-ish" in seen_by_ta["log_tail"] and seen_by_ta["message"] == "ValueError: leaked-in-message"


def test_a_time_limit_longer_than_the_grading_lease_is_refused(api, course, registered_dataset, settings):
    settings.BASIN_LEASE_SECONDS = 900
    payload = {"slug": "hw3", "title": "Homework 3", "dataset": "tiny", "time_limit_s": 1800,
               "opens_at": timezone.now().isoformat(), "deadline": (timezone.now() + timedelta(days=3)).isoformat()}
    response = api("ta").post("/api/courses/dl101/homeworks/", payload, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "time_limit_too_long"


def test_a_malformed_content_length_is_a_clear_400_not_a_500(api, homework):
    response = api("student").post("/api/homeworks/hw1/submissions/", b"",
                                   content_type="multipart/form-data; boundary=x",
                                   HTTP_CONTENT_LENGTH="lots", CONTENT_LENGTH="lots")
    assert response.status_code == 400


def test_a_token_is_issued_for_a_username_and_password(api, people):
    response = api(None).post("/api/auth/token/", {"username": "student", "password": "student-password-1"})
    assert response.status_code == 200 and len(response.json()["token"]) == 64  # knox: 32 random bytes, hex
    wrong = api(None).post("/api/auth/token/", {"username": "student", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"


def test_an_upload_sent_as_json_is_told_the_form_it_takes(api, homework):
    response = api("student").post("/api/homeworks/hw1/submissions/", {"file": "model.zip"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["message"] == ("This endpoint takes application/x-www-form-urlencoded or "
                                                   "multipart/form-data; send the request in that form.")


# claim, release and finish (conditional UPDATEs), their log lines on the database clock, rescore's locks
@pytest.mark.database_sensitive
def test_a_submissions_runs_show_their_history_and_only_staff_see_who_ran_them_and_why(api, homework, people):
    """A rescore adds runs beside the old ones; the worker, backend, timings and log of each run
    (infrastructure errors, lost workers) are the course staff's, never the student's."""
    from basin.submissions import runs, services

    submission = Submission.objects.create(homework=homework, user=people["student"], file="x.zip",
                                           original_name="x.zip", kind="bundle", size=1, sha256="0" * 64)
    first = runs.claim(runs.open_run(submission.pk, runs.SCORE).pk, runs.SCORE, "celery@gpu-1")
    runs.release(first, "InfrastructureError: Docker failed: 500 Server Error")
    again = runs.claim(first.run.pk, runs.SCORE, "celery@gpu-2")
    assert runs.finish(again, outcome="scored", status="scored", run_fields={"backend": "docker"},
                       submission_fields={"verdict": "scored", "public_score": 0.5})
    submission.refresh_from_db()
    assert services.rescore(submission)

    student = api("student").get(f"/api/submissions/{submission.pk}/").json()
    assert [(r["kind"], r["state"], r["outcome"], r["attempt"]) for r in student["runs"]] == [
        ("score", "finished", "scored", 2), ("score", "queued", "", 0)]
    assert student["attempts"] == 0 and student["status"] == "queued"  # its latest scoring run's
    assert all(r[key] is None for r in student["runs"] for key in ("worker", "backend", "timings", "log"))
    assert "Docker failed" not in str(student)

    ta = api("ta").get(f"/api/submissions/{submission.pk}/").json()
    old = ta["runs"][0]
    assert (old["worker"], old["backend"]) == ("celery@gpu-2", "docker")
    assert "try 1: InfrastructureError: Docker failed" in old["log"] and "try 2 on celery@gpu-2" in old["log"]
    assert "superseded" not in old["log"]  # it had ended: only a live run is cancelled by a rescore
