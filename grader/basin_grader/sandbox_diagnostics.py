"""The diagnostics a sandbox reported, read as untrusted input.

The numbers in diagnostics.json were computed by the student's code (the runtime's supervisor
wrote them, but its child process, where the model ran, sent them), so the file may hold anything.
It is read like every sandbox output (basin_grader.scoring.read_capped: no links, no FIFOs, regular
files only), refused before parsing when it is larger than the budget can produce, and parsed with
no NaN or infinity. Every number is re-read against the budget the worker sent (shapes, types,
ranges); a part written in a shape no honest run writes is dropped and noted as a failed check
(basin_grader.diagnostics_trust has the rest), coordinates and seeds are the worker's own, and
every summary (flat radius, basin area, gaps) is recomputed here from the checked numbers.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .budgets import LINES, PARTS, DiagnosticsBudget, seeds_of
from .landscape_summary import DIVERGED, RISE, axis, basin_area, flat_radius
from .scoring import read_capped
from .verdicts import GradingError, printable

SPLITS = ("train", "val")
CLASSES = 10
_NUMBER_BYTES = 26  # the longest JSON float, '-1.2345678901234567e-308', and its ', '
_ERROR_BYTES = 500 * 12  # an error line of 500 characters, each at worst an escaped surrogate pair
_FIXED_BYTES = 16 << 10  # keys, seeds, budget, timings, flags


def max_report_bytes(budget: DiagnosticsBudget) -> int:
    """The largest report an honest run writes under `budget`: every number at its longest."""
    numbers = (3 * budget.feature_samples + 2  # feature points (x, y), labels, explained variance
               + (4 * LINES + 1) * budget.line_points  # loss and accuracy per line and split, the alphas
               + 4 * budget.grid ** 2 + 2 * budget.grid  # loss and accuracy per grid point and split, the axes
               + 64)  # generalization, centre, sharpness, budget, seeds, timings
    return _NUMBER_BYTES * numbers + len(PARTS) * _ERROR_BYTES + _FIXED_BYTES


def subset_sizes(budget: DiagnosticsBudget) -> dict[str, int]:
    """Images of each public subset a diagnostics run gets (fewer where the split is smaller)."""
    return {"train": max(budget.samples, budget.eval_samples),
            "val": max(budget.samples, budget.eval_samples, budget.feature_samples)}


def max_logits_bytes(budget: DiagnosticsBudget) -> int:
    """A subset's centre logits: float32 N×10 in a .npy file (its header is at most 128 bytes)."""
    return 128 + 4 * CLASSES * max(subset_sizes(budget).values())


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


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
    found = _dict(_dict(raw["landscape"])["grid"])  # no grid yet: KeyError, never reached
    coefficients = axis(budget.grid)
    side = len(coefficients)
    grid: dict = {"alphas": coefficients, "betas": coefficients}
    for split in SPLITS:
        values = _dict(found.get(split))
        tables: dict[str, Any] = {key: values.get(key) for key in ("loss", "accuracy")}
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


def _parse(path: Path, budget: DiagnosticsBudget) -> tuple[dict | None, str | None]:
    """(the report as parsed, None) or (None, why not). Within max_report_bytes: nothing larger is
    read, let alone parsed; nesting deeper than the interpreter allows is refused (RecursionError)."""
    try:
        data = read_capped(path, max_report_bytes(budget))
    except GradingError as e:
        return None, e.message
    if not data:
        return None, None
    try:
        raw = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None, "diagnostics.json is not JSON"
    return (raw, None) if isinstance(raw, dict) else (None, "diagnostics.json is not a JSON object")


def _empty(budget: DiagnosticsBudget) -> dict:
    return {"budget": budget.to_dict(), "seeds": seeds_of(budget), "partial": [], "errors": {},
            "trust": {"trusted": True, "failed": {}}}


def unread_report(budget: DiagnosticsBudget, why: str) -> dict:
    """The report of a run whose files were not read: every part partial."""
    report = _empty(budget)
    report["partial"] = list(PARTS)
    report["errors"]["report"] = why
    return report


def read_report(path: Path, budget: DiagnosticsBudget) -> dict:
    """The checked report. Parts missing or cut short are listed in "partial"; a part that fails
    its checks is dropped and listed in report["trust"]["failed"] (the model's own failures come
    through in "errors")."""
    report = _empty(budget)
    raw, problem = _parse(path, budget)
    if raw is None:
        report = unread_report(budget, "the diagnostics run wrote no readable report")
        if problem:
            report["trust"] = {"trusted": False, "failed": {"report": printable(problem)}}
        return report
    if raw.get("budget") != budget.to_dict() or raw.get("seeds") != seeds_of(budget):
        report["trust"]["failed"]["budget"] = "the report does not echo the budget and seeds the worker sent"
    report["device"] = raw.get("device") if raw.get("device") in ("cpu", "cuda") else "unknown"
    report["precision"] = raw.get("precision") if raw.get("precision") in ("fp32", "bf16") else "unknown"
    report["memory_format"] = (raw.get("memory_format") if raw.get("memory_format") in ("channels_last", "plain")
                               else "unknown")
    claimed_partial = partial if isinstance(partial := raw.get("partial"), list) else []
    errors = errors_given if isinstance(errors_given := raw.get("errors"), dict) else {}
    timings = timings_given if isinstance(timings_given := raw.get("timings"), dict) else {}
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
        except KeyError:  # never reached
            report["partial"].append(part)
            continue
        except (Invalid, TypeError, AttributeError, IndexError) as e:  # a shape no honest run writes
            report["partial"].append(part)
            report["trust"]["failed"][f"{part}_shape"] = printable(f"{part}: {e}"[:300])
            continue
        if part in ("lines", "grid"):
            landscape.update(value if part == "lines" else {"grid": value})
        else:
            report[part] = value
        if part in claimed_partial:
            report["partial"].append(part)
    if landscape:
        report["landscape"] = landscape
    report["trust"]["trusted"] = not report["trust"]["failed"]
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
