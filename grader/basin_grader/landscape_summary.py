"""The loss landscape's coordinates and scalar summaries, without torch.

The sandbox's runtime lays its points out on `axis`; the worker recomputes every summary here
from the numbers the sandbox reported, so a summary is never taken on the sandbox's word.
"""
from __future__ import annotations

import math

RISE = 0.1  # the loss rise that bounds the flat radius and the basin area
DIVERGED = "diverged"  # how the sandbox writes a NaN or infinite loss (JSON has neither)


def axis(points: int) -> list[float]:
    """`points` (odd) evenly spaced coefficients from -1 to 1; the middle one is exactly 0."""
    half = points // 2
    return [i / half for i in range(-half, half + 1)]


def flat_radius(alphas: list[float], losses: list[float | None], rise: float = RISE) -> float | None:
    """Smallest |α| at which the loss has risen by `rise` over the centre, interpolated linearly
    between neighbouring points, looking both ways from the centre; None when it never does in
    range (or a missing point interrupts the curve first). A diverged point (math.inf) has risen
    past any threshold: the radius is the last finite point's |α| before it."""
    centre = len(alphas) // 2
    base = losses[centre]
    if base is None:
        return None
    best = None
    for step in (1, -1):
        previous, i = 0.0, centre + step
        while 0 <= i < len(alphas) and (loss := losses[i]) is not None:
            risen = loss - base
            if risen >= rise:
                inner, outer = abs(alphas[i - step]), abs(alphas[i])
                found = inner if risen == math.inf else inner + (rise - previous) / (risen - previous) * (outer - inner)
                best = found if best is None else min(best, found)
                break
            previous, i = risen, i + step
    return best


def basin_area(grid: list[list[float | None]], centre_loss: float, rise: float = RISE) -> float | None:
    """Fraction of the evaluated 2D grid points whose loss is at most the centre's + `rise`; a
    diverged point (math.inf) counts, outside."""
    values = [v for row in grid for v in row if v is not None]
    if not values:
        return None
    return sum(v <= centre_loss + rise for v in values) / len(values)
