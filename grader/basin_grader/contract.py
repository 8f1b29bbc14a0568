"""What both sides of the sandbox agree on, and nothing else: the file names in /data and /out, the
run modes, the sandbox's user, and the shape of what the runtime writes. The runtime (inside the
sandbox) writes by it, the worker (outside) reads by it. No torch, no numpy: the web, the worker and
the student's toolkit import it freely.

The worker still believes nothing the runtime writes: these types say what a well-behaved runtime
writes, and basin_grader.scoring and basin_grader.sandbox_diagnostics check every field of it.
"""
from __future__ import annotations

from typing import Literal, TypedDict

from .dataset_layout import HIDDEN_SPLITS

# --- modes: one run of the runtime does one of these -------------------------------------------
REHEARSE, SCORE, DIAGNOSE = "rehearse", "score", "diagnose"
MODES = (REHEARSE, SCORE, DIAGNOSE)
Mode = Literal["rehearse", "score", "diagnose"]

SANDBOX_UID = 65534  # nobody: the user every sandboxed run has (Docker's --user, /out's files)

# --- files ----------------------------------------------------------------------------------------
OUTPUT_RESULT = "result.json"  # /out: a RunResult
OUTPUT_DIAGNOSTICS = "diagnostics.json"  # /out of a diagnostics run: a DiagnosticsReport
BUDGET = "budget.json"  # /data of a diagnostics run: basin_grader.budgets.DiagnosticsBudget.to_dict()
REHEARSAL = "rehearsal"  # the name of the public val batch a rehearsal predicts, in /data and /out


def logits_name(split: str) -> str:
    return f"{split}_logits.npy"


def images_name(split: str) -> str:
    return f"{split}_images.npy"


def labels_name(split: str) -> str:  # public splits only: a diagnostics run's subsets
    return f"{split}_labels.npy"


def centre_logits_name(split: str) -> str:  # a diagnostics run's: the unperturbed model on a public subset
    return f"{split}_centre_logits.npy"


def output_files(mode: str = SCORE) -> tuple[str, ...]:
    """Every file the runtime may write to /out. The worker creates them, empty, before the run;
    the sandbox may write into them but create nothing else there (see evaluate.prepare)."""
    if mode == DIAGNOSE:
        return (OUTPUT_RESULT, OUTPUT_DIAGNOSTICS, centre_logits_name("train"), centre_logits_name("val"))
    if mode == REHEARSE:
        return (OUTPUT_RESULT, logits_name(REHEARSAL))
    return (OUTPUT_RESULT, *(logits_name(split) for split in HIDDEN_SPLITS))


# --- what the runtime writes ------------------------------------------------------------------------
class RunResult(TypedDict, total=False):
    """result.json. "ok" runs say on which device and how long they took; "error" runs carry a
    verdict (basin_grader.verdicts) and a message, and for an exception its type and the line of
    the student's model.py it passed through (all a student may read of a hidden pass). A
    diagnostics run's supervisor says how its child (the model's process) ended instead."""
    status: Literal["ok", "error"]
    device: str
    timings: dict[str, float]
    verdict: str
    message: str
    error_type: str
    error_line: int | None
    # a diagnostics run (runtime.supervisor)
    supervised: bool
    child_exit: int | None
    deadline_reached: bool
    child_error: str | None
    protocol_error: str | None


class DiagnosticsReport(TypedDict, total=False):
    """diagnostics.json, rewritten after each part (basin_grader.budgets.PARTS, cheapest first): the
    budget and seeds echoed back, how the model ran, the parts it finished ("lines" and "grid" both
    fill "landscape"), the parts it cut short ("partial"), and what failed and why ("errors")."""
    device: Literal["cpu", "cuda"]
    precision: Literal["fp32", "bf16"]
    memory_format: Literal["channels_last", "plain"]
    budget: dict  # DiagnosticsBudget.to_dict(): must equal what the worker sent
    seeds: dict  # basin_grader.sandbox_diagnostics.seeds_of(budget): likewise
    partial: list[str]
    errors: dict[str, str]
    timings: dict[str, float]  # "<part>_s"
    generalization: dict
    features: dict
    landscape: dict
    sharpness: dict
