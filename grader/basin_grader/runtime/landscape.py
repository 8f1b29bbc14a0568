"""Filter-normalized loss landscapes (Li et al. 2018, arXiv 1712.09913), evaluated in batches.

A direction is a random Gaussian tensor per parameter, each output filter (each row of a linear
layer) rescaled to the norm of the matching filter of the weights; 1-D parameters (biases,
BatchNorm's affine) get a zero direction, as in the paper's reference code. Buffers (BatchNorm's
running statistics) are never perturbed, and the model stays in eval mode. The model's own
parameters are never written either: each point is a `functional_call` with perturbed copies.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from ..landscape_summary import DIVERGED

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Subset:
    """Images and labels resident on the device, evaluated `batch_size` at a time."""
    x: torch.Tensor
    y: torch.Tensor
    batch_size: int


def parameters_of(model: torch.nn.Module, memory_format: torch.memory_format = torch.contiguous_format) -> Params:
    """Detached views of the model's parameters; with channels_last, 4-D ones (convolution
    weights) are laid out that way (copies: the model's own tensors are never changed)."""
    return {name: p.detach().contiguous(memory_format=memory_format) if p.dim() == 4 else p.detach()
            for name, p in model.named_parameters()}


@torch.no_grad()
def choose_memory_format(model: torch.nn.Module, probe: torch.Tensor) -> torch.memory_format:
    """channels_last (inputs and convolution weights) where the model runs on it and agrees with
    its usual layout: on a CPU it makes convolutions two to three times as fast (bench/landscape.py).
    A model that refuses it (a .view() of a feature map or of its own weights) or answers
    differently keeps the plain layout."""
    try:
        expected = model(probe).float()
        found = functional_call(model, parameters_of(model, torch.channels_last),
                                (probe.contiguous(memory_format=torch.channels_last),)).float()
    except Exception:
        return torch.contiguous_format
    if found.shape != expected.shape or not torch.allclose(found, expected, rtol=1e-3, atol=1e-4):
        return torch.contiguous_format
    return torch.channels_last


def filter_normalized_direction(params: Params, generator: torch.Generator) -> Params:
    """One random direction, drawn in the order of `params` from `generator`."""
    direction = {}
    for name, w in params.items():
        if w.dim() <= 1:
            direction[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=generator, device=w.device, dtype=w.dtype)
        w_norm = w.flatten(1).norm(dim=1)
        d_norm = d.flatten(1).norm(dim=1)
        scale = w_norm / d_norm.clamp_min(1e-10)
        direction[name] = d * scale.view(-1, *([1] * (w.dim() - 1)))
    return direction


def directions(params: Params, seeds: list[int]) -> list[Params]:
    device = next(iter(params.values())).device
    out = []
    for seed in seeds:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        out.append(filter_normalized_direction(params, generator))
    return out


def _loss_and_correct(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
    logits = logits.float()
    return float(F.cross_entropy(logits, y, reduction="sum")), int((logits.argmax(-1) == y).sum())


def _evaluate(model: torch.nn.Module, params: list[Params], subset: Subset,
              autocast: bool) -> list[tuple[float, float]]:
    """(mean loss, accuracy) on `subset` of each parameter set; several are stacked and evaluated
    together under vmap (pays on a GPU)."""
    totals = [[0.0, 0] for _ in params]
    for b in range(0, len(subset.y), subset.batch_size):
        x, y = subset.x[b:b + subset.batch_size], subset.y[b:b + subset.batch_size]
        with torch.no_grad(), torch.autocast(subset.x.device.type, dtype=torch.bfloat16, enabled=autocast):
            if len(params) == 1:
                logits = [functional_call(model, params[0], (x,))]
            else:
                stacked = {name: torch.stack([p[name] for p in params]) for name in params[0]}
                logits = vmap(lambda p, x=x: functional_call(model, p, (x,)))(stacked)
        for total, out in zip(totals, logits, strict=True):
            loss, correct = _loss_and_correct(out, y)
            total[0] += loss
            total[1] += correct
    return [(loss / len(subset.y), correct / len(subset.y)) for loss, correct in totals]


def _perturbed(base: Params, step: list[tuple[float, Params]]) -> Params:
    out = {}
    for name, w in base.items():
        w = w.clone()
        for coefficient, direction in step:
            if coefficient:
                w.add_(direction[name], alpha=coefficient)
        out[name] = w
    return out


def run_points(model, base: Params, steps: list[list[tuple[float, Params]]], subsets: dict[str, Subset],
               points_per_call: int = 1, autocast: bool = False, deadline: float = math.inf) -> dict[str, list]:
    """Each subset's (mean loss, accuracy) at each point base + Σ coefficient·direction (`steps[i]`
    lists point i's (coefficient, direction) pairs), in order, stopping at the deadline: points not
    reached are None. A point's parameters are built once and serve every subset."""
    found: dict[str, list] = {name: [None] * len(steps) for name in subsets}
    for start in range(0, len(steps), points_per_call):
        if time.monotonic() > deadline:
            break
        params = [_perturbed(base, step) for step in steps[start:start + points_per_call]]
        for name, subset in subsets.items():
            found[name][start:start + len(params)] = _evaluate(model, params, subset, autocast)
    return found


def split(values: list) -> dict[str, list]:
    """[(loss, acc) | None] -> {"loss": [...], "accuracy": [...]}: None for a point never reached,
    "diverged" for a NaN or infinite loss (JSON has neither)."""
    return {"loss": [None if v is None else v[0] if math.isfinite(v[0]) else DIVERGED for v in values],
            "accuracy": [None if v is None else v[1] for v in values]}
