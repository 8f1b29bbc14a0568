"""Scaling out: two grading workers as separate processes on one host, each owning its own GPU
slot and taking its own queues (as deploy/compose.yaml runs one per GPU), share a batch of
submissions over PostgreSQL and Redis: every one is graded exactly once, by one of them.

This machine has no GPU, so the workers grade in the process sandbox; each still records the GPU
slot it owns (BASIN_GPU), which is what the queue page shows and what a Docker sandbox would be
given as its only device (tests/grader cover that request)."""
from __future__ import annotations

from basin.demo.management.commands.demo import worker_command
from tests import factories, services

from .live import LivePlatform, RedisBroker, base_env

# With prefetch 1 and late acks each worker holds one at a time, and the second starts long before
# the first is through six (a few seconds against a minute): both get a share.
BATCH = 6


def test_two_workers_with_their_own_gpu_slots_grade_a_batch_with_none_lost_or_doubled(tmp_path, postgres_database):
    services.require("postgres")
    broker = RedisBroker(tmp_path)
    broker.start()
    env = base_env(tmp_path / "data") | {"DATABASE_URL": postgres_database, "CELERY_BROKER_URL": broker.url,
                                         "BASIN_SANDBOX_BACKEND": "process", "BASIN_DIAGNOSTICS": "off"}
    live = LivePlatform(env, tmp_path)
    live.seed()
    try:
        live.start_web()
        live.create_homework("scale", daily_quota=BATCH, diagnostics_enabled=False)
        student = live.token("student")
        ids = []
        for i in range(BATCH):
            r = live.http.post(f"{live.base}/api/homeworks/scale/submissions/", headers=student, timeout=30,
                               files={"file": (f"m{i}.zip", factories.bundle(state=factories.baseline_state(seed=i)))})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # Queued before any worker runs: the two then compete for the same messages.
        live.start("gpu0", [*worker_command(queues="scoring,basin", beat=True), "-n", "grader-gpu0@%h"], BASIN_GPU="0")
        live.start("gpu1", [*worker_command(queues="scoring", beat=False), "-n", "grader-gpu1@%h"], BASIN_GPU="1")

        def all_done():
            rows = [live.submission(i, student) for i in ids]
            return rows if all(r["status"] in ("scored", "failed") for r in rows) else None

        rows = live.wait_for(all_done, 300, "the batch to be graded")
        assert [r["status"] for r in rows] == ["scored"] * BATCH, live.tails()
        assert [r["attempts"] for r in rows] == [1] * BATCH  # claimed once each: none doubled, none retried
    finally:
        live.stop()
    import psycopg

    with psycopg.connect(postgres_database.replace("postgres://", "postgresql://")) as conn:
        workers = [w for (w,) in conn.execute(
            "SELECT worker FROM submissions_run WHERE kind = %s AND submission_id = ANY(%s)", ("score", ids))]
    # Both worked, each under its own name with its own GPU slot ("grader-gpu0@host gpu 0").
    assert {(w.split("@")[0], w.rsplit(" gpu ", 1)[-1]) for w in workers} == {("grader-gpu0", "0"),
                                                                             ("grader-gpu1", "1")}, workers
