"""Sharpness of the minimum: the Hessian's top eigenvalue (power iteration) and its trace
(Hutchinson's estimator with Rademacher probes), both from Hessian-vector products.

Everything takes a loss as a function of a list of parameter tensors, so the same code serves a
student's model (cross-entropy on a fixed train subset, eval mode) and the exact quadratics the
tests check it against.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch

LossOfParams = Callable[[list[torch.Tensor]], torch.Tensor]


class HessianVectorProduct:
    """v ↦ Hv at fixed parameters. The gradient's graph is built once and reused by every product."""

    def __init__(self, loss_of: LossOfParams, params: list[torch.Tensor]):
        self.params = [p.detach().clone().requires_grad_(True) for p in params]
        loss = loss_of(self.params)
        self.grads = torch.autograd.grad(loss, self.params, create_graph=True)

    def __call__(self, vector: list[torch.Tensor]) -> list[torch.Tensor]:
        # a Tensor: there is at least one parameter, so sum's start value 0 is never returned alone
        dot = cast(torch.Tensor, sum((g * v).sum() for g, v in zip(self.grads, vector, strict=True)))
        hv = torch.autograd.grad(dot, self.params, retain_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if h is None else h.detach() for h, p in zip(hv, self.params, strict=True)]


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return float(sum((x.double() * y.double()).sum() for x, y in zip(a, b, strict=True)))


def _normalized(v: list[torch.Tensor]) -> list[torch.Tensor]:
    norm = math.sqrt(_dot(v, v))
    return [x / norm for x in v] if norm > 0 else v


@dataclass
class Eigen:
    value: float | None
    iterations: int
    converged: bool


def top_eigenvalue(hvp: HessianVectorProduct, iterations: int, seed: int, tol: float = 1e-3,
                   deadline: float = math.inf) -> Eigen:
    """The eigenvalue of largest magnitude, by power iteration from a seeded random start."""
    generator = torch.Generator(device=hvp.params[0].device)
    generator.manual_seed(seed)
    v = _normalized([torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype) for p in hvp.params])
    value = None
    for i in range(1, iterations + 1):
        if time.monotonic() > deadline:
            return Eigen(value, i - 1, False)
        hv = hvp(v)
        new = _dot(v, hv)  # Rayleigh quotient of the unit vector v
        v = _normalized(hv)
        if value is not None and abs(new - value) <= tol * max(abs(new), 1e-12):
            return Eigen(new, i, True)
        value = new
    return Eigen(value, iterations, False)


@dataclass
class Trace:
    value: float | None
    standard_error: float | None
    probes: int


def hutchinson_trace(hvp: HessianVectorProduct, probes: int, seed: int, deadline: float = math.inf) -> Trace:
    """tr(H) ≈ mean of zᵀHz over Rademacher vectors z, with the standard error of that mean."""
    generator = torch.Generator(device=hvp.params[0].device)
    generator.manual_seed(seed)
    samples = []
    for _ in range(probes):
        if time.monotonic() > deadline:
            break
        z = [torch.randint(0, 2, p.shape, generator=generator, device=p.device).to(p.dtype) * 2 - 1 for p in hvp.params]
        samples.append(_dot(z, hvp(z)))
    if not samples:
        return Trace(None, None, 0)
    mean = sum(samples) / len(samples)
    if len(samples) < 2:
        return Trace(mean, None, 1)
    variance = sum((s - mean) ** 2 for s in samples) / (len(samples) - 1)
    return Trace(mean, math.sqrt(variance / len(samples)), len(samples))
