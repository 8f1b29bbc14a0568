"""Where untrusted code runs: a hardened Docker container, or (no engine) a limited subprocess.

Both backends take the same three directories — /sub (the submission, read-only), /data (hidden
images, no labels, read-only), /out (written by the runtime) — and the same limits, and report
what happened as a SandboxRun. Neither decides a verdict; basin_grader.evaluate does.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_IMAGE = "basin-sandbox:cpu"
BACKENDS = ("auto", "docker", "process")


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 300.0
    memory_mb: int = 2048  # memory and memory+swap alike: no swapping past the limit
    cpus: float = 1.0
    pids: int = 128
    shm_mb: int = 256  # PyTorch's DataLoader and some kernels need a real /dev/shm
    tmp_mb: int = 512
    file_mb: int = 256  # largest file the submission may write
    log_bytes: int = 32 * 1024  # log tail kept, from the end


@dataclass(frozen=True)
class SandboxRun:
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    log_tail: str
    seconds: float


@dataclass(frozen=True)
class SandboxDirs:
    sub: Path
    data: Path
    out: Path
    scratch: Path  # host-side working space of the backend (process backend's cwd and logs)


@dataclass(frozen=True)
class RunIdentity:
    """How a run is named and labelled, so a watchdog can find and remove orphans."""

    name: str = field(default_factory=lambda: f"basin-eval-{uuid.uuid4().hex[:12]}")  # unique: TAs run several
    labels: dict[str, str] = field(default_factory=dict)


class SandboxBackend(Protocol):
    name: str

    def run(self, dirs: SandboxDirs, limits: SandboxLimits, identity: RunIdentity,
            mode: str = "score") -> SandboxRun: ...


def sandbox_env(limits: SandboxLimits) -> dict[str, str]:
    """The whole environment of a sandboxed run: an allow-list, never the worker's own."""
    threads = str(max(1, int(limits.cpus)))
    return {
        "PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The working directory (/tmp) is the model's to write: never a place Python imports from,
        # so nothing the model plants there is imported by the runtime or its supervisor.
        "PYTHONSAFEPATH": "1",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "BASIN_THREADS": threads,
        # cuBLAS picks its reduction order per call unless its workspace is fixed: the runtime asks
        # for deterministic algorithms (a rescore gives the same score), which needs this on a GPU.
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    }


def get_backend(name: str = "auto", image: str = DEFAULT_IMAGE, gpu: str | None = None) -> SandboxBackend:
    """`auto` picks Docker when an engine answers, the process backend otherwise."""
    from .docker_backend import DockerBackend, docker_available
    from .process_backend import ProcessBackend

    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "docker" or (name == "auto" and docker_available()):
        return DockerBackend(image=image, gpu=gpu)
    return ProcessBackend()
