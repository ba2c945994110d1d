"""A scope's four trend charts from weekly points: findings, acceptance, latency, tokens."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from bot.digest.charts import SEVERITY_COLOURS, Series, line_chart, stacked_bars
from bot.history.queries import SEVERITIES
from bot.history.trends import WeekPoint


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _seconds(value: float) -> str:
    return f"{value:.0f} s"


def _kilo(value: float) -> str:
    return f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:.0f}"


def trend_charts(points: Sequence[WeekPoint]) -> dict[str, Markup]:
    """`findings`, `acceptance`, `latency` and `tokens` charts, one point per week."""
    labels = [p.week.label.split("-")[1] for p in points]
    findings = stacked_bars(
        "Findings introduced per week, by severity", labels,
        [Series(s, SEVERITY_COLOURS[s], [p.introduced.by_severity.get(s, 0) for p in points])
         for s in reversed(SEVERITIES)])
    acceptance = line_chart(
        "Acceptance and dismissal rate of posted findings", labels,
        [Series("accepted", "#15803d", [p.acceptance_rate for p in points]),
         Series("dismissed", "#b42318", [p.dismissal_rate for p in points])],
        axis=_percent, top=1.0)
    latency = line_chart(
        "Review latency, webhook to finished (seconds)", labels,
        [Series("p50", "#2563eb", [p.latency.p50 for p in points]),
         Series("p90", "#7c3aed", [p.latency.p90 for p in points])], axis=_seconds)
    tokens = stacked_bars(
        "Tokens per week", labels,
        [Series("cached prompt", "#94a3b8", [p.tokens.cached for p in points]),
         Series("uncached prompt", "#0ea5e9", [p.tokens.uncached_prompt for p in points]),
         Series("completion", "#f97316", [p.tokens.completion for p in points])], axis=_kilo)
    return {"findings": findings, "acceptance": acceptance, "latency": latency,
            "tokens": tokens}
