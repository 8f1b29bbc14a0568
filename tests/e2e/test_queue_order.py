"""Scores first: a worker that becomes free takes every waiting scoring job before a diagnostics
job (DESIGN.md), with the production broker (Redis) and a real worker process."""
from __future__ import annotations

import re
import subprocess
import sys

from basin import dispatch
from tests import services

from .live import ROOT, LivePlatform, base_env

# Sent as the platform sends them (basin.dispatch), and once more as Celery's own apply_async would
# (each task names its queue too): either way, scores first.
PUBLISH = """
import django
django.setup()
from basin import dispatch
from basin.grading.tasks import diagnose_run, score_run
for i in range(1, 4):
    assert dispatch.send(dispatch.DIAGNOSE, 1000 + i)   # queued first...
diagnose_run.apply_async((1004,))
for i in range(1, 4):
    assert dispatch.send(dispatch.GRADE, 2000 + i)      # ...yet these must run first
score_run.apply_async((2004,))
"""


def test_a_free_worker_takes_waiting_scores_before_diagnostics(tmp_path):
    services.require("redis")
    import redis

    url = "redis://127.0.0.1:6379/12"  # a db of its own: it flushes it
    redis.Redis.from_url(url).flushdb()
    env = base_env(tmp_path / "data") | {"CELERY_BROKER_URL": url, "BASIN_SANDBOX_BACKEND": "process",
                                         "DJANGO_SETTINGS_MODULE": "basin.settings"}
    for step in ([sys.executable, "manage.py", "migrate", "--verbosity", "0"], [sys.executable, "-c", PUBLISH]):
        done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    live = LivePlatform(env, tmp_path)
    try:
        # No such runs: each task finds nothing to claim; Celery's log shows the order they came in.
        live.start("worker", [sys.executable, "-m", "celery", "-A", "basin", "worker", "-Q", _queues(),
                              "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle"])
        log = tmp_path / "worker.log"
        ran = live.wait_for(lambda: (found := re.findall(r"Task (basin\.[\w.]+)\[[^\]]+\] succeeded", _text(log)))
                            and len(found) == 8 and found, 90, "the worker to run the eight jobs")
        assert ran == [dispatch.GRADE] * 4 + [dispatch.DIAGNOSE] * 4, _text(log)[-3000:]
    finally:
        live.stop()
        redis.Redis.from_url(url).flushdb()


def _queues() -> str:
    from django.conf import settings

    return settings.BASIN_WORKER_QUEUES


def _text(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
