"""The diagnostics run inside the sandbox: landscape, sharpness, train/val loss and accuracy, and
the feature view, on public-label subsets only (the hidden labels never come here).

Parts run cheapest-first and the report is sent to the supervisor after each, so a run cut short
by its time limit (or killed) still leaves every finished part; the worker marks the rest partial.
The logits of the unperturbed model on each subset are sent too: the train/val loss and accuracy
and the landscape's centre are computed from them, and the worker scores them itself with the
labels it holds (basin_grader.diagnostics_trust).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..budgets import PARTS, DiagnosticsBudget, seeds_of
from ..contract import images_name, labels_name
from ..convention import to_model_input
from ..landscape_summary import axis
from . import landscape as ls
from .features import pca_2d, penultimate_features
from .sharpness import HessianVectorProduct, hutchinson_trace, top_eigenvalue


def _subset(images: np.ndarray, labels: np.ndarray, n: int, device: str, batch_size: int,
            memory_format: torch.memory_format) -> ls.Subset:
    x = torch.from_numpy(to_model_input(images[:n])).to(device).contiguous(memory_format=memory_format)
    return ls.Subset(x, torch.from_numpy(labels[:n].astype(np.int64)).to(device), batch_size)


@torch.no_grad()
def plain_loss(model: torch.nn.Module, subset: ls.Subset) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of the unperturbed model: the reference every centre must equal."""
    loss = correct = 0.0
    for b in range(0, len(subset.y), subset.batch_size):
        logits = model(subset.x[b:b + subset.batch_size]).float()
        y = subset.y[b:b + subset.batch_size]
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
    return loss / len(subset.y), correct / len(subset.y)


def _metrics(loss: float, accuracy: float, n: int) -> dict:
    return {"loss": loss if math.isfinite(loss) else None, "accuracy": accuracy, "n": n}


@torch.no_grad()
def logits_of(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model(x[b:b + batch_size]).float().cpu() for b in range(0, len(x), batch_size)])


def metrics_of(logits: torch.Tensor, labels: np.ndarray) -> dict:
    """Mean cross-entropy (float64) and accuracy: the worker computes the same from the same logits."""
    y = torch.from_numpy(labels.astype(np.int64))
    loss = float(F.cross_entropy(logits.double(), y)) if len(y) else math.nan
    return _metrics(loss, float((logits.argmax(1) == y).double().mean()) if len(y) else 0.0, len(y))


class Diagnostics:
    """One run: `run()` fills `report` part by part, calling `flush` after each."""

    def __init__(self, model: torch.nn.Module, data: dict[str, tuple[np.ndarray, np.ndarray]],
                 budget: DiagnosticsBudget, device: str, deadline: float, flush: Callable[[dict], None],
                 send_logits: Callable[[str, np.ndarray], None] = lambda split, logits: None):
        self.model, self.budget, self.device, self.deadline, self.flush = model, budget, device, deadline, flush
        self.send_logits = send_logits
        self._logits: dict[str, torch.Tensor] = {}
        self.autocast = device == "cuda"  # bf16 on the GPU for the landscape; fp32 everywhere else
        self.data = data
        self.seeds = seeds_of(budget)
        probe = torch.from_numpy(to_model_input(data["val"][0][:2])).to(device)
        self.memory_format = ls.choose_memory_format(model, probe)
        self.base = ls.parameters_of(model, self.memory_format)
        self.report: dict = {"device": device, "precision": "bf16" if self.autocast else "fp32",
                             "memory_format": "channels_last" if self.memory_format == torch.channels_last else "plain",
                             "budget": budget.to_dict(), "seeds": self.seeds, "partial": [], "errors": {},
                             "timings": {}}
        self._directions = None
        self._subsets: dict[str, ls.Subset] = {}

    def subset(self, split: str, n: int) -> ls.Subset:
        key = f"{split}:{n}"
        if key not in self._subsets:
            images, labels = self.data[split]
            self._subsets[key] = _subset(images, labels, n, self.device, self.budget.batch_size, self.memory_format)
        return self._subsets[key]

    def centre_metrics(self, split: str, n: int) -> dict:
        """Loss and accuracy of the unperturbed model on the first n images of `split`, from the
        logits of the whole subset (computed once, and sent for the worker to score)."""
        if split not in self._logits:
            images, labels = self.data[split]
            x = torch.from_numpy(to_model_input(images)).to(self.device).contiguous(memory_format=self.memory_format)
            self._logits[split] = logits_of(self.model, x, self.budget.batch_size)
            self.send_logits(split, self._logits[split].numpy())
        return metrics_of(self._logits[split][:n], self.data[split][1][:n])

    def landscape_subsets(self) -> dict[str, ls.Subset]:
        return {split: self.subset(split, self.budget.samples) for split in ("train", "val")}

    def directions(self):
        if self._directions is None:
            self._directions = ls.directions(self.base, self.seeds["directions"])
        return self._directions

    def run(self) -> dict:
        for part in PARTS:
            if time.monotonic() > self.deadline:
                self.report["partial"].append(part)
                continue
            started = time.monotonic()
            try:
                complete = getattr(self, f"_{part}")()
            except Exception as e:  # a model that cannot be differentiated or vmapped loses that part only
                self.report["errors"][part] = f"{type(e).__name__}: {e}"[:500]
                complete = True
            if not complete:
                self.report["partial"].append(part)
            self.report["timings"][f"{part}_s"] = round(time.monotonic() - started, 3)
            self.flush(self.report)
        self.flush(self.report)  # once more: parts skipped for time are listed too
        return self.report

    def _generalization(self) -> bool:
        self.report["generalization"] = {split: self.centre_metrics(split, self.budget.eval_samples)
                                         for split in ("train", "val")}
        return True

    def _features(self) -> bool:
        images, labels = self.data["val"]
        n = min(self.budget.feature_samples, len(labels))
        x = torch.from_numpy(to_model_input(images[:n])).to(self.device).contiguous(memory_format=self.memory_format)
        coords, explained = pca_2d(penultimate_features(self.model, x, self.budget.batch_size))
        self.report["features"] = {"points": [[round(float(a), 5), round(float(b), 5)] for a, b in coords.tolist()],
                                   "labels": [int(v) for v in labels[:n]], "explained_variance": explained,
                                   "split": "val"}
        return True

    def _lines(self) -> bool:
        alphas = axis(self.budget.line_points)
        subsets = self.landscape_subsets()
        centre = {split: self.centre_metrics(split, self.budget.samples) for split in subsets}
        lines, complete = [], True
        for direction in self.directions():
            steps = [[(a, direction)] for a in alphas]
            found = ls.run_points(self.model, self.base, steps, subsets, self._points_per_call(), self.autocast,
                                  self.deadline)
            complete = complete and all(v is not None for values in found.values() for v in values)
            lines.append({split: ls.split(values) for split, values in found.items()})
        self.report["landscape"] = {"alphas": alphas, "samples": self.budget.samples, "centre": centre,
                                    "lines": lines}
        return complete

    def _sharpness(self) -> bool:
        subset = self.subset("train", self.budget.samples)
        names = list(self.base)

        def loss_of(params: list[torch.Tensor]) -> torch.Tensor:
            total: torch.Tensor | float = 0.0
            named = dict(zip(names, params, strict=True))
            for b in range(0, len(subset.y), subset.batch_size):
                logits = functional_call(self.model, named, (subset.x[b:b + subset.batch_size],))
                total = total + F.cross_entropy(logits.float(), subset.y[b:b + subset.batch_size], reduction="sum")
            return cast(torch.Tensor, total / len(subset.y))  # the subset is never empty: a Tensor

        hvp = HessianVectorProduct(loss_of, list(self.base.values()))
        eigen = top_eigenvalue(hvp, self.budget.power_iterations, self.seeds["power_iteration"], deadline=self.deadline)
        trace = hutchinson_trace(hvp, self.budget.hutchinson_probes, self.seeds["hutchinson"], deadline=self.deadline)
        self.report["sharpness"] = {"top_eigenvalue": eigen.value, "iterations": eigen.iterations,
                                    "converged": eigen.converged, "trace": trace.value,
                                    "trace_standard_error": trace.standard_error, "probes": trace.probes,
                                    "samples": len(subset.y), "split": "train"}
        return trace.probes == self.budget.hutchinson_probes and (eigen.converged
                                                                   or eigen.iterations == self.budget.power_iterations)

    def _grid(self) -> bool:
        coefficients = axis(self.budget.grid)
        d1, d2 = self.directions()[:2]
        steps = [[(a, d1), (b, d2)] for b in coefficients for a in coefficients]  # row-major: rows are β, columns α
        subsets = self.landscape_subsets()
        found = ls.run_points(self.model, self.base, steps, subsets, self._points_per_call(), self.autocast,
                              self.deadline)
        side = len(coefficients)
        grid: dict[str, Any] = {"alphas": coefficients, "betas": coefficients}
        for split, values in found.items():
            flat = ls.split(values)
            grid[split] = {key: [flat[key][r * side:(r + 1) * side] for r in range(side)] for key in flat}
        self.report.setdefault("landscape", {})["grid"] = grid
        return all(v is not None for values in found.values() for v in values)

    def _points_per_call(self) -> int:
        return self.budget.points_per_call if self.device == "cuda" else 1


def run_diagnostics(model: torch.nn.Module, data_dir: Path, budget: DiagnosticsBudget, device: str, deadline: float,
                    flush: Callable[[dict], None], send_logits: Callable[[str, np.ndarray], None]) -> dict:
    def split(name: str) -> tuple[np.ndarray, np.ndarray]:
        return (np.load(data_dir / images_name(name), allow_pickle=False),
                np.load(data_dir / labels_name(name), allow_pickle=False))

    return Diagnostics(model, {"train": split("train"), "val": split("val")}, budget, device, deadline,
                       lambda report: flush(_finite(report)), send_logits).run()


def _finite(value):
    """The report with every NaN or infinity as null (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
