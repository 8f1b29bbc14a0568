"""Leaderboard load benchmark: the public leaderboard page against a trivial view, measured in the
same run under the same load, on a production-like server (gunicorn, PostgreSQL) on loopback.

    pip install -e ".[bench]"
    python bench/leaderboard_load.py                   # 400 students × 5 = 2,000 submissions, 50 viewers, 30 s
    python bench/leaderboard_load.py --students 1000 --users 100 --seconds 60
    python bench/leaderboard_load.py --cache-seconds 0    # every request renders the table

(a) leaderboard: GET /homeworks/<slug>/leaderboard/, one row per student (the page a viewer opens).
(b) trivial: GET /health/, one SELECT 1 through the same middleware, no template.
The bench creates a fresh PostgreSQL database (dropped at the end, also on failure), migrates it,
seeds one course, one public homework and --students × --per-student scored submissions with
realistic reports in their JSON columns, starts gunicorn on 127.0.0.1 (not production, no debug),
checks that the page shows one row per student, then runs Locust headless: --users viewers, each
asking for (a) or (b) at random with a think time between requests, for --warmup + --seconds.
Prints requests, failures and p50/p95/p99 of each over the measured seconds, each one's unloaded
time, and (a)'s p95 over (b)'s. Target: ≤ 3×. Exits 1 if any request failed.

The viewers think (--think, 1 s on average): with none, or with a server that cannot keep up, both
pages wait in gunicorn's one queue and the ratio tends to 1 whatever the leaderboard costs. The
bench says so (SATURATED) instead of calling the target met.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))

from basin_grader.budgets import DEFAULTS, LINES, seeds_of  # noqa: E402
from basin_grader.landscape_summary import axis  # noqa: E402
from basin_grader.scoring import score_test  # noqa: E402
from basin_grader.trusted_diagnostics import diagnose  # noqa: E402
from dmnist.build import DEFAULT_COUNTS, PRIVATE_FRACTION  # noqa: E402
from dmnist.render import PAPERS, PENS  # noqa: E402

TARGET = 3.0
SLUG = "bench-leaderboard"
LOCUSTFILE = Path(__file__).with_name("leaderboard_locustfile.py")
PATHS = {"(a) leaderboard": f"/homeworks/{SLUG}/leaderboard/", "(b) trivial /health/": "/health/"}
REPORTS = 64  # distinct trusted reports (scores + diagnostics); each submission gets one of them


# --- The database -------------------------------------------------------------------------------

@contextmanager
def scratch_database(server_url: str):
    """A new database on the server of `server_url` (any database there to connect to), dropped
    on the way out whatever happens; yields its URL."""
    name = f"basin_bench_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:  # FORCE: gunicorn may still hold connections
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def trusted_report(rng: np.random.Generator, labels: np.ndarray, is_private: np.ndarray, groups: list) -> tuple:
    """(scores, diagnostics) as the trusted scorer stores them, computed by its own functions on
    logits of a model with a random accuracy: the JSON columns get their real shape and size."""
    n = len(labels)
    logits = rng.normal(0, 1.5, (n, 10))
    right = rng.random(n) < rng.uniform(0.55, 0.97)
    logits[right, labels[right]] = logits[right].max(axis=1) + rng.exponential(2.0, right.sum())
    shift_labels = rng.integers(0, 10, DEFAULT_COUNTS["shift"])
    return score_test(logits, labels, is_private), diagnose(logits, labels, is_private, groups,
                                                            rng.normal(0, 1.5, (len(shift_labels), 10)), shift_labels)


def model_report(rng: np.random.Generator) -> dict:
    """Submission.sandbox_diagnostics as the sandbox's CPU budget fills it in: 1D lines, sharpness,
    train/val metrics, the 2D grid and the feature projection (random numbers, real shape)."""
    budget = DEFAULTS["cpu"]
    alphas, coefficients = axis(budget.line_points), axis(budget.grid)
    floor, curvature = rng.uniform(0.05, 0.6), rng.uniform(0.5, 8.0)

    def loss(a: float, b: float = 0.0) -> float:
        return round(floor + curvature * (a * a + b * b) + float(rng.normal(0, 0.01)), 6)

    def split_of(values: list) -> dict:
        return {"loss": values, "accuracy": [round(max(0.0, 1 - v / 10), 4) for v in values]}

    def rows_of(flat: dict) -> dict:  # row-major, as the sandbox stores the 2D grid: rows are β
        side = len(coefficients)
        return {k: [v[r * side:(r + 1) * side] for r in range(side)] for k, v in flat.items()}

    lines = [{split: split_of([loss(a) for a in alphas]) for split in ("train", "val")} for _ in range(LINES)]
    grid = {"alphas": coefficients, "betas": coefficients,
            **{split: rows_of(split_of([loss(a, b) for b in coefficients for a in coefficients]))
               for split in ("train", "val")}}
    metrics = {split: {"loss": floor, "accuracy": round(1 - floor / 2, 4), "n": budget.eval_samples}
               for split in ("train", "val")}
    return {
        "status": "complete", "device": "cpu", "precision": "fp32", "memory_format": "channels_last",
        "budget": budget.to_dict(), "seeds": seeds_of(budget), "partial": [], "errors": {},
        "timings": {f"{part}_s": round(float(rng.uniform(1, 60)), 3)
                    for part in ("generalization", "features", "lines", "sharpness", "grid")},
        "generalization": metrics,
        "features": {"points": rng.normal(0, 3, (budget.feature_samples, 2)).round(5).tolist(),
                     "labels": rng.integers(0, 10, budget.feature_samples).tolist(),
                     "explained_variance": [0.41, 0.22], "split": "val"},
        "landscape": {"alphas": alphas, "samples": budget.samples, "centre": metrics, "lines": lines, "grid": grid},
        "sharpness": {"top_eigenvalue": round(curvature * 12, 4), "iterations": budget.power_iterations,
                      "converged": True, "trace": round(curvature * 90, 3), "trace_standard_error": 4.2,
                      "probes": budget.hutchinson_probes, "samples": budget.samples, "split": "train"},
    }


def seed(students: int, per_student: int, rng: np.random.Generator) -> int:
    """One course, one public homework and students × per_student scored submissions; returns how
    many students have a row on its leaderboard."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import DateTimeField, ExpressionWrapper, F, Value
    from django.utils import timezone

    from basin.courses.models import Course, DatasetVersion, Homework, Membership
    from basin.grading.diagnostics import leaderboard_fields
    from basin.submissions.models import Submission
    from basin_grader.formats import BUNDLE

    now = timezone.now()
    course = Course.objects.create(slug="bench", title="Deep Learning (bench)")
    # Registered, never built: nothing is graded here, the page only reads its slug and manifest.
    dataset = DatasetVersion.objects.create(slug="dmnist-bench", directory="dmnist-bench", seed=0, manifest={
        "name": "difficult-MNIST", "seed": 0, "counts": DEFAULT_COUNTS, "papers": list(PAPERS), "pens": list(PENS),
        "private_fraction": PRIVATE_FRACTION, "files": {}})
    opens = now - timedelta(days=21)
    homework = Homework.objects.create(course=course, slug=SLUG, title="HW3: difficult MNIST", dataset=dataset,
                                       opens_at=opens, deadline=now + timedelta(days=7))
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"student{i:04d}", password="!") for i in range(students)])
    Membership.objects.bulk_create([Membership(course=course, user=u, role=Membership.Role.STUDENT,
                                               student_id=f"s{u.pk:06d}", pseudonym=f"bench-{u.pk}") for u in users])

    n = DEFAULT_COUNTS["test"]
    labels, is_private = rng.integers(0, 10, n), rng.random(n) < PRIVATE_FRACTION
    groups = [(PAPERS[i % len(PAPERS)], PENS[i % len(PENS)]) for i in rng.integers(0, 15, n)]
    reports = [trusted_report(rng, labels, is_private, groups) for _ in range(REPORTS)]
    submissions = []
    for user in users:
        for _ in range(per_student):
            scores, diagnostics = reports[rng.integers(REPORTS)]
            digest = hashlib.sha256(rng.bytes(32)).hexdigest()
            report = model_report(rng)
            submissions.append(Submission(
                homework=homework, user=user, file=f"submissions/{homework.pk}/{digest[:32]}.zip",
                original_name="model.zip", kind=BUNDLE, size=int(rng.integers(200_000, 5_000_000)), sha256=digest,
                status=Submission.Status.SCORED, public_score=scores["public"]["accuracy"],
                private_score=scores["private"]["accuracy"], scores=scores, trusted_diagnostics=diagnostics,
                sandbox_diagnostics=report, diagnostics_status=Submission.DiagnosticsStatus.COMPLETE,
                **leaderboard_fields(report),  # as the worker's _record copies them out
                timings={"queue_s": 0.4, "sandbox_s": 7.9, "scoring_s": 0.2}, backend="docker", worker="gpu-0",
                log_tail="loaded bundle: model.py + weights.safetensors\npredicted 10000 images\n"))
    rng.shuffle(submissions)  # students' submissions interleave in time, as they do
    Submission.objects.bulk_create(submissions, batch_size=250)
    # created_at is auto_now_add, which bulk_create overrides: spread them over the three weeks afterwards.
    step = timedelta(days=21) / len(submissions)
    Submission.objects.filter(homework=homework).update(created_at=ExpressionWrapper(
        Value(opens) + (F("id") - submissions[0].pk) * Value(step), output_field=DateTimeField()))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a long-lived database has them
    return students


# --- The server -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(workers: int, env: dict, log: Path):
    port = free_port()
    with open(log, "wb") as out:
        # The production settings (basin/gunicorn_conf.py: gthread workers), with this run's worker count.
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:basin.gunicorn_conf", "basin.wsgi",
                                   "--pythonpath", str(ROOT / "platform"), "--bind", f"127.0.0.1:{port}",
                                   "--workers", str(workers),
                                   "--log-level", "warning"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /health/ in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class _TableRows(HTMLParser):
    """Counts the <tr> of the leaderboard table's <tbody>."""

    def __init__(self):
        super().__init__()
        self.in_body, self.rows = False, 0

    def handle_starttag(self, tag, attrs):
        self.in_body |= tag == "tbody"
        self.rows += self.in_body and tag == "tr"

    def handle_endtag(self, tag):
        self.in_body &= tag != "tbody"


def leaderboard_rows(url: str) -> tuple[int, int]:
    """(rows in the table, bytes) of one fetch of the page."""
    with urllib.request.urlopen(url, timeout=120) as response:
        page = response.read()
    parser = _TableRows()
    parser.feed(page.decode())
    return parser.rows, len(page)


def unloaded_ms(url: str, repeat: int) -> float:
    """Median time of one request with nothing else running: what the page costs on its own."""
    times = []
    for _ in range(repeat + 2):  # the first ones warm up a worker or two
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times[2:])


# --- The load ----------------------------------------------------------------------------------

def run_locust(base: str, users: int, warmup: int, seconds: int, think: float, workdir: Path) -> list:
    samples = workdir / "samples.json"
    env = {**os.environ, "BENCH_SLUG": SLUG, "BENCH_SAMPLES": str(samples), "BENCH_THINK": str(think)}
    # All viewers start within the first half of the warm-up; the warm-up is then dropped.
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base,
                           "--users", str(users), "--spawn-rate", str(users / max(warmup / 2, 1)),
                           "--run-time", f"{warmup + seconds}s", "--only-summary", "--loglevel", "WARNING"],
                          cwd=workdir, env=env, capture_output=True, text=True)
    if not samples.exists():
        raise RuntimeError(f"locust exited with {done.returncode} and recorded nothing:\n{done.stderr[-3000:]}")
    return json.loads(samples.read_text())


def summary(samples: list, name: str, first: float, warmup: int) -> dict:
    """Requests, failures and percentiles of `name`, for the requests started after the warm-up."""
    kept = [(ms, error) for n, start, ms, error in samples if n == name and start >= first + warmup]
    times = [ms for ms, _ in kept]
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [float("nan")] * 99
    return {"requests": len(kept), "failures": [e for _, e in kept if e], "p50": cuts[49], "p95": cuts[94],
            "p99": cuts[98]}


def default_workers() -> int:
    # gunicorn's 2 × CPUs + 1 processes keep the CPUs busy while some threads wait on PostgreSQL
    # (Python runs one thread of a process at a time), and /health/ always finds a free thread. More
    # would only add memory and context switches on CPUs that Locust and PostgreSQL share with the server.
    return 2 * len(os.sched_getaffinity(0)) + 1


def report(args, samples: list, alone: dict, setting: str) -> int:
    first = min(start for _, start, _, _ in samples)
    results = {label: summary(samples, path, first, args.warmup) for label, path in PATHS.items()}
    print(setting)
    print(f"{'':24}{'requests':>10}{'failures':>10}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'alone ms':>10}")
    for label, r in results.items():
        print(f"{label:24}{r['requests']:10d}{len(r['failures']):10d}{r['requests'] / args.seconds:8.1f}"
              f"{r['p50']:9.1f}{r['p95']:9.1f}{r['p99']:9.1f}{alone[PATHS[label]]:10.1f}")
    (a, b), (alone_a, alone_b) = results.values(), alone.values()
    # Each viewer loops: think, one request. Had the server answered at its unloaded speed, the
    # viewers would have asked for `offered` requests a second; far fewer served means requests
    # queued for a worker, and a queue shared by both pages pulls their ratio towards 1 whatever
    # the leaderboard costs: the target then says nothing.
    offered = args.users / (args.think + (alone_a + alone_b) / 2000)
    served = (a["requests"] + b["requests"]) / args.seconds
    saturated = served < 0.9 * offered
    print(f"served {served:.1f} req/s of the {offered:.1f} the viewers ask for at unloaded speed "
          f"({served / offered:.0%}){': SATURATED, requests queued' if saturated else ''}")
    print(f"unloaded, leaderboard / trivial: {alone_a / alone_b:.1f}×")
    ratio = a["p95"] / b["p95"]
    verdict = ("MISSED" if ratio > TARGET else
               "not shown: the server was saturated, both pages mostly waited in one queue" if saturated else "met")
    print(f"leaderboard p95 / trivial p95: {ratio:.2f}× (target ≤ {TARGET:g}×): {verdict}")
    failures = [error for *_, error in samples if error]  # the warm-up's count too
    for error in sorted(set(failures))[:5]:
        print(f"failed ({failures.count(error)}×): {error}", file=sys.stderr)
    return 1 if failures else 0


def positive(text: str) -> int:
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=positive, default=400)
    parser.add_argument("--per-student", type=positive, default=5, help="scored submissions of each student")
    parser.add_argument("--users", type=positive, default=50, help="concurrent viewers")
    parser.add_argument("--seconds", type=positive, default=30, help="measured seconds, after the warm-up")
    parser.add_argument("--warmup", type=positive, default=5, help="seconds of load before measuring (dropped)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="a viewer's mean pause between requests, uniform in [0, 2 × think] s; 0: none")
    parser.add_argument("--repeat", type=positive, default=10, help="unloaded requests of each page, timed one by one")
    parser.add_argument("--workers", type=positive, default=default_workers(),
                        help="gunicorn workers (gthread, BASIN_WEB_THREADS threads each, as in production)")
    parser.add_argument("--cache-seconds", type=int, default=5,
                        help="BASIN_LEADERBOARD_CACHE_SECONDS of the server "
                             "(Basin's default 5; 0 renders every request)")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/15",
                        help="BASIN_CACHE_URL: the Redis the web processes share, as deploy/compose.yaml sets it "
                             "(emptied first); '' for a cache per process")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a database on the PostgreSQL server to use; the bench creates its own beside it")
    args = parser.parse_args(argv)
    if args.think < 0:
        parser.error("--think cannot be negative")

    with tempfile.TemporaryDirectory(prefix="basin-bench-") as tmp, scratch_database(args.database_url) as url:
        workdir = Path(tmp)
        os.environ.update(DATABASE_URL=url, BASIN_DATA_DIR=str(workdir / "data"), BASIN_DEBUG="0",
                          BASIN_LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="basin.settings",
                          BASIN_LEADERBOARD_CACHE_SECONDS=str(args.cache_seconds), BASIN_CACHE_URL=args.cache_url)
        os.environ.pop("BASIN_PRODUCTION", None)  # HTTPS redirects and HSTS have no place on loopback
        import django
        from django.core.management import call_command
        from django.db import connection, connections

        django.setup()
        call_command("migrate", verbosity=0)
        if args.cache_url:
            from django.core.cache import cache

            cache.clear()  # nothing cached by an earlier run
        started = time.perf_counter()
        expected = seed(args.students, args.per_student, np.random.default_rng(0))
        seeded = time.perf_counter() - started
        version = connection.pg_version
        connections.close_all()  # the server's workers open their own

        with gunicorn(args.workers, dict(os.environ), workdir / "gunicorn.log") as base:
            rows, size = leaderboard_rows(f"{base}{PATHS['(a) leaderboard']}")
            if rows != expected:
                print(f"the leaderboard shows {rows} rows, not one per student ({expected})", file=sys.stderr)
                return 1
            alone = {path: unloaded_ms(f"{base}{path}", args.repeat) for path in PATHS.values()}
            samples = run_locust(base, args.users, args.warmup, args.seconds, args.think, workdir)

    think = f"0–{2 * args.think:g} s" if args.think else "none"
    return report(args, samples, alone, (
        f"leaderboard load benchmark · PostgreSQL {version // 10000}.{version % 10000} · "
        f"gunicorn {args.workers} gthread workers × {os.environ.get('BASIN_WEB_THREADS', 8)} threads · "
        f"table cache {args.cache_seconds} s in "
        f"{'Redis' if args.cache_url else 'each process'} · {len(os.sched_getaffinity(0))} CPUs · "
        f"{args.students} students × {args.per_student} = "
        f"{args.students * args.per_student:,} scored submissions (seeded in {seeded:.0f} s) · page {rows} rows, "
        f"{size / 1024:.0f} KiB · {args.users} viewers, think {think} · "
        f"{args.seconds} s measured after {args.warmup} s"))


if __name__ == "__main__":
    sys.exit(main())
