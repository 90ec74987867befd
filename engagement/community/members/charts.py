"""Small server-side SVG charts: readable without JavaScript, with tooltips and labels.

Each helper returns safe markup (`Markup`) for direct use in templates. The numbers are
always repeated beneath the chart in a table by the template, so screen readers and
text browsers get the data; the SVG carries `role="img"` and an `aria-label`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

DEFAULT_COLOR = "#e20074"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value and colour (CSS colour string)."""

    label: str
    value: int | float
    color: str = DEFAULT_COLOR


@dataclass(frozen=True)
class Series:
    """One series of a column chart: a name, a colour and one value per category."""

    name: str
    values: Sequence[int | float]
    color: str = DEFAULT_COLOR


def nice_max(value: float) -> float:
    """The smallest 'round' number (1, 2, 2.5, 5 x 10^n) at or above value; 1 for zero."""
    if value <= 0:
        return 1
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            result = step * magnitude
            return int(result) if result >= 1 and result == int(result) else result
    return 10 * magnitude  # unreachable: step 10 always covers value


def _num(value: float) -> str:
    # SVG coordinates: short and locale-independent.
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _safe_color(color: str) -> str:
    # Colours come from the database (tier colours): allow only plain CSS colour syntax.
    allowed = set("#abcdefABCDEF0123456789(),. %")
    if color and all(c in allowed or c.isalpha() for c in color) and len(color) <= 32:
        return color
    return DEFAULT_COLOR


def bar_chart(bars: Sequence[Bar], *, title: str,
              fmt: Callable[[int | float], str] = str, width: int = 480,
              bar_height: int = 22, label_width: int = 130) -> Markup:
    """Horizontal bars, one per row, label on the left and value at the bar's end."""
    gap = 8
    height = max(1, len(bars)) * (bar_height + gap) + gap
    top = max((b.value for b in bars), default=0)
    scale_max = nice_max(top)
    room = width - label_width - 70  # leave space for the value text after the bar
    parts = [
        f'<svg class="chart bar-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = gap + i * (bar_height + gap)
        length = 0 if scale_max == 0 else room * max(bar.value, 0) / scale_max
        text_y = y + bar_height / 2 + 4
        label = escape(bar.label)
        value = escape(fmt(bar.value))
        parts.append(
            f'<g><title>{label}: {value}</title>'
            f'<text x="{label_width - 6}" y="{_num(text_y)}" text-anchor="end">{label}</text>'
            f'<rect x="{label_width}" y="{y}" width="{_num(max(length, 1 if bar.value else 0))}"'
            f' height="{bar_height}" rx="3" fill="{escape(_safe_color(bar.color))}"/>'
            f'<text x="{_num(label_width + length + 6)}" y="{_num(text_y)}">{value}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(categories: Sequence[str], series: Sequence[Series], *, title: str,
                 fmt: Callable[[int | float], str] = str, width: int = 480,
                 height: int = 240) -> Markup:
    """Vertical columns per category (e.g. months), series side by side, with a y-axis."""
    left, right, top_pad, bottom = 48, 8, 12, 36
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    n = max(1, len(categories))
    top = max((v for s in series for v in s.values), default=0)
    scale_max = nice_max(top)
    slot = plot_w / n
    group_w = slot * 0.8
    col_w = group_w / max(1, len(series))
    # Label every category when they fit, else every second/third one (a label needs about
    # 56 units at the larger font phones get, see app.css).
    label_every = max(1, math.ceil(n / (plot_w / 56)))
    parts = [
        f'<svg class="chart column-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):  # horizontal grid lines with their values
        value = scale_max * step / 4
        y = top_pad + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="#e2e8f0"/><text x="{left - 6}" y="{_num(y + 4)}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    for i, category in enumerate(categories):
        x0 = left + i * slot + (slot - group_w) / 2
        label = escape(category)
        for j, s in enumerate(series):
            value = s.values[i] if i < len(s.values) else 0
            h = plot_h * max(value, 0) / scale_max
            y = top_pad + plot_h - h
            parts.append(
                f'<rect x="{_num(x0 + j * col_w)}" y="{_num(y)}" width="{_num(col_w * 0.92)}" '
                f'height="{_num(h)}" fill="{escape(_safe_color(s.color))}">'
                f"<title>{label} · {escape(s.name)}: {escape(fmt(value))}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{_num(left + i * slot + slot / 2)}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{label}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top_pad + plot_h}" '
        f'y2="{top_pad + plot_h}" stroke="#94a3b8"/>'
    )
    if len(series) > 1:  # legend
        x = left
        for s in series:
            parts.append(
                f'<rect x="{_num(x)}" y="{height - 12}" width="10" height="10" '
                f'fill="{escape(_safe_color(s.color))}"/>'
                f'<text x="{_num(x + 14)}" y="{height - 3}">{escape(s.name)}</text>'
            )
            x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return Markup("".join(parts))
