"""`manage.py demo` says what it does: each phase announced with an estimate and closed with its
measured time; `--fresh` lists and removes what earlier runs made (never a database server's data)
and seeds again. The command runs for real, in its own data directory, with the Docker sandbox's
images already built where an engine answers (the image builds themselves are measured by hand:
see the commit that set basin.demo.management.commands.demo.MEASURED)."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from basin.demo.progress import Phase, Reporter, duration
from basin.grading.sandbox_image import BuildProgress
from basin.toolkit.wheel import current_version
from tests import services

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["Migrating the database", "Building the demo dataset and seeding the course",
          "Building the student toolkit served at /simple/",
          "Building the sandbox's Debian base image with debootstrap", "Building the sandbox image"]
DONE = re.compile(r"^ {6}done in (\d+(\.\d)? s|\d+ min( \d+ s)?)( \((cached|skipped)\))?$")


def demo_env(data_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "BASIN_"))}
    return env | {"BASIN_DATA_DIR": str(data_dir)} | extra


def demo(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "demo", *args], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def phase_lines(stdout: str) -> list[tuple[str, str, str]]:
    """(title, estimate, closing line) of each phase, in order."""
    lines = stdout.splitlines()
    found = []
    for i, line in enumerate(lines):
        if m := re.match(r"^\[(\d+)/(\d+)\] (.+) \((.+)\)…$", line):
            closing = next(line for line in lines[i + 1:] if re.match(r"^ {6}(done in|failed after) ", line))
            found.append((m[3], m[4], closing))
    return found


@pytest.fixture(scope="module")
def docker_ready() -> bool:
    """The images are built before the demo runs (as the other Docker tests build them), so the
    demo's image phases find them cached; without an engine they are skipped."""
    ready, _ = services.docker_sandbox()
    services.exercised["docker"] |= ready
    return ready


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, docker_ready):
    data = tmp_path_factory.mktemp("demo") / "data"
    done = demo(demo_env(data), "--no-serve", "--no-baseline")
    assert done.returncode == 0, done.stdout + done.stderr
    return data, done.stdout


def test_each_phase_is_announced_with_an_estimate_and_closed_with_its_measured_time(first_run, docker_ready):
    data, stdout = first_run
    phases = phase_lines(stdout)
    assert [title for title, _, _ in phases] == PHASES, stdout
    assert [f"[{n}/5]" for n in range(1, 6)] == re.findall(r"^(\[\d/\d\])", stdout, re.MULTILINE)
    (_, migrations, _), (_, dataset, _), (_, toolkit, _), (_, base, base_done), (_, image, image_done) = phases
    assert toolkit == "about a second" and f"basin-toolkit {current_version()}" in stdout
    assert re.fullmatch(r"\d+ migrations, (about \d+ s|a few seconds) on 2 cores", migrations), migrations
    assert re.fullmatch(r"4,900 images, (about \d+ s|a few seconds) on 2 cores", dataset), dataset
    for _, _, closing in phases:
        assert DONE.match(closing), (closing, stdout)
    assert "      0:" in stdout and "course dl101, homework dmnist, TA and student accounts ready" in stdout
    if docker_ready:
        assert base == "not needed: basin-sandbox:cpu is built" and base_done.endswith("(cached)")
        assert image == "cached: basin-sandbox:cpu is built from these grader sources"
        assert image_done.endswith("(cached)")
        assert re.search(r"^ {6}\d:\d\d sandbox: Docker, basin-sandbox:cpu$", stdout, re.MULTILINE), stdout
    else:
        assert base.startswith("skipped: no Docker engine answers") and base_done.endswith("(skipped)")
    assert stdout.startswith(f"Basin demo · data in {data} · estimates measured on 2 cores\n")

    # A second run finds everything made: each phase says so, and nothing is built again.
    again = demo(demo_env(data), "--no-serve", "--no-baseline")
    assert again.returncode == 0, again.stdout + again.stderr
    (_, migrations, _), (_, dataset, _), *_ = phase_lines(again.stdout)
    assert (migrations, dataset) == ("up to date", "cached: dmnist-demo was built by an earlier run")


def test_fresh_lists_what_it_removes_keeps_what_is_not_basins_and_seeds_again(first_run, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(first_run[0], data)
    upload = data / "media" / "submissions" / "1" / "earlier.zip"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"an upload of an earlier run")
    (data / "notes.txt").write_text("mine, not Basin's")
    instance = (data / "instance_id").read_text()

    done = demo(demo_env(data), "--fresh", "--no-serve", "--no-baseline")

    assert done.returncode == 0, done.stdout + done.stderr
    listing, rest = done.stdout.split("starting afresh\n", 1)
    assert listing.startswith(f"--fresh: removing what Basin made in {data}:\n")
    for entry in ("basin.sqlite3", "broker/", "datasets/", "media/", "instance_id", "secret_key"):
        assert re.search(rf"^  {re.escape(entry)}  \(\d+(\.\d)? [kM]B\)$", listing, re.MULTILINE), (entry, listing)
    assert "  keeping what Basin did not make: notes.txt\n" in listing
    assert ("  keeping the Docker images basin-base:bookworm and basin-sandbox:cpu: slow to build and named by what "
            "they are built from, so a rebuild would make the same ones (docker rmi them yourself to force it)"
            ) in listing
    assert not upload.exists() and (data / "notes.txt").read_text() == "mine, not Basin's"
    assert (data / "instance_id").read_text() != instance  # a new Basin, made by the restarted command
    # ... which migrated an empty database and built and seeded everything again.
    (_, migrations, _), (_, dataset, _), *_ = phase_lines(rest)
    assert re.match(r"\d+ migrations", migrations) and dataset.startswith("4,900 images"), rest
    with sqlite3.connect(data / "basin.sqlite3") as db:
        assert db.execute("select slug from courses_homework").fetchall() == [("dmnist",)]
        assert db.execute("select username from auth_user order by username").fetchall() == [("student",), ("ta",)]


def test_fresh_refuses_a_postgresql_database_and_removes_nothing(tmp_path):
    data = tmp_path / "data"
    env = demo_env(data, DATABASE_URL="postgres://basin:secret@db.example:5433/coursework")
    done = demo(env, "--fresh", "--no-serve")
    assert done.returncode == 1
    assert done.stderr == (
        "CommandError: --fresh removes the embedded demo's data directory, but this Basin keeps its state "
        "elsewhere: the database is PostgreSQL (database coursework on db.example:5433, from DATABASE_URL). "
        "--fresh never drops a database or empties a server, so nothing was removed. Unset those settings to "
        "start a fresh embedded demo, or empty that database yourself.\n")
    assert "secret" not in done.stderr.replace("secret_key", "") and done.stdout == ""
    assert sorted(p.name for p in data.iterdir()) == ["broker", "instance_id", "secret_key", "static"]


def test_addr_is_checked_before_the_long_phases(tmp_path):
    with __import__("socket").create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = demo(demo_env(tmp_path / "data"), "--addr", f"127.0.0.1:{port}")
    assert done.returncode == 1 and done.stderr.startswith(f"CommandError: cannot serve on 127.0.0.1:{port}: ")
    assert "Pick another with --addr HOST:PORT" in done.stderr and "[1/" not in done.stdout
    bad = demo(demo_env(tmp_path / "data"), "--addr", "localhost")
    assert bad.returncode == 2 and "argument --addr: invalid addr value: 'localhost'" in bad.stderr


# -- the parts of the voice, on their own ---------------------------------------------------------

def test_build_output_becomes_one_short_status():
    progress = BuildProgress()
    seen = [progress.feed(line) for line in [
        "base: debootstrap bookworm into /tmp/tmp.x", "I: Retrieving InRelease", "I: Retrieving libacl1 2.3.1-3",
        "I: Validating libacl1 2.3.1-3", "I: Retrieving libapt-pkg6.0 2.6.1", "I: Unpacking required packages...",
        "I: Unpacking libapt-pkg6.0:amd64...", "I: Configuring the base system...", "noise",
        "Step 4/9 : RUN python3 -m venv /opt/venv  && /opt/venv/bin/pip install --no-cache-dir --no-index",
        " ---> Running in 5f3a", "Processing /tmp/wheels/torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl",
        "#7 [2/3] COPY wheels /tmp/wheels"]]
    assert seen == [
        "base: debootstrap bookworm into /tmp/tmp.x", "debootstrap: retrieving InRelease",
        "debootstrap: retrieving packages (1, now libacl1)", "debootstrap: validating 1/1 packages (libacl1)",
        "debootstrap: retrieving packages (2, now libapt-pkg6.0)", "debootstrap: unpacking required packages",
        "debootstrap: unpacking 1/2 packages (libapt-pkg6.0)", "debootstrap: configuring the base system", None,
        "docker build step 4/9: RUN python3 -m venv /opt/venv && /opt/venv/bin/pip inst…", None,
        "docker build step 4/9: pip: processing torch-2.13.0+cpu-cp311-cp311-linux_x86_…",
        "docker build step 2/3: COPY wheels /tmp/wheels"]


class Captured:
    def __init__(self):
        self.text, self.lock = "", threading.Lock()

    def write(self, text: str, ending: str = "\n") -> None:
        with self.lock:
            self.text += text + ending


def test_progress_lines_are_throttled_when_captured_and_rewritten_in_place_on_a_terminal():
    def busy(reporter: Reporter) -> None:  # a new status every 10 ms for 1.2 s
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            reporter.update(f"item {time.monotonic_ns()}")
            time.sleep(0.01)
        reporter.event("an epoch ended")

    captured = Captured()
    Reporter(captured.write, tty=False, interval=0.5).run([Phase("Busy", lambda: "about 1 s", busy)])
    lines = captured.text.splitlines()
    assert lines[0] == "[1/1] Busy (about 1 s)…" and DONE.match(lines[-1]) and lines[-2].endswith(" an epoch ended")
    assert 2 <= len(lines[1:-2]) <= 4 and all(re.match(r"^ {6}0:0\d item \d+$", line) for line in lines[1:-2]), lines

    terminal = Captured()
    Reporter(terminal.write, tty=True).run([Phase("Busy", lambda: "about 1 s", busy)])
    updates = terminal.text.split("\r\x1b[K")
    assert len(updates) > 2 and terminal.text.startswith("[1/1] Busy (about 1 s)…\n")
    assert "\r\x1b[K      0:01 an epoch ended\n" in terminal.text and DONE.match(terminal.text.splitlines()[-1])


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (0.04, 3.24, 41.4, 60, 341, 3600)] == [
        "0.0 s", "3.2 s", "41 s", "1 min", "5 min 41 s", "60 min"]
