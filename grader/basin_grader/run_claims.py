"""What the worker makes of a sandbox run's own word (basin_grader.evaluate): the verdicts a run may
claim of itself, those the worker observed, the timings it reports, and what a student reads of a
failure on the hidden images. Everything a run writes is the model's; nothing here returns its text
to a student unless the run saw public images only.
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

from .formats import BUNDLE
from .sandbox import SandboxLimits, SandboxRun
from .verdicts import (
    DEFAULT_MESSAGES,
    HIDDEN_PASS_MESSAGES,
    INVALID_OUTPUT,
    INVALID_SUBMISSION,
    MEMORY_LIMIT,
    RUNTIME_ERROR,
    TIME_LIMIT,
    builtin_exception_names,
)

_REPORTED_TIMINGS = ("load_s", "inference_s")
# What a run's result.json may claim. Time and memory verdicts come only from what the worker
# observed (the wall clock it enforces, the container's OOM flag), never from the sandbox's word.
_CLAIMABLE = (RUNTIME_ERROR, INVALID_OUTPUT, INVALID_SUBMISSION)
MAX_NAMED_LINE = 2000  # a model.py longer than this gets no line named on a hidden-pass failure
MAX_SOURCE_BYTES = 1 << 20


def reported_timings(reported: dict, observed_s: float) -> dict:
    """The run's own timings, within what the worker saw it take and to a tenth of a second: a
    hidden pass's numbers are the model's word, and at full precision each could carry hidden image
    bytes to whoever reads them."""
    timings = given if isinstance(given := reported.get("timings"), dict) else {}
    out = {}
    for key in _REPORTED_TIMINGS:
        value = timings.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
            out[key] = round(min(float(value), observed_s), 1)
    return out


def observed_failure(run: SandboxRun, limits: SandboxLimits, where: str) -> tuple[str, str] | None:
    """A time or memory verdict from what the worker saw: its own clock and the container's OOM flag."""
    if run.timed_out:
        return TIME_LIMIT, (f"Your model did not finish within {limits.wall_seconds:g} s {where}. "
                            "Make inference faster or the model smaller.")
    if run.oom_killed:
        return MEMORY_LIMIT, (f"Your model used more than the {limits.memory_mb} MB memory limit {where}. "
                              "Use a smaller model or batch.")
    return None


def claimed_failure(reported: dict) -> tuple[str, str]:
    """(verdict, message) of a run that exited non-zero, from its result.json: only verdicts a run
    can know of itself; its message as it wrote it (shown only where the run saw public data)."""
    claimed = reported.get("verdict")
    verdict = claimed if isinstance(claimed, str) and claimed in _CLAIMABLE else RUNTIME_ERROR
    message = reported.get("message")
    return verdict, (message[:2000] if isinstance(message, str) and message else DEFAULT_MESSAGES[verdict])


def source_lines(submission: Path, kind: str) -> int:
    """How many lines the bundle's model.py has (0: none, or too long to name a line of)."""
    if kind != BUNDLE:
        return 0
    try:
        with zipfile.ZipFile(submission) as zf, zf.open("model.py") as f:
            source = f.read(MAX_SOURCE_BYTES + 1)
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
        return 0
    lines = source.count(b"\n") + 1
    return lines if len(source) <= MAX_SOURCE_BYTES and lines <= MAX_NAMED_LINE else 0


def hidden_pass_message(verdict: str, reported: dict, source_lines: int) -> str:
    """The fixed sentence for a failure on the hidden images, plus where the error was raised: a
    built-in exception's name and a line of the bundle's model.py, each checked, never the error's
    text. The line is the model's word (about log2(lines) bits of it), so it is named only within a
    model.py of ordinary length."""
    message = HIDDEN_PASS_MESSAGES[verdict]
    if verdict != RUNTIME_ERROR:
        return message
    kind, line = reported.get("error_type"), reported.get("error_line")
    kind = kind if isinstance(kind, str) and kind in builtin_exception_names() else None
    line = line if type(line) is int and 0 < line <= source_lines else None
    if kind and line:
        return f"{message} It was a {kind}, raised at model.py line {line}."
    if kind:
        return f"{message} It was a {kind}."
    if line:
        return f"{message} It was raised at model.py line {line}."
    return message
