"""The leaderboard's table drawn on the server: its rows, and in each the landscape thumbnail, a
small SVG chart (no script needed)."""
from __future__ import annotations

import math

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

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


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _shake_up(row) -> str:
    if row.shake_up is None:
        return mark_safe('<td class="num shake-up"></td>')
    mark, kind = (f"▲{row.shake_up}", "up") if row.shake_up > 0 else (f"▼{-row.shake_up}", "down") \
        if row.shake_up < 0 else ("–", "")
    return format_html('<td class="num shake-up {}" title="public rank {}">{}</td>', kind, row.public_rank, mark)


@register.simple_tag
def leaderboard_rows(rows, part: str):
    """The leaderboard's rows, built in Python: a course of hundreds makes a table of hundreds of
    rows, which Django's template engine renders about ten times slower (bench/leaderboard_load.py)."""
    from django.urls import reverse

    # The diagnostics URL reversed once, its id filled in per row ("/submissions/0/diagnostics/").
    before, after = reverse("diagnostics", kwargs={"submission_id": 0}).rsplit("/0/", 1)
    private = part == "private"
    html = []
    for row in rows:
        late = (format_html(' <span class="warn small" title="late: this share is taken off its scores">late −{}%'
                            '</span>', round(row.late_penalty * 100)) if row.late_penalty else "")
        html.append(format_html(
            '<tr class="{}"><td>{}</td>{}<td><a href="{}/{}/{}" title="diagnostics of this submission">{}</a>{}</td>{}'
            '<td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td>'
            '<td><time datetime="{}">{}</time></td></tr>',
            "baseline" if row.is_baseline else "", row.rank or "", _shake_up(row) if private else "",
            before, row.submission_id, after, row.name, late,
            format_html('<td class="num">{}</td>', _number(row.effective_private_score, 4)) if private else "",
            _number(row.effective_public_score, 4), sparkline(row.landscape), _number(row.sharpness, 3), row.entries,
            row.last_submission_at.isoformat(), row.last_submission_at.strftime("%Y-%m-%d %H:%M")))
    if not html:
        return mark_safe('<tr><td colspan="9" class="muted">No scored submission yet.</td></tr>')
    return mark_safe("\n".join(html))
