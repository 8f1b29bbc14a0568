"""Slow clients do not take the web service down: gunicorn with Basin's production settings
(basin/gunicorn_conf.py, gthread) on loopback, two workers as in the incident, and four clients
that dribble their requests a byte at a time (twice the workers: sync workers would all be stuck)
while /health/ keeps answering (every probe within 2 s, most at once). The same load against two
sync workers shows that the test bites: /health/ times out there. A gthread worker holds a slow
client on a thread: more slow clients than its threads (8 a worker by default) would still starve
it, which is why nginx's request buffering in front of it is required (deploy/README.md)."""
from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.live import base_env, free_port

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
SLOW_CLIENTS = 2 * WORKERS
DRIBBLE_SECONDS = 6.0  # each slow client's whole life: bounded, loopback only


@contextmanager
def gunicorn(tmp_path: Path, *extra: str):
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    env = base_env(tmp_path / "data") | {"BASIN_WEB_WORKERS": str(WORKERS)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:basin.gunicorn_conf", "basin.wsgi",
                               "--bind", f"127.0.0.1:{port}", "--no-control-socket", *extra], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not answers(f"{base}/health/", timeout=2):
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
        yield port, base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def answers(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def dribble(port: int, first: bytes, byte: bytes, stop: threading.Event) -> None:
    """Send the start of a request, then one byte every half second until told to stop (or the
    bounded life ends): the connection stays open, the request never completes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(first)
        deadline = time.monotonic() + DRIBBLE_SECONDS
        while not stop.wait(0.5) and time.monotonic() < deadline:
            try:
                s.sendall(byte)
            except OSError:
                return


@contextmanager
def slow_clients(port: int):
    """Half dribble their headers (slowloris), half a request body (a slow upload)."""
    stop = threading.Event()
    headers = b"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    body = (b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\nusername=")
    clients = [threading.Thread(target=dribble, args=(port, headers if i % 2 else body, b"a", stop), daemon=True)
               for i in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    try:
        yield
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)


def health_while_slow_clients_dribble(port: int, base: str) -> list[float | None]:
    """/health/ asked four times a second over the slow clients' life (a paced probe, not a flood):
    seconds per answer, None for none within 2 s."""
    times = []
    with slow_clients(port):
        end = time.monotonic() + DRIBBLE_SECONDS - 1
        while time.monotonic() < end:
            started = time.monotonic()
            times.append(time.monotonic() - started if answers(f"{base}/health/", timeout=2) else None)
            time.sleep(max(0.0, 0.25 - (time.monotonic() - started)))  # pacing between probes
    return times


def test_health_answers_at_once_while_slow_clients_hold_connections(tmp_path):
    with gunicorn(tmp_path) as (port, base):
        times = health_while_slow_clients_dribble(port, base)
    assert len(times) >= 3 and None not in times, times  # every answer within 2 s, on a busy 2-core machine
    assert statistics.median(times) < 0.25, times


def test_two_sync_workers_would_not_survive_the_same_slow_clients(tmp_path):
    """The incident, reproduced: the test's load is what took the sync workers down."""
    # threads > 1 would mean gthread
    with gunicorn(tmp_path, "--worker-class", "sync", "--threads", "1") as (port, base):
        times = health_while_slow_clients_dribble(port, base)
    assert None in times, times
