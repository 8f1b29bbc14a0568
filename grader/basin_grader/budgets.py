"""How much diagnostics work one submission gets: a per-homework budget over device-aware defaults.

No torch here: the platform validates a TA's overrides with it, the worker sends the resolved
budget into the sandbox as JSON, and the sandbox's runtime reads it back.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

PROFILES = ("cpu", "gpu")  # the device the diagnostics run on


@dataclass(frozen=True)
class DiagnosticsBudget:
    samples: int            # fixed train and val subsets of the loss landscape and the Hessian
    grid: int               # points per side of the 2D landscape (odd: the centre is a grid point)
    line_points: int        # points of each 1D curve (odd)
    eval_samples: int       # train and val subsets of the train/val loss and accuracy
    feature_samples: int    # val images in the 2D projection of the penultimate features
    power_iterations: int   # Hessian top eigenvalue: at most this many Hessian-vector products
    hutchinson_probes: int  # Hessian trace: Rademacher probes (its standard error shrinks as 1/√probes)
    batch_size: int         # images per forward pass
    points_per_call: int    # landscape points evaluated together with torch.func.vmap (1: a plain loop)
    time_limit_s: int       # diagnostics' own wall clock; the score never waits on it
    seed: int = 0           # directions, probes and subsets; recorded with the result

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULTS = {
    # On a CPU the forward pass is the floor and vmap buys nothing (MACHINE-NOTES): small and plain.
    "cpu": DiagnosticsBudget(samples=256, grid=11, line_points=11, eval_samples=2048, feature_samples=512,
                             power_iterations=20, hutchinson_probes=10, batch_size=32, points_per_call=1,
                             time_limit_s=600),
    "gpu": DiagnosticsBudget(samples=2048, grid=51, line_points=51, eval_samples=10000, feature_samples=2048,
                             power_iterations=50, hutchinson_probes=50, batch_size=2048, points_per_call=4,
                             time_limit_s=600),
}

_BOUNDS = {  # smallest and largest value a TA may set
    "samples": (8, 20000), "grid": (3, 101), "line_points": (3, 201), "eval_samples": (8, 100000),
    "feature_samples": (8, 10000), "power_iterations": (1, 500), "hutchinson_probes": (2, 1000),
    "batch_size": (1, 8192), "points_per_call": (1, 64), "time_limit_s": (10, 7200), "seed": (0, 2**31 - 1),
}
_ODD = ("grid", "line_points")


class BudgetError(ValueError):
    """A diagnostics budget that cannot be used; the message says which setting and why."""


def resolve_budget(profile: str, overrides: dict | None = None) -> DiagnosticsBudget:
    """The default budget of `profile` with a homework's overrides applied and checked."""
    if profile not in DEFAULTS:
        raise BudgetError(f"unknown diagnostics profile {profile!r}; choose one of {', '.join(PROFILES)}")
    overrides = dict(overrides or {})
    known = {f.name for f in fields(DiagnosticsBudget)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise BudgetError(f"unknown diagnostics setting(s) {', '.join(unknown)}; "
                          f"the settings are {', '.join(sorted(known))}")
    for name, value in overrides.items():
        low, high = _BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BudgetError(f"diagnostics setting {name} must be a whole number from {low} to {high}, not {value!r}")
        if name in _ODD and value % 2 == 0:
            raise BudgetError(f"diagnostics setting {name} must be odd so that the unperturbed model is a point; "
                              f"use {value + 1}")
    return replace(DEFAULTS[profile], **overrides)


LINES = 3  # 1D curves, along directions 1..3; the 2D grid spans directions 1 and 2
PARTS = ("generalization", "features", "lines", "sharpness", "grid")  # a run's parts, cheapest first


def seeds_of(budget: DiagnosticsBudget) -> dict:
    """Every seed a diagnostics run draws from, derived from the budget's one seed and recorded."""
    base = budget.seed * 1000
    return {"directions": [base + k for k in range(1, LINES + 1)], "power_iteration": base + 101,
            "hutchinson": base + 102, "subsets": budget.seed}


def budget_from_dict(data: dict) -> DiagnosticsBudget:
    """A budget as written by `to_dict` (inside the sandbox)."""
    return DiagnosticsBudget(**{f.name: int(data[f.name]) for f in fields(DiagnosticsBudget)})
