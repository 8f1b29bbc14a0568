"""One evaluation, outside Django: check the file, rehearse it in the sandbox on public images,
run it on the hidden images, score against hidden labels; then, separately, the sandbox's
diagnostics run on public-label subsets.

The grading worker and `python -m basin_grader evaluate` both call `evaluate` and `diagnose`.
Two sandbox runs score a submission, because everything a run prints is the model's word:
- the rehearsal sees a small public val batch and nothing hidden: its log, traceback and message
  are the student's, in full (most bugs surface here);
- the hidden pass sees the hidden *images* (the labels are read here, after it has exited): what it
  prints reaches only the course staff (Evaluation.hidden_log); a failure there reaches the student
  as a fixed sentence per verdict, with at most a built-in exception's name and a line of model.py.
The diagnostics sandbox sees the submission and public train/val subsets only.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import dataset_layout as layout
from . import run_claims
from .budgets import DiagnosticsBudget
from .contract import (
    BUDGET,
    DIAGNOSE,
    OUTPUT_DIAGNOSTICS,
    OUTPUT_RESULT,
    REHEARSAL,
    REHEARSE,
    SANDBOX_UID,
    SCORE,
    centre_logits_name,
    images_name,
    labels_name,
    logits_name,
    output_files,
)
from .diagnostics_trust import Known, check, read_centre_logits, storable
from .formats import inspect_submission, submission_filename
from .sandbox import RunIdentity, SandboxBackend, SandboxDirs, SandboxLimits
from .sandbox_diagnostics import read_report, subset_sizes, unread_report
from .scoring import metrics, read_logits, read_result, score_test
from .trusted_diagnostics import diagnose, read_groups
from .verdicts import DEFAULT_MESSAGES, HIDDEN_PASS_MESSAGES, SCORED, GradingError, InfrastructureError, printable

REHEARSAL_IMAGES = 32  # the public val batch every submission is rehearsed on
DIAGNOSTICS = ("off", "cpu", "gpu")  # none; or the budget of the device they run on


@dataclass
class Evaluation:
    verdict: str
    message: str
    log_tail: str = ""  # the rehearsal's: public images only, the student's to read
    hidden_log: str = ""  # the hidden pass's log and own message: the course staff's only
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


def _public_subsets(dataset: Path, budget: DiagnosticsBudget):
    """(split, images, labels) of the fixed train and val subsets of a diagnostics run: the first n
    of a permutation seeded by the budget, so every submission of a homework is measured on the same
    images (images memory-mapped: only the chosen ones are read)."""
    for split, n in subset_sizes(budget).items():
        try:
            images = np.load(layout.split_file(dataset, split, layout.IMAGES), mmap_mode="r", allow_pickle=False)
            labels = np.load(layout.split_file(dataset, split, layout.LABELS), allow_pickle=False)
        except OSError as e:
            raise InfrastructureError(f"the dataset version at {dataset} has no readable {split} split: {e}") from e
        order = np.random.default_rng(budget.seed).permutation(len(labels))[:n]
        yield split, images[order], labels[order]


def public_subset_labels(dataset: Path, budget: DiagnosticsBudget) -> dict[str, np.ndarray]:
    """The labels a diagnostics run's subsets carry, from the dataset (never read back from /data)."""
    return {split: labels for split, _, labels in _public_subsets(dataset, budget)}


def _write_public_subsets(dataset: Path, data: Path, budget: DiagnosticsBudget) -> None:
    for split, images, labels in _public_subsets(dataset, budget):
        for name, array in ((images_name(split), images), (labels_name(split), labels)):
            np.save(data / name, np.ascontiguousarray(array), allow_pickle=False)
            os.chmod(data / name, 0o644)
    (data / BUDGET).write_text(json.dumps(budget.to_dict()))
    os.chmod(data / BUDGET, 0o644)


def _write_rehearsal_batch(dataset: Path, data: Path) -> int:
    """The first REHEARSAL_IMAGES of the public val split (train where a version has no val); how many."""
    for split in ("val", "train"):
        try:
            images = np.load(layout.split_file(dataset, split, layout.IMAGES), mmap_mode="r", allow_pickle=False)
        except OSError:
            continue
        np.save(data / images_name(REHEARSAL), np.ascontiguousarray(images[:REHEARSAL_IMAGES]), allow_pickle=False)
        os.chmod(data / images_name(REHEARSAL), 0o644)
        return min(len(images), REHEARSAL_IMAGES)
    raise InfrastructureError(f"the dataset version at {dataset} has no public images to rehearse on")


def prepare(workdir: Path, submission: Path, kind: str, dataset: Path, link: bool = False, mode: str = SCORE,
            budget: DiagnosticsBudget | None = None) -> SandboxDirs:
    """Fresh /sub, /data and /out for one run under `workdir` (emptied first): the public batch to
    rehearse on (mode rehearse), the hidden images to score (mode score), or the public-label
    subsets and the budget (mode diagnose)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    dirs = SandboxDirs(sub=workdir / "sub", data=workdir / "data", out=workdir / "out", scratch=workdir / "scratch")
    for d in (dirs.sub, dirs.data, dirs.out, dirs.scratch):
        d.mkdir(parents=True)
    os.chmod(workdir, 0o755)
    target = dirs.sub / submission_filename(kind)
    shutil.copyfile(submission, target)
    os.chmod(target, 0o644)
    if mode == DIAGNOSE:
        assert budget is not None, "mode diagnose is prepared with its budget"
        _write_public_subsets(dataset, dirs.data, budget)
    if mode == REHEARSE:
        _write_rehearsal_batch(dataset, dirs.data)
    for split in layout.HIDDEN_SPLITS if mode == SCORE else ():
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
    for name in output_files(mode):
        path = dirs.out / name
        path.touch()
        if os.geteuid() == 0:
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
        else:
            os.chmod(path, 0o666)
    return dirs


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


def evaluate(submission: Path, dataset: Path, workdir: Path, backend: SandboxBackend,
             limits: SandboxLimits = SandboxLimits(), identity: RunIdentity | None = None,
             diagnostics: str = "off") -> Evaluation:
    """Evaluate one submission file. A student's failure is a verdict; the grader's raises
    basin_grader.verdicts.InfrastructureError, for the caller to retry."""
    if diagnostics not in DIAGNOSTICS:
        raise ValueError(f"diagnostics must be one of {', '.join(DIAGNOSTICS)}, not {diagnostics!r}")
    identity = RunIdentity() if identity is None else identity  # a unique name per call, not one per process
    result = _evaluate(submission, dataset, workdir, backend, limits, identity, diagnostics)
    result.message, result.log_tail = printable(result.message), printable(result.log_tail)
    result.hidden_log = printable(result.hidden_log)
    return result


def _evaluate(submission: Path, dataset: Path, workdir: Path, backend: SandboxBackend,
              limits: SandboxLimits, identity: RunIdentity, diagnostics: str) -> Evaluation:
    try:
        with open(submission, "rb") as f:
            info = inspect_submission(f, submission.name)
    except GradingError as e:
        return Evaluation(e.verdict, e.message, backend=backend.name)
    link = backend.name == "docker"
    if not layout.split_file(dataset, "test", layout.IMAGES).exists():  # before a rehearsal it would waste
        raise InfrastructureError(f"the dataset version at {dataset} has no test images")

    # The rehearsal: public images only, so all it says is the student's.
    dirs = prepare(workdir / REHEARSE, submission, info.kind, dataset, link=link, mode=REHEARSE)
    run = backend.run(dirs, limits, _named(identity, REHEARSE), mode=REHEARSE)
    result = Evaluation(SCORED, DEFAULT_MESSAGES[SCORED], run.log_tail, timings={"rehearsal_s": run.seconds},
                        backend=backend.name)
    failure = run_claims.observed_failure(run, limits, "on the public rehearsal batch")
    if failure is None and run.exit_code != 0:
        failure = run_claims.claimed_failure(read_result(dirs.out / OUTPUT_RESULT))
    if failure is None:
        try:
            read_logits(dirs.out / logits_name(REHEARSAL), _rehearsal_size(dataset))
        except GradingError as e:
            failure = (e.verdict, e.message)
    if failure is not None:
        result.verdict, result.message = failure
        return result

    # The hidden pass: nothing it says reaches the student (see the module's docstring).
    dirs = prepare(workdir / SCORE, submission, info.kind, dataset, link=link, mode=SCORE)
    # One time limit for both passes: a lease sized for a homework's limit holds the whole attempt.
    left = SandboxLimits(**{**asdict(limits), "wall_seconds": max(1.0, limits.wall_seconds - run.seconds)})
    run = backend.run(dirs, left, identity, mode=SCORE)
    result.timings["sandbox_s"] = run.seconds
    reported = read_result(dirs.out / OUTPUT_RESULT)
    result.timings.update(run_claims.reported_timings(reported, run.seconds))
    result.hidden_log = run.log_tail
    failure = run_claims.observed_failure(run, limits, "for the rehearsal and the hidden test images together")
    if failure is None and run.exit_code != 0:
        verdict, own_message = run_claims.claimed_failure(reported)
        failure = (verdict, run_claims.hidden_pass_message(verdict, reported,
                                                            run_claims.source_lines(submission, info.kind)))
        result.hidden_log = f"{own_message}\n{run.log_tail}"
    if failure is None:
        started = time.perf_counter()
        try:
            result.scores, result.diagnostics = score(dirs.out, dataset, diagnostics)
        except GradingError as e:  # the worker's words, but about output the model chose: a count, a shape
            failure = (e.verdict, HIDDEN_PASS_MESSAGES.get(e.verdict, DEFAULT_MESSAGES[e.verdict]))
            result.hidden_log = f"{e.message}\n{run.log_tail}"
        result.timings["scoring_s"] = time.perf_counter() - started
    if failure is not None:
        result.verdict, result.message = failure
    return result


def _named(identity: RunIdentity, part: str) -> RunIdentity:
    return RunIdentity(name=f"{identity.name}-{part}", labels=identity.labels)


def _rehearsal_size(dataset: Path) -> int:
    """How many images a rehearsal predicts, from the dataset: never read back from the run's /data,
    which the process backend's run can replace (a FIFO there would hang the worker)."""
    for split in ("val", "train"):
        try:
            return min(len(np.load(layout.split_file(dataset, split, layout.IMAGES), mmap_mode="r",
                                   allow_pickle=False)), REHEARSAL_IMAGES)
        except OSError:
            continue
    raise InfrastructureError(f"the dataset version at {dataset} has no public images to rehearse on")


def diagnose_in_sandbox(submission: Path, dataset: Path, workdir: Path, backend: SandboxBackend,
                        budget: DiagnosticsBudget, limits: SandboxLimits = SandboxLimits(),
                        identity: RunIdentity | None = None) -> dict:
    """The sandbox's diagnostics of an already scored submission, checked (basin_grader.sandbox_diagnostics)
    and cross-checked against what the worker knows (basin_grader.diagnostics_trust): report["trust"].
    Its own wall clock is the budget's; running out of it makes the report partial, never a failure.
    The grader's own failures raise InfrastructureError, for the caller to retry."""
    with open(submission, "rb") as f:
        info = inspect_submission(f, submission.name)
    dirs = prepare(workdir, submission, info.kind, dataset, link=backend.name == "docker", mode=DIAGNOSE, budget=budget)
    known = Known(budget, _device_given(backend), public_subset_labels(dataset, budget))
    limits = SandboxLimits(**{**asdict(limits), "wall_seconds": float(budget.time_limit_s)})
    identity = RunIdentity() if identity is None else identity  # a unique name per call, not one per process
    run = backend.run(dirs, limits, identity, mode=DIAGNOSE)
    # Only a supervisor that finished wrote the report after ending every process of the run; a run
    # it did not finish (stopped, killed, out of time) leaves files the model may have written.
    try:
        result = read_result(dirs.out / OUTPUT_RESULT) if run.exit_code == 0 and not run.timed_out else {}
    except GradingError:  # not a regular file
        result = {}
    if result.get("supervised") is True:
        report = read_report(dirs.out / OUTPUT_DIAGNOSTICS, budget)
        logits = {}
        for split in known.labels:
            logits[split], _ = read_centre_logits(dirs.out / centre_logits_name(split), known, split)
        report["trust"]["failed"].update(check(report, known, logits))
        if isinstance(result.get("protocol_error"), str):
            report["trust"]["failed"]["protocol"] = printable(result["protocol_error"][:300])
    else:
        report = unread_report(budget, "the diagnostics run did not finish")
        report["trust"]["failed"]["run"] = "the diagnostics run's supervisor did not finish; its files were not read"
    report["trust"]["trusted"] = not report["trust"]["failed"]
    if run.timed_out or result.get("deadline_reached") is True:
        report["errors"]["time"] = f"the diagnostics reached their {budget.time_limit_s} s limit"
    elif run.oom_killed:
        report["errors"]["memory"] = f"the diagnostics ran out of the {limits.memory_mb} MB memory limit"
    elif isinstance(result.get("child_error"), str):
        report["errors"]["run"] = printable(result["child_error"][:500])
    elif run.exit_code != 0 or result.get("child_exit") not in (0, None):
        report["errors"]["run"] = "the diagnostics run failed"
    complete = not report["partial"] and not report["errors"]
    report["status"] = "untrusted" if not report["trust"]["trusted"] else "complete" if complete else "partial"
    report["sandbox_s"] = run.seconds
    return storable(report)


def _device_given(backend: SandboxBackend) -> str:
    """The device a diagnostics run gets: the worker's GPU in Docker; on the process backend, the
    host's (where there is an NVIDIA driver, torch in the subprocess finds it)."""
    if backend.name == "docker":
        return "cuda" if getattr(backend, "gpu", None) else "cpu"
    return "cuda" if Path("/dev/nvidiactl").exists() else "cpu"
