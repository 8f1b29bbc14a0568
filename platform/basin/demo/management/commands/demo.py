"""`python manage.py demo`: the embedded Basin, seeded and running, in one command.

Migrates, builds a small difficult-MNIST version, creates a course with a TA and a student and a
homework, trains and submits a baseline, starts a real Celery worker process (its broker is a
folder under BASIN_DATA_DIR: no server), waits until the baseline is scored, then serves the web
on 127.0.0.1:8000 and prints the logins. Ctrl-C stops the web server and the worker.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from basin.demo import services
from basin.grading.sandbox_image import ensure_sandbox_image
from basin.submissions.models import Submission



def worker_command(queues: str | None = None, beat: bool = True) -> list[str]:
    """One worker process taking settings.BASIN_WORKER_QUEUES in order (scores before diagnostics);
    with Celery beat embedded (-B) it also runs the watchdog (one beat per Basin: a second worker
    is started without it)."""
    queues = queues or settings.BASIN_WORKER_QUEUES
    return [sys.executable, "-m", "celery", "--quiet", "-A", "basin", "worker", *(["-B"] if beat else []),
            "-Q", queues, "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


class Command(BaseCommand):
    help = "Seed a demo course and run Basin (web + grading worker) on this machine."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the web server listens")
        parser.add_argument("--no-serve", action="store_true", help="seed and score the baseline, then exit")
        parser.add_argument("--no-baseline", action="store_true", help="seed only; train and score no baseline")
        parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for the baseline's score")

    def say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def handle(self, *args, **opts):
        self.say(f"Basin demo · data in {settings.DATA_DIR}")
        call_command("migrate", verbosity=0)
        env = os.environ | {"BASIN_DATA_DIR": str(settings.DATA_DIR)}
        self._choose_sandbox(env)
        self.say("· dataset: difficult-MNIST demo version (built once)")
        demo = services.seed(services.ensure_dataset())
        self.say(f"· course {demo.course.slug}, homework {demo.homework.slug}, TA and student accounts ready")
        processes: list[subprocess.Popen] = []
        try:
            if not opts["no_baseline"]:
                processes.append(subprocess.Popen(worker_command(), env=env))
                self.say(f"· grading worker started (pid {processes[-1].pid})")
                self._baseline(demo, opts["timeout"])
            if opts["no_serve"]:
                return
            if not processes:
                processes.append(subprocess.Popen(worker_command(), env=env))
            processes.append(subprocess.Popen([sys.executable, "-m", "django", "runserver", "--noreload",
                                               "--skip-checks", opts["addr"]], env=env))
            self._print_welcome(opts["addr"], demo)
            while all(p.poll() is None for p in processes):
                time.sleep(1)
            raise CommandError("a demo process stopped unexpectedly; see its output above")
        except KeyboardInterrupt:
            self.say("\nstopping")
        finally:
            for p in processes:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in processes:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()

    def _choose_sandbox(self, env: dict) -> None:
        """Docker when an engine answers (building the image offline if needed), else the process backend."""
        if settings.BASIN_SANDBOX_BACKEND == "process":
            self.say("· sandbox: process backend (BASIN_SANDBOX_BACKEND=process)")
            return
        ready, why = ensure_sandbox_image(settings.BASIN_SANDBOX_IMAGE)
        if ready:
            env["BASIN_SANDBOX_BACKEND"] = "docker"
            self.say(f"· sandbox: Docker ({why})")
        elif settings.BASIN_SANDBOX_BACKEND == "docker":
            raise CommandError(f"BASIN_SANDBOX_BACKEND=docker but the sandbox is not ready: {why}")
        else:
            env["BASIN_SANDBOX_BACKEND"] = "process"
            self.say(f"· sandbox: process backend, weaker than Docker ({why})")

    def _baseline(self, demo: services.Demo, timeout: int) -> None:
        submission = services.baseline(demo.homework)
        if submission is None or submission.status == Submission.Status.FAILED:
            from basin.demo.training import bundle_bytes, train_baseline

            self.say("· training the baseline CNN on the CPU")
            model = train_baseline(demo.homework.dataset.path, log=self.say)
            submission = services.add_baseline(demo, bundle_bytes(model))
            self.say(f"· baseline submitted as #{submission.pk}; grading")
        deadline = time.monotonic() + timeout
        while submission.status not in Submission.TERMINAL_STATUSES:
            if time.monotonic() > deadline:
                raise CommandError(f"the baseline was not graded within {timeout} s (status {submission.status})")
            time.sleep(1)
            submission.refresh_from_db()
        if submission.status != Submission.Status.SCORED:
            raise CommandError(f"the baseline was not scored: {submission.verdict}: {submission.message}\n"
                               f"{submission.log_tail[-2000:]}")
        self.say(f"· baseline scored: public accuracy {submission.public_score:.4f} "
                 f"({submission.backend} sandbox, {submission.timings.get('sandbox_s', 0):.1f} s)")
        self._diagnostics(submission, deadline)

    def _diagnostics(self, submission: Submission, deadline: float) -> None:
        """Wait for the baseline's diagnostics run (the second, lower-priority sandbox run)."""
        waiting = (Submission.DiagnosticsStatus.QUEUED, Submission.DiagnosticsStatus.RUNNING)
        if submission.diagnostics_status not in waiting:
            return
        self.say("· computing the baseline's diagnostics (loss landscape, sharpness, features)")
        while submission.diagnostics_status in waiting:
            if time.monotonic() > deadline:
                raise CommandError(f"the baseline's diagnostics did not finish in time ({submission.diagnostics_status})")
            time.sleep(1)
            submission.refresh_from_db()
        report = submission.model_diagnostics
        sharpness, grid = report.get("sharpness") or {}, (report.get("landscape") or {}).get("grid") or {}
        self.say(f"· diagnostics {submission.diagnostics_status} in {report.get('sandbox_s', 0):.1f} s: "
                 f"top Hessian eigenvalue {_fmt(sharpness.get('top_eigenvalue'))}, "
                 f"trace {_fmt(sharpness.get('trace'))} ± {_fmt(sharpness.get('trace_standard_error'))}, "
                 f"train basin area {_fmt((grid.get('basin_area') or {}).get('train'))}"
                 + (f"; partial: {', '.join(report['partial'])}" if report.get("partial") else ""))

    def _print_welcome(self, addr: str, demo: services.Demo) -> None:
        url = f"http://{addr}/"
        ta, student = services.LOGINS["ta"], services.LOGINS["student"]
        self.say(self.style.SUCCESS(f"\nBasin is running at {url}"))
        self.say(f"  homework     {url}homeworks/{demo.homework.slug}/  (log in as the student: upload, history, "
                 "final selection)")
        self.say(f"  leaderboard  {url}homeworks/{demo.homework.slug}/leaderboard/")
        self.say(f"  admin        {url}admin/   queue  {url}queue/")
        self.say(f"  join code    {demo.course.join_code}  (new students sign up at {url}accounts/signup/)")
        self.say(f"  TA login     {ta[0]} / {ta[1]}")
        self.say(f"  student      {student[0]} / {student[1]}")
        self.say("  submit       curl -H 'Authorization: Token …' -F file=@bundle.zip "
                 f"{url}api/homeworks/{demo.homework.slug}/submissions/")
        self.say("Ctrl-C stops the web server and the grading worker.\n")
