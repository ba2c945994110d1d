"""The command parser: only a whole line that is a known command becomes an action."""

from __future__ import annotations

import pytest

from bot.commands import HELP_TEXT, Command, parse_command


@pytest.mark.parametrize(("body", "expected"), [
    ("/review", Command.REVIEW),
    ("  /review  ", Command.REVIEW),
    ("/Review", Command.REVIEW),
    ("/review security", Command.REVIEW_SECURITY),
    ("/review   SECURITY", Command.REVIEW_SECURITY),
    ("/tests", Command.TESTS),
    ("/describe", Command.DESCRIBE),
    ("/help", Command.HELP),
    ("Thanks for the fix!\r\n\r\n/describe\r\n", Command.DESCRIBE),
    ("/tests\n/review", Command.TESTS),  # one comment, one action: the first
])
def test_a_line_that_is_a_command(body: str, expected: Command) -> None:
    assert parse_command(body) is expected


@pytest.mark.parametrize("body", [
    "",
    "LGTM",
    "Could you /review this?",
    "please run /tests",
    "/review please",
    "/review security now",
    "/reviews",
    "/review-security",
    "review",
    "> /review",
    "`/review`",
    "```\n/review\n```",
    "~~~python\n/tests\n~~~",
    "/approve",
    "/merge",
    "/review\u200b",
])
def test_anything_else_is_not_a_command(body: str) -> None:
    assert parse_command(body) is None


def test_a_command_after_a_closed_code_fence_counts() -> None:
    assert parse_command("```\n/tests\n```\n/review") is Command.REVIEW


def test_help_lists_every_command() -> None:
    for command in Command:
        assert f"`/{command.value}`" in HELP_TEXT
