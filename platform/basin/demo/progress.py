"""The demo's voice: each phase announces itself with an estimate and closes with its measured time;
long phases show progress in between.

    [4/7] Building the sandbox image (first run only, about 4 min on 2 cores)…
          0:12 docker build step 3/8: RUN python3 -m venv /opt/venv && …
          done in 3 min 52 s

On a terminal the progress is one line rewritten in place; when stdout is a file or a pipe (tests,
CI) it is plain lines, at most one per `interval` seconds, plus a heartbeat when nothing changed
for `heartbeat` seconds, so a long silent step still shows it is alive. Events (an epoch's accuracy,
a submission's new status) are always written as lines of their own.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

INDENT = " " * 6


def duration(seconds: float) -> str:
    """3.2 s, 41 s, 5 min 41 s."""
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def clock(seconds: float) -> str:
    """Elapsed time at the head of a progress line: 0:07, 5:41."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


@dataclass
class Phase:
    """One step of the demo. `estimate` is asked just before the phase starts (it may look at what
    is cached: an image that exists, a dataset already built) and returns the words in the
    announcement's parentheses; `run` does the work and may return a note for the closing line."""
    title: str
    estimate: Callable[[], str]
    run: Callable[[Reporter], str | None]


class Reporter:
    def __init__(self, write: Callable[[str], None], tty: bool, interval: float = 5.0, heartbeat: float = 30.0):
        self._write, self.tty = write, tty
        self.interval = 0.5 if tty else interval
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._pending: str | None = None   # the newest status not yet shown
        self._status = ""                  # the newest status shown
        self._shown_at = 0.0               # when a progress line was last written
        self._changed_at = 0.0             # when the status last changed
        self._started = 0.0
        self._open_line = False            # a terminal line being rewritten in place
        self._stop = threading.Event()

    # -- phases ----------------------------------------------------------------------------------
    def run(self, phases: list[Phase]) -> None:
        for number, phase in enumerate(phases, 1):
            self.say(f"[{number}/{len(phases)}] {phase.title} ({phase.estimate()})…")
            self._started = self._changed_at = time.monotonic()
            self._shown_at = float("-inf")  # a phase's first status shows at once
            self._pending, self._status = None, ""
            self._stop.clear()
            ticker = threading.Thread(target=self._tick_until_stopped, daemon=True)
            ticker.start()
            try:
                note = phase.run(self)
            except BaseException:
                self._stop.set()
                ticker.join()
                self.say(f"{INDENT}failed after {duration(time.monotonic() - self._started)}")
                raise
            self._stop.set()
            ticker.join()
            self.say(f"{INDENT}done in {duration(time.monotonic() - self._started)}" + (f" ({note})" if note else ""))

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    # -- what a phase says while it runs ---------------------------------------------------------
    def say(self, line: str) -> None:
        """A line of its own, now (an event, an announcement)."""
        with self._lock:
            self._end_open_line()
            self._write(line)

    def event(self, text: str, keep: bool = False) -> None:
        """Something that happened in this phase, with the phase's elapsed time; with keep, it is
        also the status the heartbeat repeats while nothing else changes."""
        with self._lock:
            self._end_open_line()
            now = time.monotonic()
            self._write(f"{INDENT}{clock(now - self._started)} {text}")
            if keep:
                self._pending, self._status, self._shown_at = None, text, now

    def update(self, text: str | None) -> None:
        """The phase's current status; shown when the interval allows (the ticker shows the rest)."""
        if not text:
            return
        with self._lock:
            if text != self._pending and text != self._status:
                self._pending, self._changed_at = text, time.monotonic()
            self._flush(time.monotonic())

    # -- internals -------------------------------------------------------------------------------
    def _tick_until_stopped(self) -> None:
        while not self._stop.wait(min(1.0, self.interval)):
            with self._lock:
                self._flush(time.monotonic())
        with self._lock:
            self._end_open_line()

    def _flush(self, now: float) -> None:
        if now - self._shown_at < self.interval:
            return
        text, shown = self._pending, self._pending
        if text is None:  # nothing new: a heartbeat with the time, or on a terminal the clock ticking
            if not self._status or (not self.tty and now - self._shown_at < self.heartbeat):
                return
            text, shown = self._status, self._status if self.tty else f"still: {self._status}"
        self._pending, self._status, self._shown_at = None, text, now
        line = f"{INDENT}{clock(now - self._started)} {shown}"
        if self.tty:
            self._write_raw("\r\x1b[K" + line)
            self._open_line = True
        else:
            self._write(line)

    def _end_open_line(self) -> None:
        if self._open_line:
            self._write_raw("\r\x1b[K")
            self._open_line = False

    def _write_raw(self, text: str) -> None:
        self._write(text, ending="")  # type: ignore[call-arg]
