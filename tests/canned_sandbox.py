"""A canned sandbox for the platform's tests, which are about what Basin does with a sandbox's
output, not about the sandbox: each distinct run is made once, for real, in the process sandbox,
and later runs with the same inputs get a copy of what it wrote.

A run's inputs are everything the sandbox can see: its mode, its limits, and every file under /sub
and /data (names and bytes). Same inputs, same outputs: the first run's exit code, flags, log tail
and /out files are replayed. The real sandboxes are tested where they are the subject: the
grader's tests (tests/grader) and the end-to-end tests (tests/e2e), which never use this.

The cache is a folder shared by the session and by its PostgreSQL re-run (BASIN_TEST_SANDBOX_CACHE),
written atomically (a folder renamed into place), so two processes that make the same run at once
both run it and one of the copies stays.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from basin_grader.sandbox import RunIdentity, SandboxDirs, SandboxLimits, SandboxRun
from basin_grader.sandbox.process_backend import ProcessBackend

CACHE_ENV = "BASIN_TEST_SANDBOX_CACHE"
replayed = {"runs": 0, "replays": 0}  # what this process did: printed at the session's end


def _digest(mode: str, limits: SandboxLimits, dirs: SandboxDirs) -> str:
    h = hashlib.sha256(json.dumps({"mode": mode, "limits": asdict(limits)}, sort_keys=True).encode())
    for name, root in (("sub", dirs.sub), ("data", dirs.data)):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(f"{name}/{path.relative_to(root)}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


class CannedSandbox(ProcessBackend):
    """The process backend, each distinct run made once (see the module's docstring)."""

    name = "process"  # what it replays: the worker treats its output exactly as the process backend's

    def __init__(self, cache: Path):
        self.cache = cache

    def run(self, dirs: SandboxDirs, limits: SandboxLimits, identity: RunIdentity, mode: str = "score") -> SandboxRun:
        entry = self.cache / _digest(mode, limits, dirs)
        if (entry / "run.json").exists():
            replayed["replays"] += 1
            shutil.copytree(entry / "out", dirs.out, symlinks=True, dirs_exist_ok=True)
            return SandboxRun(**json.loads((entry / "run.json").read_text()))
        replayed["runs"] += 1
        run = super().run(dirs, limits, identity, mode)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.cache))
        try:
            shutil.copytree(dirs.out, staging / "out", symlinks=True)
            (staging / "run.json").write_text(json.dumps(asdict(run)))
            staging.rename(entry)
        except OSError:  # stored first by another process (same inputs: keep theirs), or unreadable output
            shutil.rmtree(staging, ignore_errors=True)
        return run


def cache_folder() -> Path:
    """The session's cache: the one a parent session named (the PostgreSQL re-run inherits it), or a
    new one, removed when this process ends."""
    if not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = folder = tempfile.mkdtemp(prefix="basin-canned-sandbox-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(os.environ[CACHE_ENV])


def install(monkeypatch) -> None:
    """Every process-backend run of the test goes through the cache (basin_grader.sandbox.get_backend
    builds its backends from process_backend.ProcessBackend at each call)."""
    from basin_grader.sandbox import process_backend

    cache = cache_folder()
    monkeypatch.setattr(process_backend, "ProcessBackend", lambda: CannedSandbox(cache))
