"""`python manage.py demo`: the embedded Basin, seeded and running, in one command.

Phases, each announced with an estimate and closed with its measured time (basin.demo.progress):
migrate; build a small difficult-MNIST version and seed a course with a TA, a student and a
homework; build the sandbox's Debian base (debootstrap) and the sandbox image (first run only);
train a baseline; have a real Celery worker process (its broker is a folder under BASIN_DATA_DIR:
no server) score it and compute its diagnostics; serve the web on --addr and print the logins.
Ctrl-C stops the web server and the worker. `--fresh` first removes what earlier runs made.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from basin.demo import services
from basin.demo.progress import Phase, Reporter, duration
from basin.grading import sandbox_image
from basin.submissions.models import Run, Submission

DEFAULT_ADDR = "127.0.0.1:8000"

# What the estimates rest on: each phase timed on a shared 2-core x86 machine (23 GB, no GPU) by
# `manage.py demo --no-serve` in a fresh data directory with no Docker image built yet (5 min 50 s
# in all). Per-unit figures scale with the work (migrations, images, epochs); the rest are whole
# phases. The base image's time includes downloading about 120 Debian packages.
MEASURED_ON = "2 cores"
MEASURED = {
    "migration_s": 0.035,         # per migration applied (58 in 2.0 s)
    "dataset_image_s": 0.002,     # per difficult-MNIST image generated (4,900 in 9.5 s, with seeding)
    "base_image_s": 100,          # debootstrap of bookworm minbase + python3, docker import (1 min 42 s)
    "sandbox_image_s": 70,        # the runtime's wheels and docker build (1 min 11 s)
    "train_image_epoch_s": 0.009, # per training image per epoch (4 × 3,000 in 1 min 47 s, torch start included)
    "score_s": 11,                # the baseline's score in the Docker sandbox, from queued to scored
    "diagnostics_s": 36,          # its diagnostics run with the demo's budget
}


def worker_command(queues: str | None = None, beat: bool = True) -> list[str]:
    """One worker process taking settings.BASIN_WORKER_QUEUES in order (scores before diagnostics);
    with Celery beat embedded (-B) it also runs the watchdog (one beat per Basin: a second worker
    is started without it)."""
    queues = queues or settings.BASIN_WORKER_QUEUES
    return [sys.executable, "-m", "celery", "--quiet", "-A", "basin", "worker", *(["-B"] if beat else []),
            "-Q", queues, "--concurrency", "1", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]


def about(seconds: float) -> str:
    """A rough figure for an estimate: 'about 25 s', 'about 4 min'."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return f"about {max(10, round(seconds / 5) * 5)} s"
    return f"about {max(1, round(seconds / 60))} min"


def addr(value: str) -> str:
    """--addr HOST:PORT (or PORT alone, on 127.0.0.1)."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(value)
    return f"{host or '127.0.0.1'}:{port}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def not_embedded() -> list[str]:
    """What of this Basin's state lives outside its data directory, where --fresh must not reach."""
    found = []
    db = settings.DATABASES[DEFAULT_DB_ALIAS]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    if engine != "sqlite3":
        name = {"postgresql": "PostgreSQL", "mysql": "MySQL", "oracle": "Oracle"}.get(engine, engine)
        found.append(f"the database is {name} (database {db.get('NAME')} on {db.get('HOST') or 'localhost'}:"
                     f"{db.get('PORT') or 'its default port'}, from DATABASE_URL)")
    elif not Path(db["NAME"]).resolve().is_relative_to(settings.DATA_DIR.resolve()):
        found.append(f"the database is the SQLite file {db['NAME']}, outside the data directory (DATABASE_URL)")
    if getattr(settings, "BASIN_STORAGE", "local") != "local":
        found.append(f"uploads are kept in object storage (BASIN_STORAGE={settings.BASIN_STORAGE})")
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        found.append("the task queue is a broker server (CELERY_BROKER_URL)")
    return found


def data_dir_entries() -> tuple[list[Path], list[Path]]:
    """(Basin's, others'): the top-level entries of the data directory that Basin made (every path
    setting that lies inside it, the SQLite file with its journals, the secret key and instance id
    made at start-up) and those it did not, which --fresh leaves alone."""
    root = settings.DATA_DIR.resolve()
    names = {"secret_key", "instance_id"}
    values = [getattr(settings, name) for name in dir(settings) if name.isupper()]
    values += list(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).values())
    values += [db.get("NAME") for db in settings.DATABASES.values()]
    for value in values:
        if (isinstance(value, Path) or type(value) is str) and os.path.isabs(value):
            path = Path(value).resolve()
            if path != root and path.is_relative_to(root):
                names.add(path.relative_to(root).parts[0])
    ours: list[Path] = []
    others: list[Path] = []
    for entry in sorted(root.iterdir()):
        # "basin.sqlite3-wal", "celerybeat-schedule.db": files named after one Basin makes
        (ours if any(entry.name == n or entry.name.startswith((n + "-", n + ".")) for n in names)
         else others).append(entry)
    return ours, others


class Command(BaseCommand):
    help = ("Seed a demo course and run Basin (web + grading worker) on this machine, saying what each "
            "phase does, how long it should take and how long it took. The first run builds the Docker "
            "sandbox's images (about 3 min on 2 cores, about 6 min for the whole first run); later runs reuse "
            "them and what earlier runs made.")

    def add_arguments(self, parser):
        parser.add_argument("--addr", type=addr, default=DEFAULT_ADDR, metavar="HOST:PORT",
                            help=f"where the web server listens (default {DEFAULT_ADDR}; 0.0.0.0:8000 "
                                 "for every interface)")
        parser.add_argument("--no-serve", action="store_true",
                            help="seed and score the baseline, then exit (CI)")
        parser.add_argument("--no-baseline", action="store_true", help="seed only; train and score no baseline")
        parser.add_argument("--timeout", type=int, default=900,
                            help="seconds to wait for the baseline's score and diagnostics")
        parser.add_argument("--fresh", action="store_true",
                            help="first remove what earlier demo runs made in the data directory (BASIN_DATA_DIR, "
                                 "default ./var: database, uploads, broker files, datasets), after listing it; the "
                                 "built Docker images are kept. Refused where the database is not the embedded "
                                 "SQLite file (PostgreSQL is never dropped).")

    def run_from_argv(self, argv):
        self._argv = argv  # only a command-line run may restart itself after --fresh
        super().run_from_argv(argv)

    def say(self, message: str, ending: str = "\n") -> None:
        self.stdout.write(message, ending=ending)
        self.stdout.flush()

    # -- the phases ------------------------------------------------------------------------------
    def phases(self, opts) -> list[Phase]:
        """The demo's steps, in order. A new step is one more Phase(title, estimate, run) line here."""
        steps = [
            Phase("Migrating the database", self._estimate_migrate, self._migrate),
            Phase("Building the demo dataset and seeding the course", self._estimate_dataset, self._dataset),
            Phase("Building the student toolkit served at /simple/", lambda: "about a second", self._toolkit),
            Phase("Building the sandbox's Debian base image with debootstrap", self._estimate_base, self._base_image),
            Phase("Building the sandbox image", self._estimate_image, self._image),
        ]
        if not opts["no_baseline"]:
            steps += [Phase("Training the baseline CNN", self._estimate_training, self._train),
                      Phase("Scoring the baseline, then its diagnostics", self._estimate_scoring, self._score)]
        if not opts["no_serve"]:
            steps.append(Phase(f"Starting the web server on {opts['addr']}", lambda: "a few seconds", self._serve))
        return steps

    def handle(self, *args, **opts):
        if opts["fresh"]:
            self._fresh()
        self.opts = opts
        self.say(f"Basin demo · data in {settings.DATA_DIR} · estimates measured on {MEASURED_ON}")
        if not opts["no_serve"]:
            self._check_addr_free(opts["addr"])
        self.env = os.environ | {"BASIN_DATA_DIR": str(settings.DATA_DIR)}
        self.no_docker = self._docker_unusable()  # None, or why the process sandbox grades
        self.demo: services.Demo | None = None
        self.submission: Submission | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        reporter = Reporter(self.say, tty=self.stdout.isatty())
        in_main_thread = threading.current_thread() is threading.main_thread()
        if in_main_thread:  # `kill` stops the worker and the web server too, as Ctrl-C does
            previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            reporter.run(self.phases(opts))
            if opts["no_serve"]:
                return
            self._print_welcome(opts["addr"], self.demo)
            while all(p.poll() is None for p in self.processes.values()):
                time.sleep(1)
            raise CommandError("a demo process stopped unexpectedly; see its output above")
        except KeyboardInterrupt:
            self.say("\nstopping")
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)
            for p in self.processes.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in self.processes.values():
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()

    # 1. database
    def _pending_migrations(self) -> int:
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))

    def _estimate_migrate(self) -> str:
        self.pending = self._pending_migrations()
        if not self.pending:
            return "up to date"
        return f"{self.pending} migrations, {about(self.pending * MEASURED['migration_s'])} on {MEASURED_ON}"

    def _migrate(self, reporter: Reporter) -> str | None:
        if self.pending:
            reporter.update(f"applying {self.pending} migrations")
        call_command("migrate", verbosity=0)
        return None

    # 2. dataset and seed
    def _estimate_dataset(self) -> str:
        from basin.courses.models import DatasetVersion

        if DatasetVersion.objects.filter(slug=services.DATASET_SLUG).exists():
            return f"cached: {services.DATASET_SLUG} was built by an earlier run"
        if services.dataset_files_built():
            return f"cached: the files of {services.DATASET_SLUG} were built by an earlier run; registering them"
        images = sum(services.DEMO_COUNTS.values())
        return f"{images:,} images, {about(images * MEASURED['dataset_image_s'])} on {MEASURED_ON}"

    def _dataset(self, reporter: Reporter) -> str | None:
        from basin.courses.models import DatasetVersion

        if not (DatasetVersion.objects.filter(slug=services.DATASET_SLUG).exists() or services.dataset_files_built()):
            counts = ", ".join(f"{n:,} {split}" for split, n in services.DEMO_COUNTS.items())
            reporter.update(f"generating difficult-MNIST: {counts}")
        demo = self.demo = services.seed(services.ensure_dataset())
        reporter.event(f"course {demo.course.slug}, homework {demo.homework.slug}, TA and student accounts ready")
        return None

    # the student toolkit: built from the sources this demo runs, so it matches them
    def _toolkit(self, reporter: Reporter) -> str | None:
        from basin.toolkit.wheel import ensure_built

        wheel = ensure_built()
        reporter.event(f"basin-toolkit {wheel.version}")
        return None

    # 3, 4. the sandbox images
    def _docker_unusable(self) -> str | None:
        backend = settings.BASIN_SANDBOX_BACKEND
        if backend == "process":
            return "BASIN_SANDBOX_BACKEND=process"
        if not sandbox_image.docker_available():
            if backend == "docker":
                raise CommandError("BASIN_SANDBOX_BACKEND=docker but no Docker engine answers")
            return "no Docker engine answers"
        if (not sandbox_image.BUILD_SCRIPT.exists()
                and sandbox_image.sandbox_image_state(settings.BASIN_SANDBOX_IMAGE) == "missing"):
            return f"{settings.BASIN_SANDBOX_IMAGE} is missing and deploy/ is not here to build it"
        return None

    def _skipped(self) -> str:
        return f"skipped: {self.no_docker}; the process sandbox grades, weaker than Docker"

    def _estimate_base(self) -> str:
        self.image_state = None if self.no_docker else sandbox_image.sandbox_image_state(settings.BASIN_SANDBOX_IMAGE)
        if self.no_docker:
            return self._skipped()
        if self.image_state in ("current", "as-is"):
            return f"not needed: {settings.BASIN_SANDBOX_IMAGE} is built"
        if sandbox_image.base_image_present():
            return f"cached: {sandbox_image.base_image()} exists"
        return f"first run only, {about(MEASURED['base_image_s'])} on {MEASURED_ON}; downloads Debian packages"

    def _build(self, reporter: Reporter, build) -> None:
        """Runs a build with its output as a progress line; a failure falls back to the process
        sandbox unless Docker was asked for."""
        progress = sandbox_image.BuildProgress()
        try:
            build(lambda line: reporter.update(progress.feed(line)))
        except sandbox_image.ImageBuildError as e:
            if settings.BASIN_SANDBOX_BACKEND == "docker":
                raise CommandError(f"BASIN_SANDBOX_BACKEND=docker but the sandbox image could not be built: {e}") from e
            self.no_docker = f"the image build failed ({str(e).splitlines()[0]})"
            reporter.event(f"build failed; the process sandbox grades instead:\n{e}")

    def _base_image(self, reporter: Reporter) -> str | None:
        if self.no_docker:
            return "skipped"
        if self.image_state in ("current", "as-is") or sandbox_image.base_image_present():
            return "cached"
        self._build(reporter, sandbox_image.build_base_image)
        return None

    def _estimate_image(self) -> str:
        if self.no_docker:
            return self._skipped()
        image = settings.BASIN_SANDBOX_IMAGE
        if self.image_state in ("current", "as-is"):
            return f"cached: {image} is built from these grader sources"
        why = "the grader sources changed" if self.image_state == "stale" else "first run only"
        return f"{why}, {about(MEASURED['sandbox_image_s'])} on {MEASURED_ON}; downloads the CPU torch wheel"

    def _image(self, reporter: Reporter) -> str | None:
        note: str | None = "cached"
        if not self.no_docker and self.image_state not in ("current", "as-is"):
            self._build(reporter,
                        lambda on_line: sandbox_image.build_sandbox_image(settings.BASIN_SANDBOX_IMAGE, on_line))
            note = None
        self.env["BASIN_SANDBOX_BACKEND"] = "process" if self.no_docker else "docker"
        sandbox = "process backend, weaker than Docker" if self.no_docker else "Docker, " + settings.BASIN_SANDBOX_IMAGE
        reporter.event(f"sandbox: {sandbox}")
        return "skipped" if self.no_docker else note

    # 5. baseline
    def _start_worker(self, reporter: Reporter) -> None:
        if "worker" not in self.processes:
            self.processes["worker"] = subprocess.Popen(worker_command(), env=self.env)
            reporter.event(f"grading worker started (pid {self.processes['worker'].pid})")

    def _estimate_training(self) -> str:
        assert self.demo is not None  # the dataset phase seeded it
        self.submission = services.baseline(self.demo.homework)
        if self.submission is not None and self.submission.status != Submission.Status.FAILED:
            return f"cached: the baseline is submission #{self.submission.pk}"
        from basin.demo.training import EPOCHS

        n = services.DEMO_COUNTS["train"]
        return (f"{EPOCHS} epochs on {n:,} images, {about(n * EPOCHS * MEASURED['train_image_epoch_s'])} "
                f"on {MEASURED_ON}")

    def _train(self, reporter: Reporter) -> str | None:
        self._start_worker(reporter)  # it starts while the baseline trains
        if self.submission is not None and self.submission.status != Submission.Status.FAILED:
            return "cached"
        from basin.demo.training import bundle_bytes, train_baseline

        assert self.demo is not None  # the dataset phase seeded it
        model = train_baseline(self.demo.homework.dataset.path, log=lambda line: reporter.event(line.strip()),
                               status=reporter.update)
        self.submission = services.add_baseline(self.demo, bundle_bytes(model))
        return f"submitted as #{self.submission.pk}"

    # 6. score and diagnostics
    def _estimate_scoring(self) -> str:
        s = self.submission
        assert s is not None  # the training phase found or submitted it
        waiting = (Submission.DiagnosticsStatus.QUEUED, Submission.DiagnosticsStatus.RUNNING)
        if s.status in Submission.TERMINAL_STATUSES and s.diagnostics_status not in waiting:
            return f"cached: #{s.pk} is {s.status}"
        backend = "process" if self.no_docker else "Docker"
        return (f"{about(MEASURED['score_s'] + MEASURED['diagnostics_s'])} on {MEASURED_ON}: the score in the "
                f"{backend} sandbox, then the diagnostics, which take longer")

    def _score(self, reporter: Reporter) -> str | None:
        submission, timeout = self.submission, self.opts["timeout"]
        assert submission is not None  # the training phase found or submitted it
        deadline = time.monotonic() + timeout
        waiting = (Submission.DiagnosticsStatus.QUEUED, Submission.DiagnosticsStatus.RUNNING)
        seen = None
        while True:
            now = (submission.status, submission.diagnostics_status)
            if now != seen:
                seen = now
                diagnostics = f", diagnostics {submission.diagnostics_status}" if submission.diagnostics_status else ""
                reporter.event(f"#{submission.pk} {submission.status}{diagnostics}",
                               keep=True)  # and repeated as the heartbeat while nothing changes
            if submission.status in Submission.TERMINAL_STATUSES and submission.diagnostics_status not in waiting:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"the baseline was not graded within {timeout} s (status {submission.status}, "
                                   f"diagnostics {submission.diagnostics_status or 'none'})")
            time.sleep(0.5)
            submission.refresh_from_db()
        if submission.status != Submission.Status.SCORED:
            raise CommandError(f"the baseline was not scored: {submission.verdict}: {submission.message}\n"
                               f"{submission.log_tail[-2000:]}")
        scoring = submission.runs.filter(kind=Run.Kind.SCORE).last()
        assert scoring is not None  # a scored submission was scored by a run
        reporter.event(f"public accuracy {submission.public_score:.4f} ({scoring.backend} sandbox, "
                       f"{scoring.timings.get('sandbox_s', 0):.1f} s in it)")
        report = submission.sandbox_diagnostics
        if submission.diagnostics_status and report:
            sharpness, grid = report.get("sharpness") or {}, (report.get("landscape") or {}).get("grid") or {}
            reporter.event(f"diagnostics {submission.diagnostics_status} ({report.get('sandbox_s', 0):.1f} s in the "
                           f"sandbox): top Hessian eigenvalue {_fmt(sharpness.get('top_eigenvalue'))}, "
                           f"trace {_fmt(sharpness.get('trace'))} ± {_fmt(sharpness.get('trace_standard_error'))}, "
                           f"train basin area {_fmt((grid.get('basin_area') or {}).get('train'))}"
                           + (f"; partial: {', '.join(report['partial'])}" if report.get("partial") else ""))
        return None

    # 7. serve
    def _check_addr_free(self, where: str) -> None:
        host, _, port = where.rpartition(":")
        try:
            with socket.create_server((host.strip("[]"), int(port))):
                pass
        except OSError as e:
            raise CommandError(f"cannot serve on {where}: {e.strerror}. Pick another with --addr HOST:PORT "
                               "(e.g. --addr 127.0.0.1:8001).") from None

    def _serve(self, reporter: Reporter) -> str | None:
        self._start_worker(reporter)
        where = self.opts["addr"]
        bound = where.rpartition(":")[0].strip("[]")
        env = dict(self.env)
        if bound not in ("127.0.0.1", "localhost", "::1") and "BASIN_ALLOWED_HOSTS" not in env:
            # Reached from other machines: by any name on all interfaces, else by the name it is bound to.
            env["BASIN_ALLOWED_HOSTS"] = "*" if bound in ("0.0.0.0", "::", "") else f"{bound},127.0.0.1,localhost"
        self.processes["web"] = web = subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks", where], env=env)
        host, _, port = where.rpartition(":")
        host = "127.0.0.1" if host.strip("[]") in ("0.0.0.0", "") else host.strip("[]")
        deadline = time.monotonic() + 60
        while True:  # until it accepts a connection
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return None
            except OSError:
                if web.poll() is not None:
                    raise CommandError(f"the web server exited with {web.returncode}; see its output above") from None
                if time.monotonic() > deadline:
                    raise CommandError(f"the web server did not answer on {where} within 60 s") from None
                time.sleep(0.2)

    def _print_welcome(self, where: str, demo: services.Demo) -> None:
        host, _, port = where.rpartition(":")
        url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/"
        ta, student = services.LOGINS["ta"], services.LOGINS["student"]
        self.say(self.style.SUCCESS(f"\nBasin is running at {url}"))
        self.say(f"  homework     {url}homeworks/{demo.homework.slug}/  (log in as the student: upload, history, "
                 "final selection)")
        self.say(f"  leaderboard  {url}homeworks/{demo.homework.slug}/leaderboard/")
        self.say(f"  admin        {url}admin/   queue  {url}queue/")
        self.say(f"  join code    {demo.course.join_code}  (new students sign up at {url}accounts/signup/)")
        self.say(f"  TA login     {ta[0]} / {ta[1]}")
        self.say(f"  student      {student[0]} / {student[1]}")
        from basin.toolkit.wheel import DISTRIBUTION, current_version

        self.say(f"  toolkit      pip install --extra-index-url {url}simple/ "
                 f"\"{DISTRIBUTION}[check]=={current_version()}\" (the basin command, DifficultMNIST, basin check)")
        self.say("  submit       curl -H 'Authorization: Token …' -F file=@bundle.zip "
                 f"{url}api/homeworks/{demo.homework.slug}/submissions/")
        self.say("Ctrl-C stops the web server and the grading worker.\n")

    # --fresh -----------------------------------------------------------------------------------
    def _fresh(self) -> None:
        """Lists what earlier runs made in the data directory, removes it, and runs the demo again
        in a new process (the settings of this one were read from the files just removed)."""
        outside = not_embedded()
        if outside:
            raise CommandError("--fresh removes the embedded demo's data directory, but this Basin keeps its state "
                               "elsewhere: " + "; ".join(outside) + ". --fresh never drops a database or empties "
                               "a server, so nothing was removed. Unset those settings to start a fresh embedded "
                               "demo, or empty that database yourself.")
        data_dir = settings.DATA_DIR.resolve()
        if data_dir in (Path("/"), Path.home().resolve()) or sandbox_image.SOURCE_ROOT.is_relative_to(data_dir):
            raise CommandError(f"--fresh removes only a data directory of Basin's own, and {data_dir} is "
                               "/, your home directory or holds Basin's sources. Nothing was removed.")
        if not hasattr(self, "_argv"):
            raise CommandError("--fresh restarts the process after removing its files: run it from the command "
                               "line (python manage.py demo --fresh)")
        ours, others = data_dir_entries()
        images = f"{sandbox_image.base_image()} and {settings.BASIN_SANDBOX_IMAGE}"
        self.say(f"--fresh: removing what Basin made in {settings.DATA_DIR}:")
        for entry in ours:
            slash = "/" if entry.is_dir() and not entry.is_symlink() else ""
            self.say(f"  {entry.name}{slash}  ({_megabytes(_size(entry))})")
        if others:
            self.say("  keeping what Basin did not make: " + ", ".join(e.name for e in others))
        self.say(f"  keeping the Docker images {images}: slow to build and named by what they are built from, "
                 "so a rebuild would make the same ones (docker rmi them yourself to force it)")
        connections.close_all()
        started = time.monotonic()
        for entry in ours:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        if not others:
            settings.DATA_DIR.rmdir()
        self.say(f"      removed in {duration(time.monotonic() - started)}; starting afresh\n")
        argv = [a for a in sys.orig_argv[1:] if not (a.startswith("--fr") and "--fresh".startswith(a))]
        os.execv(sys.executable, [sys.executable, *argv])
