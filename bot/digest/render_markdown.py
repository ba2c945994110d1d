"""The digest as Markdown (the tracking issue's body) and as Slack-compatible JSON."""

from __future__ import annotations

from typing import Any

from bot.digest.compute import DigestData
from bot.digest.formatting import format_change, format_value, inline_text, severity_icon
from bot.history.queries import SEVERITIES


def digest_title(data: DigestData) -> str:
    week = data.week
    return (f"reviewbot weekly digest: {data.scope.name} {week.label} "
            f"({week.monday:%d %b} – {week.sunday:%d %b %Y})")


def _severity_line(by_severity: dict[str, int]) -> str:
    parts = [f"{severity_icon(s)} {s} {by_severity[s]}" for s in SEVERITIES if by_severity.get(s)]
    return " · ".join(parts) if parts else "none"


def _finding_line(number: int, f: Any) -> str:
    where = f"`{inline_text(f.path, 120)}:{f.line}`"
    pr = f" (PR #{f.pr_number})" if f.pr_number is not None else ""
    cwe = f" {f.cwe}" if f.cwe else ""
    return (f"{number}. {severity_icon(f.severity)} **{f.severity}** {where} "
            f"`{inline_text(f.rule, 60)}`{cwe}{pr}: {inline_text(f.message)}")


def render_markdown(data: DigestData, *, dashboard_url: str | None = None) -> str:
    lines = [f"## {digest_title(data)}", "",
             f"Compared with the average of the previous {len(data.history) - 1} weeks.", "",
             "| | This week | Previous weeks (avg) | Change |", "|---|---:|---:|---:|"]
    for figure in data.figures:
        lines.append(f"| {figure.label} | {format_value(figure.unit, figure.current)} | "
                     f"{format_value(figure.unit, figure.baseline)} | "
                     f"{format_change(figure.unit, figure.change)} |")
    lines += ["", "### Findings this week", "",
              f"- Introduced: {_severity_line(data.introduced.by_severity)}",
              f"- Fixed: {_severity_line(data.fixed.by_severity)}"]
    if data.introduced.by_cwe:
        cwes = ", ".join(f"{cwe} ×{n}" for cwe, n in sorted(data.introduced.by_cwe.items()))
        lines.append(f"- CWEs introduced: {cwes}")
    if data.hot_files:
        hot = ", ".join(f"`{inline_text(path, 120)}` ({n})" for path, n in data.hot_files)
        lines.append(f"- Hot files: {hot}")
    lines += ["", "### Most important open findings", ""]
    lines += [_finding_line(i, f) for i, f in enumerate(data.top_open, 1)] or ["None open. 🎉"]
    lines += ["", "### Noisiest rules (consider tuning)", ""]
    if data.noisiest_rules:
        lines += ["| Rule | Posted | Dismissed | Dismissal rate |", "|---|---:|---:|---:|"]
        lines += [f"| `{inline_text(r.key, 60)}` | {r.posted} | {r.dismissed} | "
                  f"{format_value('rate', r.dismissal_rate)} |" for r in data.noisiest_rules]
    else:
        lines.append("No rule was dismissed.")
    lines += ["", "### Tests the bot added that were merged", ""]
    lines += [f"- PR #{t.pr_number} {inline_text(t.pr_title, 80)}: `{inline_text(t.path, 120)}`"
              for t in data.merged_tests] or ["None this week."]
    discarded = ", ".join(f"{reason} {n}" for reason, n in data.tests.discarded.items())
    lines += ["", f"Generated tests this week: {data.tests.kept} kept, "
              f"{data.tests.discarded_total} discarded" + (f" ({discarded})" if discarded else "")
              + "."]
    if dashboard_url:
        lines += ["", f"[Open the dashboard]({dashboard_url})"]
    return "\n".join(lines) + "\n"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(data: DigestData, *, dashboard_url: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook payload (`text` fallback plus Block Kit `blocks`)."""
    title = digest_title(data)
    keys = ("reviews", "introduced", "fixed", "acceptance_rate", "latency_p50", "gpu_seconds")
    fields = []
    for key in keys:
        figure = data.figure(key)
        fields.append({"type": "mrkdwn", "text": (
            f"*{figure.label}*\n{format_value(figure.unit, figure.current)} "
            f"({format_change(figure.unit, figure.change)} vs avg)")})
    top = "\n".join(
        f"{severity_icon(f.severity)} *{f.severity}* `{_slack_escape(f.path)}:{f.line}` "
        f"{_slack_escape(f.rule)}: {_slack_escape(inline_text(f.message, 150))}"
        for f in data.top_open) or "None open."
    noisy = ", ".join(f"`{_slack_escape(r.key)}` ({r.dismissed} dismissed)"
                      for r in data.noisiest_rules) or "none"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*Most important open findings*\n{top}"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*Noisiest rules*: {noisy}\n"
                                             f"*Bot tests merged*: {len(data.merged_tests)}"}},
    ]
    if dashboard_url:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{_slack_escape(dashboard_url)}|Open the dashboard>"}]})
    return {"text": _slack_escape(title), "blocks": blocks}
