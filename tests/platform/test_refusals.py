"""Refusals a student can act on: an empty file, and a file identical to one already graded or waiting."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from basin.submissions.models import Submission
from tests.platform.test_submissions_api import fresh_bundle, upload

pytestmark = pytest.mark.django_db

EMPTY = ("model.zip is empty (0 bytes): nothing was saved into it. Export the checkpoint again (in the notebook, "
         "run the cell that saves the bundle) and upload the file it writes.")


def duplicate_message(pk: int, status: str) -> str:
    return (f"This file is identical to your submission #{pk} ({status}): it would be graded the same, so it was not "
            "taken and used none of your quota. Submit a changed checkpoint, or send it again with "
            "`basin submit --force`.")


def test_an_empty_file_is_told_it_is_empty_and_how_to_export_again(api, homework):
    response = upload(api("student"), data=b"")
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "empty_file", "message": EMPTY, "details": {"size_bytes": 0}}
    assert not Submission.objects.exists()


@pytest.mark.parametrize("status", ["queued", "running", "scored"])
def test_a_file_identical_to_one_graded_or_waiting_is_refused_and_uses_no_quota(api, homework, status):
    client = api("student")
    data = fresh_bundle()
    first = upload(client, data=data).json()["id"]
    Submission.objects.filter(pk=first).update(status=status)
    left = client.get("/api/homeworks/hw1/").json()["quota"]["left"]
    again = upload(client, data=data, name="renamed.zip")
    assert again.status_code == 409
    assert again.json()["error"] == {"code": "duplicate_submission", "message": duplicate_message(first, status),
                                     "details": {"submission_id": first, "status": status}}
    assert client.get("/api/homeworks/hw1/").json()["quota"]["left"] == left
    assert Submission.objects.count() == 1


def test_force_takes_an_identical_file_and_a_failed_or_cancelled_one_is_no_duplicate(api, homework):
    client = api("student")
    data = fresh_bundle()
    first = upload(client, data=data).json()["id"]
    forced = upload(client, data=data, force="true")
    assert forced.status_code == 201, forced.json()
    Submission.objects.filter(pk__in=[first, forced.json()["id"]]).update(status="failed", verdict="runtime_error")
    assert upload(client, data=data).status_code == 201


def test_another_students_identical_file_is_no_duplicate(api, homework):
    data = fresh_bundle()
    assert upload(api("student"), data=data).status_code == 201
    assert upload(api("other_student"), data=data).status_code == 201


def test_the_web_form_gets_the_same_refusal_through_the_session(client, homework, people):
    client.force_login(people["student"])
    data = fresh_bundle()

    def send():
        return client.post("/api/homeworks/hw1/submissions/",
                           {"file": SimpleUploadedFile("m.zip", data, content_type="application/zip")},
                           HTTP_ACCEPT="application/json")

    first = send().json()["id"]
    again = send()
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_submission"
    assert f"#{first}" in again.json()["error"]["message"]
