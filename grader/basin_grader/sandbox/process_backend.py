"""The fallback sandbox for machines without a Docker engine: a subprocess under rlimits.

Plainly weaker than a container (same filesystem view, same user); the settings' deploy check
refuses it in production. Where permitted (root) it also gets a fresh, empty network namespace.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time

from . import RunIdentity, SandboxDirs, SandboxLimits, SandboxRun, sandbox_env

_CLONE_NEWNET = 0x40000000
OBSERVED_OOM_FRACTION = 0.8


def _limit_child(limits: SandboxLimits):
    def apply() -> None:  # runs in the child between fork and exec
        mb = 1024 * 1024
        # RLIMIT_DATA, not RLIMIT_AS: the CUDA build of torch maps gigabytes of libraries at import.
        resource.setrlimit(resource.RLIMIT_DATA, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(limits.wall_seconds * max(1.0, limits.cpus)) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare(_CLONE_NEWNET)  # no network where permitted; EPERM otherwise, ignored

    return apply


class ProcessBackend:
    name = "process"

    def run(self, dirs: SandboxDirs, limits: SandboxLimits, identity: RunIdentity, mode: str = "score") -> SandboxRun:
        tmp = dirs.scratch / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = sandbox_env(limits) | {"HOME": str(tmp), "TMPDIR": str(tmp),
                                     "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        log_path = dirs.scratch / "sandbox.log"
        cmd = [sys.executable, "-m", "basin_grader.runtime",
               "--sub", str(dirs.sub), "--data", str(dirs.data), "--out", str(dirs.out), "--mode", mode]
        started = time.monotonic()
        with open(log_path, "w+b") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                                    env=env, start_new_session=True, preexec_fn=_limit_child(limits))
            # Reaped with wait4 for its resource usage: the peak memory is what the worker observed.
            ended: dict = {}
            waiter = threading.Thread(
                target=lambda: ended.update(zip(("pid", "status", "usage"), os.wait4(proc.pid, 0), strict=True)),
                daemon=True)
            waiter.start()
            waiter.join(limits.wall_seconds)
            timed_out = waiter.is_alive()
            try:  # the whole process group: children must not outlive the run
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            waiter.join()
            proc.returncode = os.waitstatus_to_exitcode(ended["status"])
            seconds = time.monotonic() - started
            # The tail from the file the worker opened, never by its path again: the run's user owns
            # scratch/, so a link (to the worker's files) or a FIFO (a hang) may stand there now.
            log.seek(max(0, os.fstat(log.fileno()).st_size - limits.log_bytes))
            log_tail = log.read(limits.log_bytes).decode("utf-8", errors="replace")
        peak_mb = ended["usage"].ru_maxrss / 1024  # kilobytes on Linux
        # No OOM flag without a cgroup: a failed run that had reached most of its memory limit (the
        # data rlimit refuses allocations past it) is a memory verdict, whatever the run claims.
        out_of_memory = not timed_out and proc.returncode != 0 and peak_mb >= OBSERVED_OOM_FRACTION * limits.memory_mb
        return SandboxRun(exit_code=None if timed_out else proc.returncode, timed_out=timed_out,
                          oom_killed=out_of_memory, log_tail=log_tail, seconds=seconds)
