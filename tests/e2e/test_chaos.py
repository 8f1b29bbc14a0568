"""Deadline night with things breaking: 12 submissions are graded while the worker processes are
killed with SIGKILL several times and the broker is killed and restarted once (losing every queued
message, and with uploads arriving while it is down). Every submission must end in exactly one
terminal state with the verdict and scores of a calm run of the same file (each checkpoint is sent
twice: a copy graded in one attempt, else a quiet run after), no submission may count a lost attempt
against the student, and no sandbox container may be left behind.

Production components throughout: PostgreSQL, a Redis broker of the test's own, Docker, real
Celery worker processes with the watchdog in Celery beat, a live web server. A killed worker is
restarted under its own name, so it gives back the run it held as it starts (the lease-expiry
path, a worker that never comes back, is tests/e2e/test_worker_loss.py's).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from basin_grader.evaluate import evaluate
from basin_grader.sandbox import SandboxLimits, get_backend
from tests import factories, services

from .live import LivePlatform, RedisBroker, base_env, sandbox_containers

TOTAL = 12  # each of the six checkpoints twice
FIRST_BURST = 9  # the rest arrive while the broker is down
TIME_LIMIT_S = 35
# Short lease (allowed outside production), frequent watchdog, quick resend: a lost attempt costs
# the test seconds, not the quarter of an hour production would wait.
FAST = {"BASIN_LEASE_SECONDS": "45", "BASIN_LEASE_MARGIN_SECONDS": "10", "BASIN_WATCHDOG_SECONDS": "2",
        "BASIN_RESEND_AFTER_SECONDS": "10"}


def variants() -> dict[str, tuple[str, bytes]]:
    """Six different checkpoints (file name, bytes): three models, a .pt, and two that fail."""
    out = {f"seed{s}": (f"seed{s}.zip", factories.bundle(state=factories.baseline_state(seed=s))) for s in range(1, 4)}
    out["pt"] = ("pt.zip", factories.bundle(state=factories.baseline_state(seed=6), weights_name="weights.pt"))
    out["raises"] = ("raises.zip", factories.bundle(model_source=factories.RAISES_IN_BUILD))
    out["wrong-shape"] = ("wrong-shape.zip", factories.bundle(model_source=factories.WRONG_SHAPE))
    return out


# The verdict each checkpoint earns (a loaded machine may turn a model's "scored" into "time_limit").
EXPECTED = {"seed1": ("scored",), "seed2": ("scored",), "seed3": ("scored",), "pt": ("scored",),
            "raises": ("runtime_error",), "wrong-shape": ("invalid_submission",)}


# Graded quietly after the chaos whatever the copies say: an anchor no fault of the live platform
# can reach (one that hit both copies of a checkpoint alike would pass the comparison of twins).
ALWAYS_QUIET = ("seed1",)


def calm_results(final: list[dict], order: list[str], checkpoints: dict, tmp_path: Path, dataset: Path) -> dict:
    """(verdict, message, scores) of a calm run of each checkpoint: a copy of it graded in one
    attempt with the verdict it earns (each is sent twice; a kill lands on few), else, and for
    ALWAYS_QUIET, the same file graded quietly now by the same code and sandbox."""
    calm = {}
    for row in sorted(final, key=lambda row: row["verdict"] != "scored"):  # a scored copy first
        name = order[int(row["original_name"][:2])]
        if (row["attempts"] == 1 and row["verdict"] in EXPECTED[name] and name not in calm
                and name not in ALWAYS_QUIET):
            calm[name] = (row["verdict"], row["message"], row["scores"])
    for name, (filename, data) in checkpoints.items():
        if name not in calm:
            work = tmp_path / "calm" / name
            work.mkdir(parents=True)
            result = evaluate(factories.write(work / filename, data), dataset, work / "attempt", get_backend("docker"),
                              SandboxLimits(wall_seconds=TIME_LIMIT_S, memory_mb=2048))
            calm[name] = (result.verdict, result.message, json.loads(json.dumps(result.scores)))
    return calm


class LiveRows:
    """The live platform's submissions, read straight from its PostgreSQL database."""

    def __init__(self, dsn: str, homework: str):
        import psycopg
        from psycopg.rows import dict_row

        self.conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
        self.homework = homework

    def all(self) -> list[dict]:
        return self.conn.execute(
            "SELECT s.id, s.status, s.verdict, s.message, s.scores, s.original_name, "
            "(SELECT max(r.attempt) FROM submissions_run r WHERE r.submission_id = s.id AND r.kind = 'score') "
            "AS attempts "
            "FROM submissions_submission s JOIN courses_homework h ON h.id = s.homework_id "
            "WHERE h.slug = %s ORDER BY s.id", (self.homework,)).fetchall()

    def count(self, *statuses: str) -> int:
        return sum(row["status"] in statuses for row in self.all())


def test_submissions_survive_killed_workers_and_a_broker_restart(tmp_path, postgres_database):
    services.require("postgres")
    services.require("docker")
    broker = RedisBroker(tmp_path)
    if broker.binary is None:
        pytest.skip("needs a redis-server binary to kill and restart a broker of the test's own")
    broker.start()
    services.exercised["redis"] = True
    env = base_env(tmp_path / "data") | FAST | {
        "DATABASE_URL": postgres_database, "CELERY_BROKER_URL": broker.url, "BASIN_SANDBOX_BACKEND": "docker"}
    live = LivePlatform(env, tmp_path)
    live.seed()
    rows = LiveRows(postgres_database, "chaos")
    checkpoints = variants()
    order = [name for _ in range(TOTAL // len(checkpoints)) for name in checkpoints]

    def upload(index: int) -> None:
        filename, data = checkpoints[order[index]]
        r = live.http.post(f"{live.base}/api/homeworks/chaos/submissions/", headers=student, timeout=60,
                           files={"file": (f"{index:02d}-{filename}", data)},
                           data={"force": "true"})  # each variant is sent twice on purpose
        assert r.status_code == 201, r.text

    def progress(terminal_at_least: int, running: bool = True) -> None:
        live.wait_for(lambda: rows.count("scored", "failed") >= terminal_at_least
                      and (not running or rows.count("running") > 0), 300,
                      f"{terminal_at_least} submissions finished" + (" and one running" if running else ""))

    def crash(*workers: str) -> None:
        for name in workers:
            live.kill(name)
            events.append(f"SIGKILL {name} at {rows.count('scored', 'failed')} finished")
        for name in workers:
            live.start_worker(name, beat=name == "worker-a")

    events: list[str] = []
    try:
        live.start_web()
        # Diagnostics off: this test is about scores. Their run recovers through the same claim/lease/watchdog
        # rules (tests/platform/test_diagnostics_run.py) and would only lengthen it.
        live.create_homework("chaos", daily_quota=100, time_limit_s=TIME_LIMIT_S, diagnostics_enabled=False)
        student = live.token("student")
        for index in range(FIRST_BURST):
            upload(index)
        live.start_worker("worker-a", beat=True)  # the one Celery beat, with the watchdog
        live.start_worker("worker-b", beat=False)

        progress(2)
        crash("worker-a")
        progress(4)
        crash("worker-b")
        progress(6, running=False)
        broker.kill()
        events.append(f"broker killed at {rows.count('scored', 'failed')} finished")
        for index in range(FIRST_BURST, TOTAL):  # accepted and stored while no message can be sent
            upload(index)
        time.sleep(3)
        broker.start()
        events.append("broker restarted, empty")
        progress(9)
        crash("worker-a", "worker-b")  # a whole grading host lost at once

        live.wait_for(lambda: rows.count("scored", "failed") == TOTAL, 600, "every submission to finish")
        final = rows.all()
        assert len(final) == TOTAL
        calm = calm_results(final, order, checkpoints, tmp_path, dataset=Path(env["BASIN_DATA_DIR"]) / "datasets"
                            / "dmnist-demo")
        for index, row in enumerate(final):
            name = order[int(row["original_name"][:2])]
            verdict, message, scores = calm[name]
            assert verdict in EXPECTED[name], (name, verdict, message)
            if row["verdict"] == "time_limit" and verdict == "scored":
                # The one thing a loaded machine may change: how long the model took. Its class
                # stays a verdict about the model, never a lost or doubled attempt.
                continue
            assert (row["verdict"], row["message"]) == (verdict, message), (index, row, events)
            assert row["scores"] == json.loads(json.dumps(scores)), (index, name, events)
        retried = [row["id"] for row in final if row["attempts"] > 1]
        assert retried, f"no kill landed on a running submission: {events}"
        assert all(row["attempts"] <= 3 for row in final)

        live.wait_for(lambda: not sandbox_containers(f"basin.instance={live.instance()}"), 60,
                      "orphaned containers to be removed")
        for name, process in live.processes.items():
            assert process.poll() is None, f"{name} died\n{live.tails()}"
        print(f"chaos: {events}; {len(retried)} submissions graded again after a lost attempt")
    finally:
        live.stop()
        broker.kill()
        if (Path(env["BASIN_DATA_DIR"]) / "instance_id").exists():
            for container in sandbox_containers(f"basin.instance={live.instance()}"):
                container.remove(force=True)
