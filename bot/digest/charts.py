"""Small inline-SVG charts (stacked bars, lines) for the digest page and the dashboard.

Every mark carries `data-series`, `data-label` and `data-value` attributes and a `<title>`
tooltip, so the numbers stay readable by people, screen readers and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44

SEVERITY_COLOURS = {"critical": "#b42318", "high": "#e8590c", "medium": "#f2b705",
                    "low": "#3b82f6", "info": "#94a3b8"}


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    values: Sequence[float | None]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:,.2f}"


def _frame(kind: str, title: str, labels: Sequence[str], top: float,
           axis: Callable[[float], str], legend: Sequence[Series], body: list[str]) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'data-chart="{escape(kind)}" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}" stroke="#e5e7eb"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#6b7280">{escape(axis(top * i / 4))}</text>')
    step = plot_w / max(len(labels), 1)
    for i, label in enumerate(labels):
        x = LEFT + step * (i + 0.5)
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle" font-size="11" fill="#6b7280">'
                     f'{escape(label)}</text>')
    parts.extend(body)
    x = LEFT
    for series in legend:
        parts.append(f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" rx="2" '
                     f'fill="{escape(series.colour)}"/><text x="{x + 14}" y="{HEIGHT - 7}" '
                     f'font-size="11" fill="#374151">{escape(series.name)}</text>')
        x += 24 + 7 * len(series.name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped above


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Series],
                 axis: Callable[[float], str] = _fmt) -> Markup:
    """One bar per label, stacked by series (None counts as 0)."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    bar_w = min(step * 0.6, 48)
    body: list[str] = []
    for i, label in enumerate(labels):
        x = LEFT + step * (i + 0.5) - bar_w / 2
        base: float = TOP + plot_h
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            body.append(f'<rect class="bar" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" fill="{escape(s.colour)}" '
                        f'data-series="{escape(s.name)}" data-label="{escape(label)}" '
                        f'data-value="{_fmt(value)}"><title>{escape(label)} '
                        f'{escape(s.name)}: {_fmt(value)}</title></rect>')
        if totals[i]:
            body.append(f'<text class="total" x="{x + bar_w / 2:.1f}" y="{base - 4:.1f}" '
                        f'text-anchor="middle" font-size="11" fill="#111827" '
                        f'data-label="{escape(label)}">{axis(totals[i])}</text>')
    return _frame("stacked-bars", title, labels, top, axis, series, body)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series],
               axis: Callable[[float], str] = _fmt, top: float | None = None) -> Markup:
    """One line per series with a dot per defined value (gaps where a value is None)."""
    values = [v for s in series for v in s.values if v is not None]
    top = top or _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels), 1)
    body: list[str] = []
    for s in series:
        segments: list[list[str]] = [[]]  # a week without a value breaks the line
        for i, value in enumerate(s.values):
            if value is None:
                segments.append([])
                continue
            x, y = LEFT + step * (i + 0.5), TOP + plot_h - plot_h * min(value, top) / top
            segments[-1].append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="4" '
                        f'fill="{escape(s.colour)}" data-series="{escape(s.name)}" '
                        f'data-label="{escape(labels[i])}" data-value="{_fmt(value)}">'
                        f'<title>{escape(labels[i])} {escape(s.name)}: {axis(value)}</title>'
                        f'</circle>')
        for points in segments:
            if len(points) > 1:
                body.insert(0, f'<polyline fill="none" stroke="{escape(s.colour)}" '
                               f'stroke-width="2" points="{" ".join(points)}"/>')
    return _frame("line", title, labels, top, axis, series, body)
