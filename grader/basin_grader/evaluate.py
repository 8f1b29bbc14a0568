"""One evaluation, outside Django: check the file, run the sandbox, score against hidden labels.

The grading worker and `python -m basin_grader evaluate` both call `evaluate`. The sandbox sees
the submission and the hidden *images*; the labels are read here, after it has exited.
"""
from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import dataset_layout as layout
from .formats import inspect_submission, submission_filename
from .runtime import OUTPUT_RESULT, images_name, logits_name, output_files
from .sandbox import RunIdentity, SandboxBackend, SandboxDirs, SandboxLimits
from .scoring import metrics, read_logits, read_result, score_test
from .trusted_diagnostics import diagnose, read_groups
from .verdicts import (DEFAULT_MESSAGES, MEMORY_LIMIT, RUNTIME_ERROR, SCORED, STUDENT_VERDICTS, TIME_LIMIT,
                       GradingError, InfrastructureError)

_REPORTED_TIMINGS = ("load_s", "inference_s")
DIAGNOSTICS = ("off", "cpu", "gpu")  # none; or the budget of the device they run on
_SANDBOX_UID = 65534


@dataclass
class Evaluation:
    verdict: str
    message: str
    log_tail: str = ""
    scores: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    backend: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _share_read_only(source: Path, target: Path, link: bool) -> None:
    """Put a hidden image file into the sandbox's /data. A hard link only where /data is mounted
    read-only (Docker); a process-backend run could write through a link into the dataset."""
    if link:
        try:
            os.link(source, target)
            if os.stat(target).st_mode & 0o004:
                return
            target.unlink()
        except OSError:
            pass
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)


def prepare(workdir: Path, submission: Path, kind: str, dataset: Path, link: bool = False) -> SandboxDirs:
    """Fresh /sub, /data and /out for one attempt under `workdir` (emptied first)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    dirs = SandboxDirs(sub=workdir / "sub", data=workdir / "data", out=workdir / "out", scratch=workdir / "scratch")
    for d in (dirs.sub, dirs.data, dirs.out, dirs.scratch):
        d.mkdir(parents=True)
    os.chmod(workdir, 0o755)
    target = dirs.sub / submission_filename(kind)
    shutil.copyfile(submission, target)
    os.chmod(target, 0o644)
    for split in layout.HIDDEN_SPLITS:
        source = layout.split_file(dataset, split, layout.IMAGES)
        if source.exists():
            _share_read_only(source, dirs.data / images_name(split), link)
        elif split == "test":  # the grader's data is broken, not the student's model
            raise InfrastructureError(f"the dataset version at {dataset} has no {split} images")
    for d in (dirs.sub, dirs.data, dirs.out):
        os.chmod(d, 0o755)
    # /out holds only the runtime's own files, made here, empty: the container's user (nobody) may
    # write into them, each capped by the file-size limit, but cannot create, replace or remove
    # anything in /out (no planted links, no disk filled with many files).
    for name in output_files():
        path = dirs.out / name
        path.touch()
        if os.geteuid() == 0:
            os.chown(path, _SANDBOX_UID, _SANDBOX_UID)
        else:
            os.chmod(path, 0o666)
    return dirs


def _reported_timings(reported: dict) -> dict:
    timings = reported.get("timings") if isinstance(reported.get("timings"), dict) else {}
    out = {}
    for key in _REPORTED_TIMINGS:
        value = timings.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
            out[key] = float(value)
    return out


def score(out: Path, dataset: Path, diagnostics: str = "off") -> tuple[dict, dict]:
    """(scores, diagnostics) from what the sandbox wrote and the hidden labels."""
    try:
        labels = np.load(layout.split_file(dataset, "test", layout.LABELS), allow_pickle=False)
        is_private = np.load(layout.split_file(dataset, "test", layout.IS_PRIVATE), allow_pickle=False)
    except OSError as e:
        raise InfrastructureError(f"the hidden labels of {dataset} cannot be read: {e}") from e
    test_logits = read_logits(out / logits_name("test"), len(labels))
    scores = score_test(test_logits, labels, is_private)
    shift_logits = shift_labels = None
    shift_labels_path = layout.split_file(dataset, "shift", layout.LABELS)
    if shift_labels_path.exists():
        shift_labels = np.load(shift_labels_path, allow_pickle=False)
        shift_logits = read_logits(out / logits_name("shift"), len(shift_labels))
        scores["shift"] = metrics(shift_logits, shift_labels)
    if diagnostics == "off":
        return scores, {}
    groups = read_groups(layout.split_file(dataset, "test", layout.META))
    try:
        found = diagnose(test_logits, labels, is_private, groups, shift_logits, shift_labels)
    except (ValueError, ArithmeticError, FloatingPointError) as e:  # never let diagnostics cost a score
        return scores, {"profile": diagnostics, "error": f"diagnostics could not be computed: {e}"}
    return scores, {"profile": diagnostics, **found}


def _printable(text: str) -> str:
    """Text the sandbox produced, made safe to store: no NULs, no lone surrogates."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def evaluate(submission: Path, dataset: Path, workdir: Path, backend: SandboxBackend,
             limits: SandboxLimits = SandboxLimits(), identity: RunIdentity = RunIdentity(),
             diagnostics: str = "off") -> Evaluation:
    """Evaluate one submission file. A student's failure is a verdict; the grader's raises
    basin_grader.verdicts.InfrastructureError, for the caller to retry."""
    if diagnostics not in DIAGNOSTICS:
        raise ValueError(f"diagnostics must be one of {', '.join(DIAGNOSTICS)}, not {diagnostics!r}")
    result = _evaluate(submission, dataset, workdir, backend, limits, identity, diagnostics)
    result.message, result.log_tail = _printable(result.message), _printable(result.log_tail)
    return result


def _evaluate(submission: Path, dataset: Path, workdir: Path, backend: SandboxBackend,
              limits: SandboxLimits, identity: RunIdentity, diagnostics: str) -> Evaluation:
    try:
        with open(submission, "rb") as f:
            info = inspect_submission(f, submission.name)
    except GradingError as e:
        return Evaluation(e.verdict, e.message, backend=backend.name)
    dirs = prepare(workdir, submission, info.kind, dataset, link=backend.name == "docker")
    run = backend.run(dirs, limits, identity)
    timings = {"sandbox_s": run.seconds}
    result = Evaluation(SCORED, DEFAULT_MESSAGES[SCORED], run.log_tail, timings=timings, backend=backend.name)
    if run.timed_out:
        result.verdict = TIME_LIMIT
        result.message = f"Your model did not finish within {limits.wall_seconds:g} s. Make inference faster or the model smaller."
        return result
    if run.oom_killed:
        result.verdict = MEMORY_LIMIT
        result.message = f"Your model used more than the {limits.memory_mb} MB memory limit. Use a smaller model or batch."
        return result
    try:
        reported = read_result(dirs.out / OUTPUT_RESULT)
    except GradingError:
        reported = {}
    timings.update(_reported_timings(reported))
    if run.exit_code != 0:
        verdict = reported.get("verdict")
        result.verdict = verdict if verdict in STUDENT_VERDICTS else RUNTIME_ERROR
        message = reported.get("message")
        result.message = message[:2000] if isinstance(message, str) and message else DEFAULT_MESSAGES[result.verdict]
        return result
    started = time.perf_counter()
    try:
        result.scores, result.diagnostics = score(dirs.out, dataset, diagnostics)
    except GradingError as e:
        result.verdict, result.message = e.verdict, e.message
    timings["scoring_s"] = time.perf_counter() - started
    return result
