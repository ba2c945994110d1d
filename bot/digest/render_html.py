"""The digest as a standalone HTML page with inline-SVG charts (stored, shown by the dashboard)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.digest.compute import DigestData
from bot.digest.formatting import format_change, format_value
from bot.digest.render_markdown import digest_title
from bot.digest.trend_charts import trend_charts
from bot.history.queries import SEVERITIES

TEMPLATES = Path(__file__).parent / "templates"


def template_environment(*extra_dirs: Path) -> Environment:
    """Jinja2 with autoescaping, the digest templates and the number filters."""
    env = Environment(loader=FileSystemLoader([*extra_dirs, TEMPLATES]),
                      autoescape=select_autoescape(["html", "xml", "css"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["value"] = lambda v, unit="count": format_value(unit, v)
    env.filters["change"] = lambda v, unit="count": format_change(unit, v)
    env.globals["SEVERITIES"] = SEVERITIES
    return env


def render_html(data: DigestData, *, environment: Environment | None = None,
                dashboard_url: str | None = None) -> str:
    env = environment or template_environment()
    return env.get_template("digest.html").render(
        d=data, title=digest_title(data), charts=trend_charts(data.history),
        dashboard_url=dashboard_url)
