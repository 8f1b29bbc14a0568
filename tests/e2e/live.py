"""A live Basin for end-to-end tests: seeded by `manage.py demo`, a real web server on loopback,
real Celery worker processes, all with their own data directory.

`manage.py demo` runs once per test run and database kind (SQLite, PostgreSQL), in whichever test
process asks first (tests/run_once.py); each live platform starts from a copy of what it wrote: the
data directory (datasets, toolkit, secret key; not the instance id, so each platform's watchdog
still sees only its own containers) and, on PostgreSQL, a database made from a template database
in one statement."""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from basin.demo.management.commands.demo import worker_command
from basin.demo.services import LOGINS
from tests import run_once

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_sandbox() -> str:
    """The sandbox the live platform grades in: Docker where an engine and the image are ready (and
    counted as exercised), the process sandbox otherwise."""
    from tests import services

    docker_ok, _ = services.docker_sandbox()
    services.exercised["docker"] |= docker_ok
    return "docker" if docker_ok else "process"


def sandbox_containers(label: str) -> list:
    """Sandbox containers (running or not) with a label, e.g. "basin.instance=<id>"."""
    import docker

    client = docker.from_env()
    try:
        return client.containers.list(all=True, filters={"label": label})
    finally:
        client.close()


def base_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "BASIN_"))}
    return env | {"BASIN_DATA_DIR": str(data_dir)}


# What a copy leaves out: each platform's own identity and its own broker, beat and work files.
NOT_COPIED = ("instance_id", "broker", "celerybeat-schedule", "work", "basin.sqlite3-journal")
POSTGRES_ADMIN = "host=127.0.0.1 user=postgres dbname=test"


def demo(env: dict) -> None:
    done = subprocess.run([sys.executable, "manage.py", "demo", "--no-serve", "--no-baseline"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr


def _postgres(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(statement)


def seeded(postgres: bool) -> tuple[Path, str | None]:
    """A data directory seeded by `manage.py demo` once per run, whichever test process asks first
    (tests/run_once.py), and on PostgreSQL the name of the template database it seeded (dropped
    when the run ends)."""
    run_id = hashlib.sha256(str(run_once.run_dir()).encode()).hexdigest()[:12]  # a name SQL takes unquoted
    template = f"basin_e2e_seed_{run_id}" if postgres else None

    def make(folder: Path) -> None:
        env = base_env(folder)
        if template:
            sqlite_seed, _ = seeded(postgres=False)  # the dataset files, built once: the demo registers them
            shutil.copytree(sqlite_seed / "datasets", folder / "datasets")
            run_once.at_end(template, [sys.executable, "-c", "import sys, psycopg; psycopg.connect(sys.argv[1], "
                                       "autocommit=True).execute(sys.argv[2])", POSTGRES_ADMIN,
                                       f"DROP DATABASE IF EXISTS {template} WITH (FORCE)"])
            _postgres(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
            _postgres(f"CREATE DATABASE {template}")
            env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{template}"
        demo(env)
        (folder / "instance_id").unlink(missing_ok=True)

    return run_once.made("e2e-seed-postgres" if postgres else "e2e-seed-sqlite", make), template


class LivePlatform:
    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.base = f"http://127.0.0.1:{free_port()}"
        self.http = requests.Session()

    def seed(self) -> None:
        """What `manage.py demo --no-serve --no-baseline` makes, copied from the run's seed
        (see the module's docstring); the database, on PostgreSQL, made anew from its template."""
        database = self.env.get("DATABASE_URL")
        source, template = seeded(postgres=bool(database))
        shutil.copytree(source, self.env["BASIN_DATA_DIR"], ignore=shutil.ignore_patterns(*NOT_COPIED),
                        dirs_exist_ok=True)
        # An identity of its own, as `manage.py demo` would have made in an empty data directory.
        (Path(self.env["BASIN_DATA_DIR"]) / "instance_id").write_text(secrets.token_hex(6))
        if database:
            name = urlsplit(database).path.lstrip("/")
            _postgres(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            _postgres(f"CREATE DATABASE {name} TEMPLATE {template}")

    def start(self, name: str, cmd: list[str], **env_extra) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(cmd, cwd=ROOT, env=self.env | env_extra, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def start_web(self) -> None:
        self.start("web", [sys.executable, "-m", "django", "runserver", "--noreload", self.base.removeprefix("http://")])

        def up():
            try:
                return self.http.get(f"{self.base}/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        self.wait_for(up, 60, "the web server")

    def start_worker(self, name: str = "worker", beat: bool = True, **env_extra) -> subprocess.Popen:
        return self.start(name, worker_command(beat=beat), **env_extra)

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children (a worker's pool): no chance to clean up."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def instance(self) -> str:
        """The Basin instance id the platform's processes share (their sandbox containers carry it)."""
        return (Path(self.env["BASIN_DATA_DIR"]) / "instance_id").read_text().strip()

    def tails(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}\n{self.tails()}")

    def token(self, persona: str) -> dict:
        username, password = LOGINS[persona]
        r = self.http.post(f"{self.base}/api/auth/token/", data={"username": username, "password": password},
                           timeout=10)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Token {r.json()['token']}"}

    def create_homework(self, slug: str, **options) -> None:
        now = datetime.now(UTC)
        r = self.http.post(f"{self.base}/api/courses/dl101/homeworks/", headers=self.token("ta"), timeout=10, json={
            "slug": slug, "title": f"Homework {slug}", "dataset": "dmnist-demo",
            "opens_at": (now - timedelta(minutes=1)).isoformat(), "deadline": (now + timedelta(days=1)).isoformat(),
            **options})
        assert r.status_code == 201, r.text

    def submission(self, submission_id: int, headers: dict) -> dict:
        return self.http.get(f"{self.base}/api/submissions/{submission_id}/", headers=headers, timeout=10).json()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class RedisBroker:
    """A Redis server of the test's own, so that it can be killed and started again. No
    persistence: a restart loses every queued message, the harder case for the platform."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        self.workdir, self.port = workdir, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.workdir)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        pytest.fail("the test's redis-server did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
