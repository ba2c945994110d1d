"""How digest figures and untrusted text are written: units, signed changes, safe snippets."""

from __future__ import annotations

import re

_WS = re.compile(r"\s+")
_SEVERITY_ICON = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "🟦", "info": "⬜"}


def format_value(unit: str, value: float | None) -> str:
    """`value` in `unit` ("count", "rate", "seconds", "tokens", "gpu_seconds"); "–" if None."""
    if value is None:
        return "–"
    if unit == "rate":
        return f"{value * 100:.0f} %"
    if unit == "seconds":
        return f"{value / 60:.1f} min" if value >= 600 else f"{value:.0f} s"
    if unit == "gpu_seconds":
        return f"{value:,.1f} GPU-s"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def format_change(unit: str, change: float | None) -> str:
    """A signed difference: "+6.25", "−3 pp", "±0"."""
    if change is None:
        return "–"
    if abs(change) < 1e-9:
        return "±0"
    sign = "+" if change > 0 else "−"
    magnitude = abs(change)
    if unit == "rate":
        return f"{sign}{magnitude * 100:.0f} pp"
    if unit == "seconds":
        return f"{sign}{magnitude:.0f} s"
    if unit == "gpu_seconds":
        return f"{sign}{magnitude:,.1f} GPU-s"
    if float(magnitude).is_integer():
        return f"{sign}{int(magnitude):,}"
    return f"{sign}{magnitude:,.2f}"


def severity_icon(severity: str) -> str:
    return _SEVERITY_ICON.get(severity, "")


def inline_text(text: str, limit: int = 200) -> str:
    """Model or user text made safe for one Markdown line: no mentions, pipes or breaks."""
    text = _WS.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
            .replace("@", "@\u200b").replace("<", "&lt;").replace(">", "&gt;"))
