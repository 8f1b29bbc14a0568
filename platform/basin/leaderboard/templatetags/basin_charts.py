"""Small charts drawn on the server: the leaderboard's landscape thumbnails (no script needed)."""
from __future__ import annotations

import math

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def sparkline(values, width: int = 90, height: int = 26):
    """An inline SVG of a 1D loss curve, the centre marked; empty where there are no numbers."""
    points = [(i, float(v)) for i, v in enumerate(values or []) if isinstance(v, (int, float)) and math.isfinite(v)]
    if len(points) < 2:
        return ""
    low, high = min(v for _, v in points), max(v for _, v in points)
    span, last = (high - low) or 1.0, max(len(values) - 1, 1)
    pad = 2

    def xy(i: int, v: float) -> str:
        return f"{pad + i / last * (width - 2 * pad):.1f},{height - pad - (v - low) / span * (height - 2 * pad):.1f}"

    centre = len(values) // 2
    line = " ".join(xy(i, v) for i, v in points)
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<polyline points="{}" fill="none" stroke="#1d3557" stroke-width="1.5"/>'
        '<line x1="{}" x2="{}" y1="0" y2="{}" stroke="#e76f51" stroke-width="1"/></svg>',
        width, height, width, height, "train loss along a random direction through the model", line,
        f"{pad + centre / last * (width - 2 * pad):.1f}", f"{pad + centre / last * (width - 2 * pad):.1f}", height)
