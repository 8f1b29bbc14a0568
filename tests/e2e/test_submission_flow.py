"""End to end, across real processes: a live web server, a separate Celery worker process, the
sandbox. A TA creates a homework over HTTP, a student uploads a checkpoint over HTTP, the worker
scores it, and the leaderboard page and API show the score. Once on the embedded default
(SQLite, a broker in files), once on PostgreSQL + Redis + Docker."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from basin.demo.management.commands.demo import worker_command
from basin.demo.services import LOGINS
from tests import factories, services

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_database():
    import psycopg

    name = f"basin_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["embedded-default", "postgres-redis-docker"])
def platform_env(request, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "BASIN_"))}
    env["BASIN_DATA_DIR"] = str(tmp_path / "data")
    if request.param == "embedded-default":
        docker_ok, _ = services.docker_sandbox()
        env["BASIN_SANDBOX_BACKEND"] = "docker" if docker_ok else "process"
        if docker_ok:
            services.exercised["docker"] = True
    else:
        for component in ("postgres", "redis", "docker"):
            services.require(component)
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/14").flushdb()
        env["DATABASE_URL"] = request.getfixturevalue("postgres_database")
        env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/14"
        env["BASIN_SANDBOX_BACKEND"] = "docker"
    return env


class Processes:
    def __init__(self, logs: Path):
        self.logs, self.running = logs, []

    def start(self, name: str, cmd: list[str], env: dict) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.running.append((name, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))

    def tails(self) -> str:
        return "\n".join(f"--- {name} ---\n{(self.logs / f'{name}.log').read_text(errors='replace')[-3000:]}"
                         for name, _ in self.running)

    def stop(self) -> None:
        for _, p in self.running:
            p.terminate()
        for _, p in self.running:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_for(predicate, timeout: float, what: str, processes: Processes):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}\n{processes.tails()}")


def test_a_checkpoint_submitted_over_http_is_scored_by_a_separate_worker(platform_env, tmp_path):
    env = platform_env
    seeded = subprocess.run([sys.executable, "manage.py", "demo", "--no-serve", "--no-baseline"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = Processes(tmp_path)
    try:
        processes.start("web", [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"], env)
        processes.start("worker", worker_command(), env)

        def web_up():
            try:
                return requests.get(f"{base}/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(web_up, 60, "the web server", processes)
        session = requests.Session()

        def token(persona: str) -> dict:
            username, password = LOGINS[persona]
            r = session.post(f"{base}/api/auth/token/", data={"username": username, "password": password}, timeout=10)
            assert r.status_code == 200, r.text
            return {"Authorization": f"Token {r.json()['token']}"}

        ta, student = token("ta"), token("student")
        now = datetime.now(timezone.utc)
        created = session.post(f"{base}/api/courses/dl101/homeworks/", headers=ta, timeout=10, json={
            "slug": "e2e", "title": "End-to-end homework", "dataset": "dmnist-demo",
            "opens_at": (now - timedelta(minutes=1)).isoformat(), "deadline": (now + timedelta(days=1)).isoformat()})
        assert created.status_code == 201, created.text

        # The student submits with the `basin` CLI, over HTTP, and waits for the verdict.
        state = factories.baseline_state(seed=11)
        checkpoint = factories.write(tmp_path / "my-model.zip", factories.bundle(state=state))
        cli_env = env | {"BASIN_TOKEN": student["Authorization"].split()[1], "XDG_CONFIG_HOME": str(tmp_path)}
        cli = subprocess.run([sys.executable, "-m", "basin_cli", "--url", base, "--json", "submit", str(checkpoint),
                              "--homework", "e2e", "-m", "e2e", "--wait"],
                             env=cli_env, capture_output=True, text=True, timeout=300)
        assert cli.returncode == 0, cli.stdout + cli.stderr + processes.tails()
        result = json.loads(cli.stdout)
        assert result["status"] == "scored" and result["note"] == "e2e" and result["original_name"] == "my-model.zip"
        assert session.get(f"{base}/api/submissions/{result['id']}/", headers=student, timeout=10).json() == result
        dataset = Path(env["BASIN_DATA_DIR"]) / "datasets" / "dmnist-demo"
        assert result["public_score"] == pytest.approx(factories.expected_accuracy(dataset, state)[0], abs=2 / 300)
        assert result["private_score"] is None  # not before the reveal

        board = session.get(f"{base}/api/homeworks/e2e/leaderboard/", timeout=10).json()
        assert [(r["name"], r["public_score"], r["rank"]) for r in board["rows"]] == [
            ("student", result["public_score"], 1)]
        page = session.get(f"{base}/homeworks/e2e/leaderboard/", timeout=10)
        assert page.status_code == 200 and f"{result['public_score']:.4f}" in page.text
        for name, p in processes.running:
            assert p.poll() is None, f"{name} died\n{processes.tails()}"
    finally:
        processes.stop()
