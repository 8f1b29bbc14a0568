"""What happens once per test run, however many processes pytest-xdist spreads the tests over.

The process that starts the run (xdist's controller, or the only process without xdist) names a
folder of the run's own in BASIN_TEST_RUN_DIR before the workers start; they inherit it. There:
- `claim(name)`: True for the first process to ask, False for every other;
- `start(name, argv)`: a long background job (the PostgreSQL re-run, a bare venv's install)
  started by the first process whose collection selects the test that waits for it, whichever
  process that test then runs in;
- `wait(name)`: that job's exit status and output, read from files, from any process;
- `made(name, make)`: a folder made once, by the first process to ask, under a lock; the others
  wait for it and share it;
- `at_end(name, argv)`: a command the process that started the run runs at its end (cleanup of
  what lives outside the run's folder, such as a database).
"""
from __future__ import annotations

import atexit
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUN_DIR_ENV = "BASIN_TEST_RUN_DIR"
_owner = {"this process": False}  # whether this process named the run's folder (it started the run)


def run_dir() -> Path:
    if not os.environ.get(RUN_DIR_ENV):
        os.environ[RUN_DIR_ENV] = folder = tempfile.mkdtemp(prefix="basin-test-run-")
        _owner["this process"] = True
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(os.environ[RUN_DIR_ENV])


def claim(name: str) -> bool:
    try:
        os.close(os.open(run_dir() / f"{name}.claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def log_of(name: str) -> Path:
    return run_dir() / f"{name}.log"


def start(name: str, argv: list[str], env: dict | None = None, cwd: Path | None = None) -> bool:
    """Start the job unless a process of this run already did; its exit status lands in a file."""
    if not claim(name):
        return False
    rc = run_dir() / f"{name}.rc"
    tmp, done = shlex.quote(f"{rc}.tmp"), shlex.quote(str(rc))
    # The shell writes the status to a file of its own first: a reader never sees half of it.
    script = f'"$@" > {shlex.quote(str(log_of(name)))} 2>&1; echo $? > {tmp} && mv {tmp} {done}'
    try:
        process = subprocess.Popen(["/bin/sh", "-c", script, "sh", *argv], env=env, cwd=cwd, start_new_session=True)
    except OSError as e:  # a waiter must not wait for a job that never started
        log_of(name).write_text(f"could not start {argv}: {e}\n")
        rc.write_text("127")
        return True
    # The process that started the run stops what is left at its end (stop_jobs): an xdist worker
    # may finish its share of the tests while another still waits for this job.
    (run_dir() / f"{name}.pgid").write_text(str(process.pid))
    return True


def made(name: str, make: Callable[[Path], None]) -> Path:
    """run_dir()/name, made by make(folder) once per run: the first process to ask makes it while
    holding a lock, the others wait for the lock and find it made. A make() that raised leaves it
    unmade, for the next process to try again (and fail with its own message)."""
    folder, done = run_dir() / name, run_dir() / f"{name}.made"
    with open(run_dir() / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                make(folder)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


def at_end(name: str, argv: list[str]) -> None:
    """Run argv when the run ends (stop_jobs), once, whichever process asked. Only a run whose
    folder its first process named does this: one given BASIN_TEST_RUN_DIR from outside has no
    owner, and its owner cleans up."""
    (run_dir() / f"{name}.at-end").write_text(json.dumps(argv))


def stop_jobs() -> None:
    """Kill every job of the run still going, then run what at_end() asked for, at the end of the
    process that started the run (not of an xdist worker, nor of the PostgreSQL re-run, which
    inherit the folder)."""
    if not _owner["this process"]:
        return
    for pgid in run_dir().glob("*.pgid"):
        try:
            os.killpg(int(pgid.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
    for command in run_dir().glob("*.at-end"):
        try:
            subprocess.run(json.loads(command.read_text()), check=False, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:  # the others still run; the run's result stands
            print(f"run_once: {command.stem} at the end of the run: {e}", file=sys.stderr)


def started(name: str) -> bool:
    return (run_dir() / f"{name}.claimed").exists()


def wait(name: str, timeout: float) -> tuple[int, str]:
    """The job's exit status and output, once it has ended (it ran beside the other tests)."""
    rc, deadline = run_dir() / f"{name}.rc", time.monotonic() + timeout
    while not rc.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not end within {timeout:.0f} s:\n{_tail(name)}")
        time.sleep(1)
    return int(rc.read_text()), log_of(name).read_text(errors="replace")


def _tail(name: str) -> str:
    try:
        return log_of(name).read_text(errors="replace")[-4000:]
    except FileNotFoundError:
        return "(no output)"
