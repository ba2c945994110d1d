"""Parse the bot's PR/MR commands out of a comment body: a closed set, one per comment.

A command is a line that *is* the command: `/review`, `/review security`, `/tests`,
`/describe` or `/help`, alone on its line (surrounding spaces allowed, command word
case-insensitive). Text that merely mentions a command mid-sentence, a line with extra
words after it, quoted lines (`> /review`) and lines inside fenced code blocks are never
commands, so nothing else written in a PR can become an action.
"""

from __future__ import annotations

from enum import StrEnum

MAX_SCANNED_LINES = 200  # a command is typed near the top; a huge paste is not scanned whole


class Command(StrEnum):
    """The only actions a comment can ask for."""

    REVIEW = "review"
    REVIEW_SECURITY = "review security"
    TESTS = "tests"
    DESCRIBE = "describe"
    HELP = "help"


_BY_WORDS: dict[tuple[str, ...], Command] = {
    ("/review",): Command.REVIEW,
    ("/review", "security"): Command.REVIEW_SECURITY,
    ("/tests",): Command.TESTS,
    ("/describe",): Command.DESCRIBE,
    ("/help",): Command.HELP,
}

_FENCES = ("```", "~~~")

HELP_TEXT = """\
Commands (write one alone on its own line of a PR comment; you need write access):

- `/review` — review the whole pull request again
- `/review security` — a security-focused review
- `/tests` — propose unit tests for the change, validated in a sandbox
- `/describe` — draft a PR description from the diff
- `/help` — show this message
"""


def parse_command_line(line: str) -> Command | None:
    """The command this single line is, or None: the whole line must be the command."""
    words = tuple(word.lower() for word in line.split())
    if not words or not words[0].startswith("/"):
        return None
    return _BY_WORDS.get(words)


def parse_command(body: str) -> Command | None:
    """The first command in a comment body, or None when the body holds no command line."""
    in_fence = False
    for index, raw in enumerate(body.splitlines()):
        if index >= MAX_SCANNED_LINES:
            break
        stripped = raw.strip()
        if stripped.startswith(_FENCES):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        command = parse_command_line(stripped)
        if command is not None:
            return command
    return None
