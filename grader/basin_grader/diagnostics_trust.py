"""Whether a diagnostics report agrees with what the worker knows (trusted side, numpy only).

Numbers computed by the submission's own code can never be fully trusted: a model can lie
consistently. What the worker can check, it checks: the device it gave the run, the budget's
counts, the val labels it wrote, and the train/val loss and accuracy against the centre logits it
scores itself; then the landscape's centres against those, and the sharpness against the lines.
A report that fails any check is kept off the leaderboard (basin.grading.diagnostics).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np

from .budgets import DiagnosticsBudget
from .sandbox_diagnostics import CLASSES, SPLITS, max_logits_bytes
from .scoring import read_capped
from .verdicts import GradingError

_EXACT = 1e-6  # the same logits scored twice in float64: only summation order differs
_NEAR = {"fp32": (1e-3, 1e-3, 0.01), "bf16": (0.1, 0.1, 0.05)}  # landscape centres: loss abs, rel; accuracy


@dataclass(frozen=True)
class Known:
    """What the worker knows of a diagnostics run without asking the sandbox."""
    budget: DiagnosticsBudget
    device: str  # "cuda" where the worker gave the run a GPU, "cpu" otherwise
    labels: dict[str, np.ndarray]  # the public subsets' labels, as written to /data

    def count(self, split: str, wanted: int) -> int:
        return min(wanted, len(self.labels[split]))


def read_centre_logits(path, known: Known, split: str) -> tuple[np.ndarray | None, str | None]:
    """The N×10 float logits of the unperturbed model on a subset, or (None, why not)."""
    try:
        raw = read_capped(path, max_logits_bytes(known.budget))
    except GradingError as e:
        return None, e.message
    if not raw:
        return None, f"no {split} centre logits"
    try:
        logits = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None, f"the {split} centre logits are not a .npy array"
    n = len(known.labels[split])
    if logits.shape != (n, CLASSES) or logits.dtype.kind != "f":
        return None, f"the {split} centre logits are {logits.dtype} {logits.shape}, not {n}×{CLASSES} floats"
    return logits.astype(np.float64), None


def scored(logits: np.ndarray, labels: np.ndarray) -> dict:
    """Mean cross-entropy (None where a logit is not finite) and accuracy, as the runtime computes them."""
    finite = bool(np.isfinite(logits).all())
    loss = None
    if finite and len(labels):
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-log_probs[np.arange(len(labels)), labels].mean())
    accuracy = float((logits.argmax(axis=1) == labels).mean()) if finite and len(labels) else None
    return {"loss": loss, "accuracy": accuracy, "n": len(labels)}


def _differs(found: dict, expected: dict, loss_abs: float, loss_rel: float, accuracy_abs: float) -> bool:
    if found.get("n") != expected["n"]:
        return True
    if expected["loss"] is None:
        return found.get("loss") is not None and expected["accuracy"] is not None
    if found.get("loss") is None or abs(found["loss"] - expected["loss"]) > loss_abs + loss_rel * abs(expected["loss"]):
        return True
    return abs(found.get("accuracy", -1) - expected["accuracy"]) > accuracy_abs


class _Checks:
    def __init__(self, report: dict, known: Known, logits: dict[str, np.ndarray | None]):
        self.report, self.known, self.logits = report, known, logits
        self.failed: dict[str, str] = {}
        self.precision = "bf16" if known.device == "cuda" else "fp32"

    def fail(self, name: str, why: str) -> None:
        self.failed.setdefault(name, why)

    def expected(self, split: str, wanted: int) -> dict | None:
        logits = self.logits.get(split)
        if logits is None:
            return None
        n = self.known.count(split, wanted)
        return scored(logits[:n], self.known.labels[split][:n])

    def device(self) -> None:
        if self.report.get("device") != self.known.device:
            self.fail("device", f"the report says it ran on {self.report.get('device')}; the worker gave it "
                                f"{self.known.device}")
        if self.report.get("precision") != self.precision:
            self.fail("precision", f"the report says {self.report.get('precision')}; a {self.known.device} run "
                                   f"uses {self.precision}")

    def centre_metrics(self, where: str, metrics: dict, wanted: int) -> None:
        for split in SPLITS:
            expected = self.expected(split, wanted)
            if expected is None:
                self.fail("centre_logits", f"{where} is reported but the {split} centre logits are missing")
            elif _differs(metrics[split], expected, _EXACT, _EXACT, _EXACT):
                self.fail(f"{where}_{split}", f"the {split} loss, accuracy or count of {where} disagree with "
                                              f"the worker's scoring of the centre logits")

    def features(self, features: dict) -> None:
        n = self.known.count("val", self.known.budget.feature_samples)
        if features["labels"] != [int(v) for v in self.known.labels["val"][:n]]:
            self.fail("feature_labels", f"the feature view's labels are not the {n} val labels the worker wrote")

    def centres(self, where: str, values: dict, centre: dict, complete: bool) -> None:
        """The unperturbed point of a line or the grid must be the landscape's centre."""
        loss_abs, loss_rel, accuracy_abs = _NEAR[self.precision]
        for split in SPLITS:
            loss, accuracy = values[split]
            if loss is None:
                if complete and centre[split]["loss"] is not None:
                    self.fail(f"{where}_centre", f"the {split} {where} has no value at its centre")
                continue
            slack = accuracy_abs + 2 / max(centre[split]["n"], 1)
            if _differs({"loss": loss, "accuracy": accuracy, "n": centre[split]["n"]}, centre[split],
                        loss_abs, loss_rel, slack):
                self.fail(f"{where}_centre", f"the {split} {where}'s centre disagrees with the centre loss")

    def landscape(self, landscape: dict) -> None:
        centre = landscape.get("centre")
        if centre is None:
            return
        self.centre_metrics("landscape_centre", centre, self.known.budget.samples)
        partial = self.report["partial"]
        for line in landscape.get("lines", []):
            middle = len(line["train"]["loss"]) // 2
            self.centres("line", {s: (line[s]["loss"][middle], line[s]["accuracy"][middle]) for s in SPLITS}, centre,
                         "lines" not in partial)
        grid = landscape.get("grid")
        if grid:
            middle = len(grid["alphas"]) // 2
            self.centres("grid", {s: (grid[s]["loss"][middle][middle], grid[s]["accuracy"][middle][middle])
                                  for s in SPLITS}, centre, "grid" not in partial)

    def sharpness(self, sharpness: dict) -> None:
        if sharpness["samples"] != self.known.count("train", self.known.budget.samples):
            self.fail("sharpness_samples", "the sharpness was not measured on the budget's train subset")
        if sharpness["converged"] and sharpness["iterations"] < 2:
            self.fail("sharpness_iterations", "power iteration cannot converge in fewer than two steps")
        if (sharpness["iterations"] and sharpness["top_eigenvalue"] is None) or \
                (sharpness["probes"] and sharpness["trace"] is None):
            self.fail("sharpness_values", "the sharpness reports steps but no value")
        # A line that bends at the centre has curvature there, so the Hessian is not zero and neither
        # is its top eigenvalue; every line rising on both sides means positive curvature along three
        # directions, so the top eigenvalue is positive. (Its size cannot be checked: the directions'
        # norms are the model's word.)
        lines = [line["train"]["loss"] for line in (self.report.get("landscape") or {}).get("lines") or []]
        value = sharpness["top_eigenvalue"]
        if not sharpness["iterations"] or value is None:
            return
        if any(_bend(losses) > 1e-3 * (1 + abs(losses[len(losses) // 2]))
               for losses in lines if _bend(losses) is not None) and abs(value) <= 1e-6:
            self.fail("sharpness_zero", "the landscape lines bend at the centre, yet the top Hessian eigenvalue is "
                                        f"{value:g}")
        if lines and all((_bend(losses) or 0) > 0 and _rises(losses) for losses in lines) and value <= 0:
            self.fail("sharpness_sign", "every landscape line curves up at the centre, yet the top Hessian "
                                        f"eigenvalue is {value:g}")


def _bend(losses: list) -> float | None:
    """The second difference at the centre: L(h) + L(−h) − 2·L(0) ≈ h²·dᵀHd."""
    middle = len(losses) // 2
    centre, left, right = losses[middle], losses[middle - 1], losses[middle + 1]
    return None if None in (centre, left, right) else left + right - 2 * centre


def _rises(losses: list) -> bool:
    middle = len(losses) // 2
    centre, left, right = losses[middle], losses[middle - 1], losses[middle + 1]
    margin = 1e-4 * max(1.0, abs(centre))
    return left > centre + margin and right > centre + margin


def check(report: dict, known: Known, logits: dict[str, np.ndarray | None]) -> dict[str, str]:
    """Every check the report fails, by name, each with a sentence for the course staff."""
    checks = _Checks(report, known, logits)
    if "device" in report:  # a report was read (a run that sent none has nothing to check)
        checks.device()
    if "generalization" in report:
        checks.centre_metrics("generalization", report["generalization"], known.budget.eval_samples)
    if "features" in report:
        checks.features(report["features"])
    if "landscape" in report:
        checks.landscape(report["landscape"])
    if "sharpness" in report:
        checks.sharpness(report["sharpness"])
    if not _all_finite(report):
        checks.fail("finite", "the report holds a number that is not finite")
    return checks.failed


def trusted(report: dict) -> bool:
    """Whether a stored report passed every check. One stored before the checks existed has no
    verdict and is not trusted either."""
    trust = report.get("trust")
    return isinstance(trust, dict) and trust.get("trusted") is True


def storable(value):
    """`value` with every NaN or infinity as None: PostgreSQL's jsonb refuses them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def _all_finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_all_finite(v) for v in value)
    return True
