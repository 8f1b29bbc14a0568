"""The viewers of bench/leaderboard_load.py (run by it, not on its own): each asks for the
leaderboard page or the trivial view /health/ at random, with a think time between requests.
Every request's start and exact duration go to BENCH_SAMPLES when Locust quits: the bench drops
the warm-up and computes the percentiles itself (Locust's report rounds times over 100 ms to
10 ms and keeps the warm-up).
"""
from __future__ import annotations

import json
import os

from locust import between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser  # a cheaper client: the load generator shares the server's CPUs

LEADERBOARD = f"/homeworks/{os.environ.get('BENCH_SLUG', 'bench')}/leaderboard/"
TRIVIAL = "/health/"
THINK = float(os.environ.get("BENCH_THINK", "0"))  # mean seconds between one viewer's requests
_samples: list[tuple[str, float, float, str | None]] = []


@events.request.add_listener
def _record(name, start_time, response_time, exception, **_):
    _samples.append((name, start_time, response_time, None if exception is None else repr(exception)[:200]))


@events.quitting.add_listener
def _write(environment, **_):
    with open(os.environ["BENCH_SAMPLES"], "w") as f:
        json.dump(_samples, f)


class Viewer(FastHttpUser):
    wait_time = between(0, 2 * THINK) if THINK else constant(0)

    # Equal weights: each request is either page at random, so both see the same load.
    @task
    def leaderboard(self):
        self.client.get(LEADERBOARD)

    @task
    def trivial(self):
        self.client.get(TRIVIAL)
