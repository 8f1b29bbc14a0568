"""The diagnostics a sandbox reported, read as untrusted input.

The student's code ran in the same process that wrote diagnostics.json, so the file may hold
anything. Every number is re-read against the budget the worker sent (shapes, types, ranges),
anything else is dropped, coordinates and seeds are the worker's own, and every summary (flat
radius, basin area, gaps) is recomputed here from the checked numbers.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .budgets import LINES, PARTS, DiagnosticsBudget, seeds_of
from .landscape_summary import DIVERGED, RISE, axis, basin_area, flat_radius
from .verdicts import printable

SPLITS = ("train", "val")
MAX_REPORT_BYTES = 64 << 20


class Invalid(ValueError):
    pass


def _number(value, low: float = -math.inf, high: float = math.inf) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{value!r} is not a number")
    try:
        number = float(value)  # an int too large for a float raises OverflowError
    except OverflowError:
        raise Invalid("a number out of range") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise Invalid(f"{value!r} is not a number in [{low}, {high}]")
    return number


def _loss(value) -> float | None:
    """A landscape point's loss: a number, None (never reached), or "diverged" (NaN or infinite),
    which the summaries count as a rise past any threshold."""
    return math.inf if value == DIVERGED else _number(value, 0)


def _count(value, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise Invalid(f"{value!r} is not a count up to {high}")
    return value


def _numbers(values, length: int, low: float = -math.inf, high: float = math.inf) -> list[float | None]:
    if not isinstance(values, list) or len(values) != length:
        raise Invalid(f"expected a list of {length} numbers")
    return [_number(v, low, high) for v in values]


def _dict(value) -> dict:
    if not isinstance(value, dict):
        raise Invalid("expected an object")
    return value


def _metrics(value, n_max: int) -> dict:
    value = _dict(value)
    return {"loss": _number(value.get("loss"), 0), "accuracy": _number(value.get("accuracy"), 0, 1),
            "n": _count(value.get("n"), n_max)}


def _losses(values, length: int) -> list[float | None]:
    if not isinstance(values, list) or len(values) != length:
        raise Invalid(f"expected a list of {length} losses")
    return [_loss(v) for v in values]


def _curve(value, length: int) -> dict:
    value = _dict(value)
    return {"loss": _losses(value.get("loss"), length), "accuracy": _numbers(value.get("accuracy"), length, 0, 1)}


def _stored(curve: dict) -> dict:
    """A curve as stored (JSON has no infinity): diverged points as None, counted beside."""
    return {"loss": [None if v == math.inf else v for v in curve["loss"]], "accuracy": curve["accuracy"],
            "diverged": sum(v == math.inf for v in curve["loss"])}


def _generalization(raw: dict, budget: DiagnosticsBudget) -> dict:
    found = _dict(raw["generalization"])
    out = {split: _metrics(found.get(split), budget.eval_samples) for split in SPLITS}
    out["gap"] = _gap(out["train"], out["val"])
    return out


def _gap(a: dict, b: dict) -> dict:
    """a − b for accuracy and loss, None where either is missing."""
    return {key: None if a.get(key) is None or b.get(key) is None else a[key] - b[key] for key in ("accuracy", "loss")}


def _features(raw: dict, budget: DiagnosticsBudget) -> dict:
    found = _dict(raw["features"])
    points, labels = found.get("points"), found.get("labels")
    if not isinstance(points, list) or not isinstance(labels, list) or len(points) != len(labels) \
            or len(points) > budget.feature_samples:
        raise Invalid("points and labels must be lists of the same length, within the budget")
    return {"points": [_numbers(p, 2) for p in points], "labels": [_count(v, 9) for v in labels],
            "explained_variance": _numbers(found.get("explained_variance"), 2, 0, 1), "split": "val"}


def _lines(raw: dict, budget: DiagnosticsBudget) -> dict:
    found = _dict(raw["landscape"])
    alphas = axis(budget.line_points)
    lines = found.get("lines")
    if not isinstance(lines, list) or len(lines) != LINES:
        raise Invalid(f"expected {LINES} 1D curves")
    checked = [{split: _curve(_dict(line).get(split), len(alphas)) for split in SPLITS} for line in lines]
    centre = _dict(found.get("centre"))
    return {"alphas": alphas, "samples": budget.samples, "rise": RISE,
            "centre": {split: _metrics(centre.get(split), budget.samples) for split in SPLITS},
            "flat_radius": [{split: flat_radius(alphas, line[split]["loss"]) for split in SPLITS} for line in checked],
            "lines": [{split: _stored(line[split]) for split in SPLITS} for line in checked]}


def _grid(raw: dict, budget: DiagnosticsBudget) -> dict:
    found = _dict(_dict(raw["landscape"]).get("grid"))
    coefficients = axis(budget.grid)
    side = len(coefficients)
    grid: dict = {"alphas": coefficients, "betas": coefficients}
    for split in SPLITS:
        values = _dict(found.get(split))
        tables = {key: values.get(key) for key in ("loss", "accuracy")}
        if not all(isinstance(t, list) and len(t) == side for t in tables.values()):
            raise Invalid(f"expected a {side}×{side} grid")
        losses = [_losses(row, side) for row in tables["loss"]]
        centre = losses[side // 2][side // 2]
        complete = all(v is not None for row in losses for v in row)
        # Over the whole grid only: a grid cut short holds its lower rows, not a fair sample of the plane.
        area = basin_area(losses, centre) if complete and centre not in (None, math.inf) else None
        grid[split] = {"loss": [[None if v == math.inf else v for v in row] for row in losses],
                       "accuracy": [_numbers(row, side, 0, 1) for row in tables["accuracy"]],
                       "diverged": sum(v == math.inf for row in losses for v in row)}
        grid.setdefault("basin_area", {})[split] = area
    return grid


def _sharpness(raw: dict, budget: DiagnosticsBudget) -> dict:
    found = _dict(raw["sharpness"])
    converged = found.get("converged")
    if not isinstance(converged, bool):
        raise Invalid("converged must be true or false")
    return {"top_eigenvalue": _number(found.get("top_eigenvalue")),
            "iterations": _count(found.get("iterations"), budget.power_iterations), "converged": converged,
            "trace": _number(found.get("trace")), "trace_standard_error": _number(found.get("trace_standard_error"), 0),
            "probes": _count(found.get("probes"), budget.hutchinson_probes),
            "samples": _count(found.get("samples"), budget.samples), "split": "train"}


_READERS = {"generalization": _generalization, "features": _features, "lines": _lines, "sharpness": _sharpness,
            "grid": _grid}


def read_report(path: Path, budget: DiagnosticsBudget) -> dict:
    """The checked report. Parts missing or cut short are listed in "partial"; a part that fails
    its checks is dropped with a line in "errors" (the model's own failures come through too)."""
    report: dict = {"budget": budget.to_dict(), "seeds": seeds_of(budget), "partial": [], "errors": {}}
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_REPORT_BYTES + 1)
        raw = json.loads(data) if 0 < len(data) <= MAX_REPORT_BYTES else None
    except (OSError, ValueError, RecursionError):
        raw = None
    if not isinstance(raw, dict):
        report["partial"] = list(PARTS)
        report["errors"]["report"] = "the diagnostics run wrote no readable report"
        return report
    report["device"] = raw.get("device") if raw.get("device") in ("cpu", "cuda") else "unknown"
    report["precision"] = raw.get("precision") if raw.get("precision") in ("fp32", "bf16") else "unknown"
    report["memory_format"] = raw.get("memory_format") if raw.get("memory_format") in ("channels_last", "plain") else "unknown"
    claimed_partial = raw.get("partial") if isinstance(raw.get("partial"), list) else []
    errors = raw.get("errors") if isinstance(raw.get("errors"), dict) else {}
    timings = raw.get("timings") if isinstance(raw.get("timings"), dict) else {}
    report["timings"] = {f"{part}_s": t for part in PARTS
                         if isinstance(t := timings.get(f"{part}_s"), (int, float)) and not isinstance(t, bool)
                         and math.isfinite(t) and t >= 0}
    landscape: dict = {}
    for part in PARTS:
        if isinstance(errors.get(part), str):
            report["errors"][part] = printable(errors[part][:500])
            continue
        try:
            value = _READERS[part](raw, budget)
        except (Invalid, KeyError, TypeError, AttributeError, IndexError):
            report["partial"].append(part)  # never reached, or written in a shape no honest run writes
            continue
        if part in ("lines", "grid"):
            landscape.update(value if part == "lines" else {"grid": value})
        else:
            report[part] = value
        if part in claimed_partial:
            report["partial"].append(part)
    if landscape:
        report["landscape"] = landscape
    return report


def add_test_gaps(report: dict, scores: dict) -> dict:
    """The gap from val to the public part of the test split, from the trusted scores (the private
    part's gap is derived by the page after the reveal, from the private scores)."""
    val = report.get("generalization", {}).get("val")
    public = scores.get("public") or {}
    if val:
        report["generalization"]["val_minus_public_test"] = _gap(
            val, {"accuracy": public.get("accuracy"), "loss": public.get("nll")})
    return report
