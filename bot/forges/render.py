"""Markdown bodies for review comments: suggestion blocks per forge, markers, overflow lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from bot.forges.base import InlineComment
from bot.forges.markers import fingerprint_marker

MAX_BODY_CHARS = 65_000  # both forges refuse bodies over 65,536 characters

SuggestionStyle = Literal["github", "gitlab"]


def comment_body(comment: InlineComment, style: SuggestionStyle) -> str:
    """The comment's text, its suggestion block (RIGHT side only) and its hidden marker."""
    marker = fingerprint_marker(comment.fingerprint) if comment.fingerprint else ""
    parts = [comment.body.rstrip()]
    if comment.suggestion is not None and comment.side == "RIGHT":
        parts.append(_suggestion_block(comment, style))
    text = "\n\n".join(parts)
    room = MAX_BODY_CHARS - len(marker) - 2
    if len(text) > room:
        text = text[: room - 2] + " …"
    return f"{text}\n\n{marker}" if marker else text


def _suggestion_block(comment: InlineComment, style: SuggestionStyle) -> str:
    replacement = comment.suggestion or ""
    fence = "```"
    while fence in replacement:
        fence += "`"
    info = "suggestion"
    if style == "gitlab":
        above = comment.line - comment.start_line if comment.start_line else 0
        info = f"suggestion:-{max(above, 0)}+0"
    return f"{fence}{info}\n{replacement.rstrip(chr(10))}\n{fence}"


def review_body(body: str, overflow: Sequence[InlineComment]) -> str:
    """The review's summary text plus a list of the findings not posted inline."""
    if not overflow:
        return body[:MAX_BODY_CHARS]
    lines = [
        body.rstrip(),
        "",
        f"**{len(overflow)} more finding(s)** not posted inline to keep this review readable:",
        "",
    ]
    used = sum(len(line) + 1 for line in lines)
    for shown, comment in enumerate(overflow):
        first = comment.body.strip().splitlines()[0] if comment.body.strip() else ""
        marker = f" {fingerprint_marker(comment.fingerprint)}" if comment.fingerprint else ""
        entry = f"- `{comment.path}` line {comment.line}: {first[:300]}{marker}"
        if used + len(entry) + 80 > MAX_BODY_CHARS:
            lines.append(f"- … and {len(overflow) - shown} more")
            break
        lines.append(entry)
        used += len(entry) + 1
    return "\n".join(lines)


def split_inline(
    comments: Sequence[InlineComment], max_inline: int
) -> tuple[tuple[InlineComment, ...], tuple[InlineComment, ...]]:
    """The first `max_inline` comments go inline, the rest into the review body."""
    limit = max(max_inline, 0)
    return tuple(comments[:limit]), tuple(comments[limit:])
