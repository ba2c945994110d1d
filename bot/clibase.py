"""Shared pieces of the command line: the parser class, exit codes, the subparser type.

Each command lives in its own module (`bot/cli_<name>.py`) with an `add_parser(sub)`
function; `bot.cli` lists those modules. A handler returns an exit code or raises `ReviewbotError`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TypeAlias

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and one line, like every other error of the CLI."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"reviewbot: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"
