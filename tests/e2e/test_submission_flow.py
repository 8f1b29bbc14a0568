"""End to end, across real processes: a live web server, a separate Celery worker process, the
sandbox. A TA creates a homework over HTTP, a student submits a checkpoint with the `basin` CLI,
the worker scores it, and the leaderboard page and API show the score. Once on the embedded
default (SQLite, a broker in files), once on PostgreSQL + Redis + Docker."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories, services

from .live import LivePlatform, base_env, local_sandbox


@pytest.fixture(params=["embedded-default", "postgres-redis-docker"])
def platform_env(request, tmp_path):
    env = base_env(tmp_path / "data")
    if request.param == "embedded-default":
        env["BASIN_SANDBOX_BACKEND"] = local_sandbox()
    else:
        for component in ("postgres", "redis", "docker"):
            services.require(component)
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/14"
        env["BASIN_SANDBOX_BACKEND"] = "docker"
    return env


def test_a_checkpoint_submitted_over_http_is_scored_by_a_separate_worker(platform_env, tmp_path):
    live = LivePlatform(platform_env, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.start_worker()
        live.create_homework("e2e", diagnostics_budget=factories.SMALL_BUDGET)
        student = live.token("student")

        # The student submits with the `basin` CLI, over HTTP, and waits for the verdict.
        state = factories.baseline_state(seed=11)
        checkpoint = factories.write(tmp_path / "my-model.zip", factories.bundle(state=state))
        cli_env = platform_env | {"BASIN_TOKEN": student["Authorization"].split()[1], "XDG_CONFIG_HOME": str(tmp_path)}
        cli = subprocess.run([sys.executable, "-m", "basin_cli", "--url", live.base, "--json", "submit",
                              str(checkpoint), "--homework", "e2e", "-m", "e2e", "--wait"],
                             env=cli_env, capture_output=True, text=True, timeout=300)
        assert cli.returncode == 0, cli.stdout + cli.stderr + live.tails()
        result = json.loads(cli.stdout)
        assert result["status"] == "scored" and result["note"] == "e2e" and result["original_name"] == "my-model.zip"
        moving = ("diagnostics", "diagnostics_status")  # the diagnostics run starts after the score is stored
        assert {k: v for k, v in live.submission(result["id"], student).items() if k not in moving} == {
            k: v for k, v in result.items() if k not in moving}
        dataset = Path(platform_env["BASIN_DATA_DIR"]) / "datasets" / "dmnist-demo"
        assert result["public_score"] == pytest.approx(factories.expected_accuracy(dataset, state)[0], abs=2 / 300)
        assert result["private_score"] is None  # not before the reveal

        board = live.http.get(f"{live.base}/api/homeworks/e2e/leaderboard/", timeout=10).json()
        assert [(r["name"], r["public_score"], r["rank"]) for r in board["rows"]] == [
            ("student", result["public_score"], 1)]
        page = live.http.get(f"{live.base}/homeworks/e2e/leaderboard/", timeout=10)
        assert page.status_code == 200 and f"{result['public_score']:.4f}" in page.text

        # Then the same worker takes the diagnostics run from its lower-priority queue.
        def diagnosed():
            s = live.submission(result["id"], student)
            return s if s["diagnostics_status"] in ("complete", "partial", "failed") else None

        done = live.wait_for(diagnosed, 180, "the diagnostics run")
        assert done["diagnostics_status"] == "complete", done["diagnostics"].get("model")
        model = done["diagnostics"]["model"]
        assert len(model["landscape"]["lines"]) == 3
        assert model["sharpness"]["probes"] == factories.SMALL_BUDGET["hutchinson_probes"]
        assert done["public_score"] == result["public_score"]
        for name, process in live.processes.items():
            assert process.poll() is None, f"{name} died\n{live.tails()}"
    finally:
        live.stop()
