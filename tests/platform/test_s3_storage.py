"""BASIN_STORAGE=s3 against a real S3-compatible server process (moto_server on loopback): uploads
land in the bucket as private objects, the grader and the diagnostics run read them from there, and
a configuration without a bucket or keys is refused at start-up."""
from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.core.checks import run_checks
from django.core.files.uploadedfile import SimpleUploadedFile

import basin
from basin.submissions.models import Submission
from tests import factories

# Storage, broker, logs and settings: the same on SQLite and PostgreSQL; not re-run there.


ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCESS_KEY = "basin-test-key"
SECRET_KEY = "basin-test-secret"
PREFIX = "basin-test"


def settings_from_env(env: dict[str, str], data_dir: Path):
    """platform/basin/settings.py run afresh under `env`: exactly what a process started with it gets."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n == "BASIN_STORAGE" or n.startswith("BASIN_S3_")]:
            mp.delenv(name)
        mp.setenv("BASIN_DATA_DIR", str(data_dir))
        for name, value in env.items():
            mp.setenv(name, value)
        spec = importlib.util.spec_from_file_location("basin._settings_under_test",
                                                      Path(basin.__file__).parent / "settings.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY)


def _skip(reason: str):
    print(f"\ntest_s3_storage skipped: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """A moto_server process on a free loopback port, with a fresh bucket; stopped after the module."""
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as e:
        _skip(f"moto[server] or boto3 is not installed ({e}); pip install -e '.[test]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # no real account, ever
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    client = _client(endpoint)
    bucket = f"basin-{secrets.token_hex(4)}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                _skip(f"moto_server exited with {server.returncode}: {log.read_text()[-500:]}")
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception as e:  # not listening yet
                if time.monotonic() > deadline:
                    _skip(f"moto_server did not answer on {endpoint} within 60 s: {e}")
                time.sleep(0.2)
        yield {"endpoint": endpoint, "bucket": bucket, "client": client}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def s3_options(s3_server, tmp_path_factory):
    """The default storage that settings.py builds from the BASIN_S3_* variables, the secret read
    from a file as a container secret would be."""
    data_dir = tmp_path_factory.mktemp("s3-settings")
    (data_dir / "s3_secret").write_text(SECRET_KEY + "\n")
    loaded = settings_from_env({
        "BASIN_STORAGE": "s3", "BASIN_S3_BUCKET": s3_server["bucket"], "BASIN_S3_ENDPOINT_URL": s3_server["endpoint"],
        "BASIN_S3_REGION": REGION, "BASIN_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "BASIN_S3_SECRET_ACCESS_KEY_FILE": str(data_dir / "s3_secret"), "BASIN_S3_PREFIX": f"/{PREFIX}/",
        "BASIN_S3_ADDRESSING_STYLE": "path"}, data_dir)
    assert loaded.BASIN_STORAGE == "s3"
    return loaded.STORAGES["default"]


@pytest.fixture
def s3(s3_server, s3_options, settings):
    """This test stores through S3. MEDIA_ROOT (per test, from conftest) must stay absent: nothing
    may fall back to local disk."""
    assert s3_options["OPTIONS"]["secret_key"] == SECRET_KEY  # read from BASIN_S3_SECRET_ACCESS_KEY_FILE
    settings.BASIN_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": s3_options}  # Django resets default_storage
    return s3_server


def _keys(s3_server) -> list[str]:
    listed = s3_server["client"].list_objects_v2(Bucket=s3_server["bucket"], Prefix=f"{PREFIX}/")
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.django_db
def test_a_students_upload_lands_in_the_bucket_as_a_private_object(s3, api, homework, settings):
    data = factories.bundle()
    response = api("student").post(
        "/api/homeworks/hw1/submissions/",
        {"file": SimpleUploadedFile("model.zip", data, content_type="application/zip")}, format="multipart")
    assert response.status_code == 201, response.json()
    stored = Submission.objects.get(pk=response.json()["id"])
    key = f"{PREFIX}/{stored.file.name}"
    assert key in _keys(s3) and stored.file.name.startswith(f"submissions/{homework.pk}/")
    assert s3["client"].get_object(Bucket=s3["bucket"], Key=key)["Body"].read() == data
    assert not Path(settings.MEDIA_ROOT).exists()

    grants = s3["client"].get_object_acl(Bucket=s3["bucket"], Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only: no AllUsers grant
    assert all("URI" not in g["Grantee"] for g in grants)

    signed = stored.file.url  # what Basin would hand out: signed, expiring
    assert "Signature=" in signed
    assert requests.get(signed, timeout=10).content == data
    unsigned = urlunsplit(urlsplit(signed)._replace(query=""))
    assert requests.get(unsigned, timeout=10).status_code == 403

    # The server does serve anonymous reads of a public object: the 403 above is the private ACL.
    s3["client"].put_object(Bucket=s3["bucket"], Key=f"{PREFIX}/public-probe", Body=b"open", ACL="public-read")
    probe = unsigned.rsplit(f"/{PREFIX}/", 1)[0] + f"/{PREFIX}/public-probe"
    assert requests.get(probe, timeout=10).content == b"open"


@pytest.mark.django_db
def test_the_grader_scores_and_diagnoses_a_submission_read_from_the_bucket(s3, scored_submission, settings,
                                                                             monkeypatch):
    from tests.runs import diagnose

    # The diagnostics message is recorded, not sent: the broker is the end-to-end tests' part.
    sent = []
    from basin import dispatch

    monkeypatch.setattr(dispatch, "send",
                        lambda task, pk, countdown=0: task != dispatch.DIAGNOSE or sent.append(pk) or True)
    submission = scored_submission()  # stored in the bucket, then graded by the process sandbox
    assert f"{PREFIX}/{submission.file.name}" in _keys(s3)
    assert not Path(settings.MEDIA_ROOT).exists()  # so the grader read it from S3
    assert submission.runs.get(kind="score").backend == "process" and 0.0 <= submission.public_score <= 1.0
    assert sent == [submission.runs.get(kind="diagnose").pk]
    diagnose(submission)
    submission.refresh_from_db()
    assert submission.diagnostics_status == "complete", submission.sandbox_diagnostics


def _storage_errors(settings, options: dict) -> dict[str, str]:
    settings.BASIN_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage",
                                                          "OPTIONS": options}}
    return {m.id: f"{m.msg} {m.hint}" for m in run_checks(tags=["basin"]) if m.id in {"basin.E004", "basin.E005"}}


def test_the_check_names_the_variable_a_bucket_or_its_keys_need(settings):
    complete = {"bucket_name": "basin", "access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    assert _storage_errors(settings, complete) == {}
    no_bucket = _storage_errors(settings, {**complete, "bucket_name": ""})
    assert set(no_bucket) == {"basin.E004"} and "BASIN_S3_BUCKET" in no_bucket["basin.E004"]
    no_secret = _storage_errors(settings, {**complete, "secret_key": ""})
    assert set(no_secret) == {"basin.E005"} and "BASIN_S3_SECRET_ACCESS_KEY" in no_secret["basin.E005"]
    assert "BASIN_S3_ACCESS_KEY_ID" not in no_secret["basin.E005"]
    settings.BASIN_STORAGE = "local"
    assert not {"basin.E004", "basin.E005"} & {m.id for m in run_checks(tags=["basin"])}


def test_storage_is_local_by_default_and_start_up_refuses_s3_without_a_bucket(tmp_path):
    assert settings_from_env({}, tmp_path).STORAGES["default"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASIN_S3_")} | {
        "BASIN_DATA_DIR": str(tmp_path), "BASIN_STORAGE": "s3", "BASIN_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "BASIN_S3_SECRET_ACCESS_KEY": SECRET_KEY}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "basin.E004" in done.stderr and "BASIN_S3_BUCKET" in done.stderr, (
        done.stdout + done.stderr)
    assert "basin.E005" not in done.stderr
