"""The deployment's images on this machine's Docker engine: the platform image, built offline from
the debootstrap base (deploy/platform/build-offline.sh), runs as the web service (gunicorn,
production settings) and as a grading worker with the Docker socket, against PostgreSQL and a
Redis of the test's own; a student's upload over HTTP is graded in the sandbox image end to end."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
import uuid

import pytest
import requests

from basin.demo.services import HOMEWORK_SLUG, LOGINS
from tests import factories, services

from .live import ROOT, LivePlatform, RedisBroker, base_env, free_port

IMAGE = "basin-platform:local"


def docker(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def containers():
    started: list[str] = []
    yield started
    for name in started:
        docker("rm", "-f", name)


def test_the_platform_image_serves_and_grades_a_submission(tmp_path, postgres_database, containers):
    services.require("postgres")
    ready, why = services.docker_sandbox()
    if not ready:
        pytest.skip(f"the Docker sandbox is not available: {why}")
    services.exercised["docker"] = True
    built = subprocess.run(["bash", str(ROOT / "deploy/platform/build-offline.sh"), IMAGE], capture_output=True,
                           text=True, timeout=900, env=os.environ | {"PYTHON": sys.executable})
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-4000:]

    broker = RedisBroker(tmp_path)
    broker.start()
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "logs").mkdir()
    env = base_env(data) | {"DATABASE_URL": postgres_database, "CELERY_BROKER_URL": broker.url}
    seeded = LivePlatform(env, tmp_path / "logs")
    seeded.seed()  # the demo's course, homework, dataset and logins, written by the host's Basin
    subprocess.run(["chmod", "-R", "a+rwX", str(tmp_path)], check=True)  # the image runs as uid 10001

    port, tag = free_port(), uuid.uuid4().hex[:8]
    settings = {"DATABASE_URL": postgres_database, "CELERY_BROKER_URL": broker.url, "BASIN_DATA_DIR": str(data),
                "BASIN_PRODUCTION": "1", "BASIN_SECRET_KEY": secrets.token_urlsafe(50),
                "BASIN_ALLOWED_HOSTS": "basin.test", "BASIN_SANDBOX_BACKEND": "docker",
                "BASIN_INSTANCE": seeded.instance(), "BASIN_LOG_FORMAT": "json"}
    common = ["--network", "host", "-v", f"{data}:{data}", *[f"-e{k}={v}" for k, v in settings.items()]]
    socket_group = str(os.stat("/var/run/docker.sock").st_gid)
    for name, extra, command in (
            (f"basin-web-{tag}", ["-e", f"BASIN_WEB_PORT={port}", "-e", "BASIN_WEB_WORKERS=2",
                                  "-e", f"BASIN_STATIC_ROOT={data}/static"], ["web"]),
            (f"basin-grader-{tag}", ["-v", "/var/run/docker.sock:/var/run/docker.sock", "--group-add", socket_group,
                                     "-e", f"BASIN_WORK_DIR={data}/work", "-e", "BASIN_SANDBOX_IMAGE=basin-sandbox:cpu",
                                     "-e", "BASIN_DIAGNOSTICS=off"],
             ["worker", "-Q", "scoring,basin", "-n", "grader@%h", "--concurrency", "1"])):
        run = docker("run", "-d", "--name", name, *common, *extra, IMAGE, *command)
        assert run.returncode == 0, run.stderr
        containers.append(name)

    base = f"http://127.0.0.1:{port}"
    # Production settings, as behind the proxy: its host name, and HTTPS said by X-Forwarded-Proto.
    http = requests.Session()
    http.headers.update({"Host": "basin.test", "X-Forwarded-Proto": "https"})

    def logs() -> str:
        return "\n".join(f"--- {n} ---\n{docker('logs', '--tail', '60', n).stdout}"
                         f"{docker('logs', '--tail', '60', n).stderr}" for n in containers)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if http.get(f"{base}/health/", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(1)
    else:
        pytest.fail(f"the web container did not answer /health/\n{logs()}")

    # The container's own healthcheck (compose's) passes under production's host check and HTTPS redirect.
    health = docker("exec", containers[0], "basin-entrypoint", "health")
    assert health.returncode == 0, health.stdout + health.stderr
    assert requests.get(f"{base}/health/", timeout=5, allow_redirects=False).status_code == 400  # unknown host
    # Templates, static files and the API's docs come with the installed package, not a checkout.
    page = http.get(f"{base}/homeworks/{HOMEWORK_SLUG}/leaderboard/", timeout=10)
    assert page.status_code == 200 and "difficult-MNIST" in page.text, logs()
    assert http.get(f"{base}/api/docs/", timeout=10).status_code == 200
    # The student toolkit was built when the web container started, from the sources the image runs.
    from basin.toolkit.wheel import current_version

    start = docker("logs", containers[0])
    built = re.search(r"^student toolkit (\S+): ", start.stdout + start.stderr, re.MULTILINE)  # build_toolkit, at start
    assert built and built[1] == current_version(), logs()  # the same sources give the same version anywhere
    index = http.get(f"{base}/simple/basin-toolkit/", timeout=10)
    assert index.status_code == 200 and f"basin_toolkit-{built[1]}-py3-none-any.whl" in index.text, logs()

    username, password = LOGINS["student"]
    token = http.post(f"{base}/api/auth/token/", data={"username": username, "password": password},
                          timeout=10).json()["token"]
    headers = {"Authorization": f"Token {token}"}
    upload = http.post(f"{base}/api/homeworks/{HOMEWORK_SLUG}/submissions/", headers=headers,
                           files={"file": ("model.zip", factories.bundle())}, timeout=60)
    assert upload.status_code == 201, upload.text
    submission_id = upload.json()["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        body = http.get(f"{base}/api/submissions/{submission_id}/", headers=headers, timeout=10).json()
        if body["status"] in ("scored", "failed"):
            break
        time.sleep(2)
    else:
        pytest.fail(f"submission {submission_id} was not graded\n{logs()}")
    assert body["status"] == "scored", (body, logs())
    assert 0 <= body["public_score"] <= 1

    import psycopg  # the row the grader container wrote, read from PostgreSQL

    with psycopg.connect(postgres_database.replace("postgres://", "postgresql://")) as conn:
        backend, worker = conn.execute("SELECT backend, worker FROM submissions_run WHERE submission_id = %s "
                                       "AND kind = 'score'", (submission_id,)).fetchone()
    assert backend == "docker" and worker.startswith("grader@"), (backend, worker)
