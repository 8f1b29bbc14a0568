"""The web looks into an upload only after the cheap rules let it through (deadline, quota, size),
and a file it cannot read is a 400 invalid_submission in the JSON error shape, never a 500."""
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from basin.submissions.models import Submission
from tests import factories
from tests.grader.zipcraft import Entry, build

pytestmark = pytest.mark.django_db

MODEL = b"def build_model():\n    pass\n"
# What a hostile student might send: each crashed or slowed the format check before.
HOSTILE = {
    "encrypted entry": build([Entry(b"model.py", MODEL, flags=1), Entry(b"weights.safetensors")]),
    "unknown compression method": build([Entry(b"model.py", MODEL, method=99), Entry(b"weights.safetensors")]),
    "name mismatch": build([Entry(b"model.py", MODEL, local_name=b"other.py"), Entry(b"weights.pt", b"x")]),
    "4,301-digit integer": build([Entry(b"model.py", MODEL), Entry(b"weights.safetensors", len(
        h := b'{"x":{"dtype":"F32","shape":[' + b"9" * 4301 + b'],"data_offsets":[0,4]}}').to_bytes(8, "little") + h)]),
    "1 GiB weights.pt at ratio 90": build([Entry(b"model.py", MODEL), Entry(b"weights.pt", method=8, file_size=1 << 30,
                                                                           raw=b"\x17" * (12 << 20))]),
}


def upload(client, data: bytes, name="model.zip"):
    file = SimpleUploadedFile(name, data, content_type="application/zip")
    return client.post("/api/homeworks/hw1/submissions/", {"file": file}, format="multipart")


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_file_the_check_cannot_read_is_an_invalid_submission_not_a_500(api, homework, data):
    response = upload(api("student"), data)
    assert response.status_code == 400, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == "invalid_submission" and "Traceback" not in error["message"]
    assert not Submission.objects.exists()


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_after_the_deadline_the_upload_is_refused_before_it_is_inspected(api, homework, data):
    homework.deadline = timezone.now() - timedelta(minutes=1)
    homework.save()
    response = upload(api("student"), data)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "deadline_passed")


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_with_the_quota_used_the_upload_is_refused_before_it_is_inspected(api, homework, data):
    for seed in range(homework.daily_quota):  # distinct files: an identical one is refused as a duplicate
        assert upload(api("student"), factories.bundle(state=factories.baseline_state(seed=seed))).status_code == 201
    response = upload(api("student"), data)
    assert (response.status_code, response.json()["error"]["code"]) == (429, "quota_exceeded")


def test_a_ta_still_adds_a_baseline_after_the_deadline(api, homework):
    homework.deadline = timezone.now() - timedelta(minutes=1)
    homework.save()
    response = api("ta").post("/api/homeworks/hw1/submissions/", {
        "file": SimpleUploadedFile("b.zip", factories.bundle()), "baseline": True}, format="multipart")
    assert response.status_code == 201, response.json()
