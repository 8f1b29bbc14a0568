"""A worker killed with SIGKILL in the middle of grading loses nothing: the watchdog notices the
expired lease, a new worker grades the submission, and the orphaned container is removed."""
from __future__ import annotations

import pytest
import requests

from tests import factories

from .live import LivePlatform, base_env, local_sandbox, sandbox_containers

# Slow enough to be seen running and killed; far inside the time limit.
SLOW_START = (factories.BASELINE_SOURCE
              + "\nimport time\n_build = build_model\ndef build_model():\n    time.sleep(4)\n    return _build()\n")


def test_a_submission_survives_its_worker_being_killed(tmp_path):
    sandbox = local_sandbox()
    docker_ok = sandbox == "docker"
    env = base_env(tmp_path / "data") | {"BASIN_SANDBOX_BACKEND": sandbox}
    live = LivePlatform(env, tmp_path)
    live.seed()
    # A short lease (allowed outside production) and a frequent watchdog: the lost attempt is noticed
    # in seconds, not the quarter of an hour production would wait.
    fast = {"BASIN_LEASE_SECONDS": "45", "BASIN_LEASE_MARGIN_SECONDS": "10", "BASIN_WATCHDOG_SECONDS": "2"}
    try:
        live.start_web()
        live.create_homework("loss", time_limit_s=35, diagnostics_enabled=False)
        student = live.token("student")
        live.start_worker("worker-1", **fast)
        upload = live.http.post(f"{live.base}/api/homeworks/loss/submissions/", headers=student, timeout=30,
                                files={"file": ("slow.zip", factories.bundle(model_source=SLOW_START))})
        assert upload.status_code == 201, upload.text
        submission_id = upload.json()["id"]
        live.wait_for(lambda: live.submission(submission_id, student)["status"] == "running", 60, "grading to start")
        if docker_ok:
            live.wait_for(lambda: sandbox_containers(f"basin.submission={submission_id}"), 30, "the sandbox container")
        live.kill("worker-1")

        live.start_worker("worker-2", **fast)
        done = live.wait_for(lambda: (s := live.submission(submission_id, student))["status"] in ("scored", "failed")
                             and s, 240, "the watchdog and a new worker to finish the submission")
        assert done["status"] == "scored", (done, live.tails())
        assert done["attempts"] == 2  # the lost attempt, then the one that finished
        if docker_ok:
            live.wait_for(lambda: not sandbox_containers(f"basin.submission={submission_id}"), 30,
                          "the orphaned container's removal")
    except requests.ConnectionError:
        pytest.fail(live.tails())
    finally:
        live.stop()
