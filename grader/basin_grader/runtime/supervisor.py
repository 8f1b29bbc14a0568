"""The diagnostics run's supervisor: the one process of the sandbox that writes its report.

The student's model is loaded and run in a child process (basin_grader.runtime.diagnose_child),
which sends its results here over a pipe. This process never imports the model, never unpickles
anything, and writes /out only after the child is done or its deadline passed *and* every other
process of the run has been ended, so nothing the model started can rewrite the report after it
was written. The worker trusts the report only when this process exited normally (a child that
stops or kills its supervisor leaves a run the worker discards).

- It is made non-dumpable, so the child (same uid, no capabilities in a container) can neither
  ptrace it nor read or write its memory through /proc/<pid>/mem.
- It is a child subreaper: whatever the model forks or daemonizes stays its descendant.
- In a Docker container (init as PID 1, the sandbox's own uid), `kill(-1, SIGKILL)` reaches every
  process but this one and PID 1. On the process backend that would reach every process of the
  worker's own user, so there it ends its own descendants one by one instead. The process backend
  is weaker all the same: same user as the worker, and root there keeps CAP_SYS_PTRACE.

Frames on the pipe: one byte of kind, four bytes of length (big-endian), the payload. Only the
newest complete frame of each kind is kept; a frame over its cap ends the reading.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

from ..contract import BUDGET, OUTPUT_DIAGNOSTICS, SANDBOX_UID, RunResult, centre_logits_name

REPORT, LOGITS_TRAIN, LOGITS_VAL, ERROR = b"R", b"T", b"V", b"E"
HEADER = struct.Struct(">cI")
_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36
_MAX_ERROR_BYTES = 16 * 1024


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def caps(budget) -> dict[bytes, int]:
    """The largest payload of each kind an honest child sends under `budget`."""
    from ..sandbox_diagnostics import max_logits_bytes, max_report_bytes

    return {REPORT: max_report_bytes(budget), LOGITS_TRAIN: max_logits_bytes(budget),
            LOGITS_VAL: max_logits_bytes(budget), ERROR: _MAX_ERROR_BYTES}


def _prctl(option: int, value: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def _in_container() -> bool:
    """A Docker sandbox: its uid, and launched by the container's init as PID 1. Never true for
    the process backend, whose runtime runs as the worker's user under the worker."""
    try:
        init = Path("/proc/1/comm").read_text().strip()
    except OSError:
        return False
    return os.getuid() == SANDBOX_UID and os.getppid() == 1 and init in ("docker-init", "tini")


def _descendants() -> list[int]:
    """Every live process below this one (a subreaper: orphans of the child are reparented here)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), ()):
            found.append(pid)
            todo.append(pid)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_every_other_process(child: subprocess.Popen) -> None:
    if _in_container():
        try:
            os.kill(-1, signal.SIGKILL)  # all but this process and PID 1, atomically
        except OSError:
            pass
    child.kill()
    child.wait()
    for _ in range(1000):  # descendants forking while they are killed: until none is left
        pids = _descendants()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.001)
        _reap()
    _reap()


class _Frames:
    """Reads frames as they come; keeps the newest complete one of each kind."""

    def __init__(self, fd: int, limits: dict[bytes, int]):
        self.fd, self.limits = fd, limits
        self.buffer = bytearray()
        self.latest: dict[bytes, bytes] = {}
        self.problem: str | None = None
        self.closed = False

    def read(self) -> int:
        """Bytes read now: 0 when nothing is waiting or the pipe is closed."""
        try:
            chunk = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return 0
        if not chunk:
            self.closed = True
            return 0
        self.buffer += chunk
        while len(self.buffer) >= HEADER.size and self.problem is None:
            kind, length = HEADER.unpack_from(self.buffer)
            if kind not in self.limits or length > self.limits[kind]:
                self.problem = (f"the model's process sent a frame the budget cannot produce "
                                f"({kind!r}, {length:,} bytes)")
                self.closed = True
                break
            if len(self.buffer) < HEADER.size + length:
                break
            self.latest[kind] = bytes(self.buffer[HEADER.size:HEADER.size + length])
            del self.buffer[:HEADER.size + length]
        return len(chunk)


def _write(path: Path, data: bytes) -> None:
    """Replace the contents of a file the worker made; nothing else runs by now. The model may have
    chmodded it or (on the process backend, where /out is its user's) put a link, a hard link or a
    FIFO in its place: whatever is not the worker's lone regular file is replaced by a new one, so
    nothing is written through a link and no FIFO hangs this process."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_nlink != 1):
        os.unlink(path)
        st = None
    if st is None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    else:
        os.chmod(path, 0o644)
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def supervise(sub: Path, data: Path, out: Path, started: float) -> RunResult:
    """Run the child to its end or the deadline, end every other process, then write the report
    and the centre logits. The returned dict becomes result.json."""
    _prctl(_PR_SET_DUMPABLE, 0)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    from ..budgets import budget_from_dict

    budget = budget_from_dict(json.loads((data / BUDGET).read_text()))
    # The child stops starting new work at `soft`; at `hard` it is ended, leaving time to write.
    soft = started + 0.9 * budget.time_limit_s - 2
    hard = started + 0.95 * budget.time_limit_s - 1
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    child = subprocess.Popen(
        [sys.executable, "-m", "basin_grader.runtime.diagnose_child", "--sub", str(sub), "--data", str(data),
         "--pipe", str(write_end), "--deadline", repr(soft)],
        stdin=subprocess.DEVNULL, pass_fds=(write_end,))
    os.close(write_end)
    frames = _Frames(read_end, caps(budget))
    deadline_reached = False
    while not frames.closed:
        left = hard - time.monotonic()
        if left <= 0:
            deadline_reached = True
            break
        ready, _, _ = select.select([read_end], [], [], min(left, 0.5))
        if ready:
            frames.read()
        elif child.poll() is not None:
            frames.read()  # a grandchild may hold the pipe open: the child's exit ends the run
            break
    end_every_other_process(child)
    while not frames.closed and frames.read():  # what the pipe still holds (every writer is gone)
        pass
    os.close(read_end)
    _write(out / OUTPUT_DIAGNOSTICS, frames.latest.get(REPORT, b""))
    for kind, split in ((LOGITS_TRAIN, "train"), (LOGITS_VAL, "val")):
        _write(out / centre_logits_name(split), frames.latest.get(kind, b""))
    error = frames.latest.get(ERROR, b"")[:_MAX_ERROR_BYTES].decode("utf-8", "replace") or None
    return {"status": "ok", "supervised": True, "child_exit": child.returncode, "deadline_reached": deadline_reached,
            "child_error": error, "protocol_error": frames.problem}
