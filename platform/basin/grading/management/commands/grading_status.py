"""`python manage.py grading_status [--json] [--timeout S]`: which grading workers answer (the queues
each consumes, the tasks it runs), the messages waiting in the broker per queue, and the database's
view of the queue (queued and running, oldest waiting), for all courses. Exits 0 when at least one
worker answers and consumes the scoring queue, 1 otherwise, with a one-line reason last: usable as
a compose or cron healthcheck of the grading side.

`python manage.py grading_status --worker NAME`: exits 0 only when that worker answers (a grading
worker's own compose healthcheck: --worker "celery@$HOSTNAME", or just --worker "$HOSTNAME").
Neither form needs the database to answer to give its exit code.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import timedelta
from types import SimpleNamespace

from django.core.management.base import BaseCommand
from django.db import DatabaseError

from basin.grading.fleet import QueueDepth, WorkerHealth, queue_depth, worker_health
from basin.grading.queue import QueueState, queue_state

REQUIRED_QUEUE = "scoring"
# queue_state's scope: what a superuser sees, every course.
EVERYTHING = SimpleNamespace(is_superuser=True)


def _age(delta: timedelta | None) -> str:
    """12m 5s, 3h 2m, 2d 4h: the two largest units."""
    if delta is None:
        return "—"
    days, rest = divmod(int(delta.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return " ".join(parts[:2]) or "0s"


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _database(state: QueueState | None, error: str | None) -> dict:
    if state is None:
        return {"error": error}
    s, d = state.scoring, state.diagnostics
    return {
        "as_of": state.now.isoformat(),
        "scoring": {"queued": s.waiting, "running": s.running,
                    "oldest_waiting_since": s.oldest_waiting_since and s.oldest_waiting_since.isoformat(),
                    "oldest_waiting_seconds": _seconds(s.oldest_waiting_age),
                    "running_per_worker": {w.worker: w.running for w in s.workers},
                    "expired_leases": [w.worker for w in s.workers if w.lease_expired]},
        "diagnostics": {"queued": d.waiting, "running": d.running,
                        "oldest_waiting_since": d.oldest_waiting_since and d.oldest_waiting_since.isoformat(),
                        "oldest_waiting_seconds": _seconds(d.oldest_waiting_age),
                        "lease_expired": d.lease_expired},
    }


class Command(BaseCommand):
    help = ("Grading workers that answer, messages waiting per broker queue, and the database's queue. Exit 0 "
            "when a worker answers and consumes 'scoring' (with --worker NAME: when that worker answers), else 1.")
    requires_system_checks = []  # a healthcheck: fast, and about the workers, not the settings

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
        parser.add_argument("--worker", metavar="NAME", default=None,
                            help="check only this worker (celery@host; a bare host means celery@host)")
        parser.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS",
                            help="how long to wait for the broker and the workers' answers (default 2)")

    def handle(self, *args, **opts):
        if opts["worker"]:
            healthy = self.one_worker(opts["worker"], opts["timeout"], opts["json"])
        else:
            healthy = self.everything(opts["timeout"], opts["json"])
        if not healthy:
            sys.exit(1)

    def one_worker(self, name: str, timeout: float, as_json: bool) -> bool:
        name = name if "@" in name else f"celery@{name}"
        health = worker_health(timeout=timeout, destination=[name])
        me = health.worker(name)
        healthy = bool(me and me.answered)
        if health.error:
            reason = health.error
        elif healthy and me:
            reason = f"{name} answers; consumes {', '.join(me.queues) or '(no queue)'}; running {me.active}"
        else:
            reason = f"{name} did not answer within {timeout:g} s ({health.broker})"
        if as_json:
            self.stdout.write(json.dumps({"healthy": healthy, "reason": reason, "broker": health.broker,
                                          "worker": asdict(me) if me else None}))
        else:
            self.stdout.write(f"{'healthy' if healthy else 'unhealthy'}: {reason}")
        return healthy

    def everything(self, timeout: float, as_json: bool) -> bool:
        state, db_error = None, None
        try:
            state = queue_state(EVERYTHING)
        except DatabaseError as e:
            db_error = f"database unreachable: {type(e).__name__}: {e}".strip()
        # A worker that holds a running submission is expected to answer: say so when it does not.
        expected = state.holders() if state else []
        health = worker_health(timeout=timeout, expected=expected)
        depth = queue_depth(timeout=timeout)
        healthy, reason = health.verdict(REQUIRED_QUEUE)
        if as_json:
            self.stdout.write(json.dumps({
                "healthy": healthy, "reason": reason, "broker": health.broker,
                "workers": [asdict(w) for w in health.workers], "workers_error": health.error,
                "asked_for_seconds": health.seconds,
                "queue_depth": depth.depths, "queue_depth_error": depth.reason,
                "database": _database(state, db_error)}, indent=2))
        else:
            self.write_text(health, depth, state, db_error, timeout)
            self.stdout.write(f"{'healthy' if healthy else 'unhealthy'}: {reason}")
        return healthy

    def write_text(self, health: WorkerHealth, depth: QueueDepth, state: QueueState | None, db_error: str | None,
                   timeout: float) -> None:
        out = self.stdout.write
        out(f"Broker: {health.broker}")
        out(f"Workers (asked for {health.seconds:.1f} s, timeout {timeout:g} s):")
        if health.error:
            out(f"  {health.error}")
        for w in health.workers:
            if w.answered:
                running = "?" if w.active is None else w.active
                out(f"  {w.name}: answers · queues {', '.join(w.queues) or '(none)'} · running {running}")
            else:
                out(f"  {w.name}: NO ANSWER (it holds a running submission)")
        if not health.workers and not health.error:
            out("  none answered")
        out("Messages waiting in the broker:")
        if depth.depths is None:
            out(f"  {depth.reason}")
        else:
            out("  " + " · ".join(f"{queue} {count}" for queue, count in depth.depths.items()))
        out("Database (all courses):")
        if state is None:
            out(f"  {db_error}")
        else:
            s, d = state.scoring, state.diagnostics
            expired = [w.worker for w in s.workers if w.lease_expired]
            out(f"  scoring: {s.waiting} queued (oldest waiting {_age(s.oldest_waiting_age)}), {s.running} running"
                + (f"; expired leases on {', '.join(expired)}" if expired else ""))
            for row in s.workers:
                out(f"    {row.worker}: {row.running} running, the oldest for {_age(row.oldest_age)}")
            out(f"  diagnostics: {d.waiting} queued (oldest waiting {_age(d.oldest_waiting_age)}), {d.running} running"
                + ("; an expired lease" if d.lease_expired else ""))
