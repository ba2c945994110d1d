"""`reviewbot`: the one command-line entry point (review, db, engine, ...).

Exit codes: 0 no blocking finding, 1 a finding at or above --fail-on, 2 a usage or
runtime error (one clear line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from bot import cli_deploy, cli_digest, cli_doctor, cli_engine, cli_reconcile, cli_service
from bot.clibase import EXIT_ERROR, EXIT_OK, Parser, Subparsers
from reviewers.errors import ReviewbotError

log = logging.getLogger("reviewbot.cli")

_REVIEW_EXAMPLES = """\
examples:
  reviewbot review                           review HEAD against the default branch
  reviewbot review --base HEAD~1             review only the last commit
  reviewbot review --repo ../app --base origin/main --head feature
  reviewbot review --format sarif --output reviewbot.sarif --fail-on high
  reviewbot review --engine http://gpu-1:8000 --format json
  reviewbot review --engine none             static analyzers only

The engine defaults to REVIEWBOT_ENGINE_URLS (comma-separated vLLM servers).
Exit status: 0 no finding at or above --fail-on, 1 at least one, 2 an error."""


def _add_review(sub: Subparsers) -> None:
    p = sub.add_parser(
        "review", help="review a local change (base...head of a git checkout)",
        description="Review base...head of a local git checkout with the static analyzers "
                    "and, when an engine is configured, the model reviewers.",
        epilog=_REVIEW_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", default=".", help="path of the checkout (default: .)")
    p.add_argument("--base", help="base ref (default: merge base with the default branch)")
    p.add_argument("--head", default="HEAD", help="head ref (default: HEAD)")
    p.add_argument("--format", choices=["markdown", "json", "sarif"], default="markdown",
                   dest="output_format", help="output format (default: markdown)")
    p.add_argument("--output", help="write the report to this file instead of stdout")
    p.add_argument("--fail-on", choices=["info", "low", "medium", "high", "critical", "never"],
                   help="exit 1 when a finding has at least this severity "
                        "(default: the repository config's fail_on, else high)")
    p.add_argument("--engine", help="engine URL(s), comma-separated, or 'none' "
                                    "(default: REVIEWBOT_ENGINE_URLS)")
    p.add_argument("--no-tests", action="store_true", help="skip unit-test generation")
    p.add_argument("--no-history", action="store_true",
                   help="do not record the run in the history database")
    p.set_defaults(handler=_run_review)


def _run_review(args: argparse.Namespace) -> int:
    from bot.localreview import run_local_review

    return run_local_review(args)


def _add_db(sub: Subparsers) -> None:
    p = sub.add_parser("db", help="manage the history database",
                       description="Manage the review-history database "
                                   "(REVIEWBOT_DATABASE_URL).",
                       epilog="examples:\n  reviewbot db upgrade\n"
                              "  reviewbot db upgrade --wait 120   (start-up step: waits "
                              "for the database)\n"
                              "  REVIEWBOT_DATABASE_URL=postgresql+psycopg://bot@db/bot "
                              "reviewbot db upgrade",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    dbsub = p.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    up = dbsub.add_parser("upgrade", help="apply migrations up to the newest revision")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                    help="retry while the database is unreachable, up to SECONDS "
                         "(a start-up step beside a database that is still booting)")
    up.set_defaults(handler=_run_db_upgrade)


def _run_db_upgrade(args: argparse.Namespace) -> int:
    from bot.settings import get_settings

    url = get_settings().database_url
    _upgrade_waiting(url, args.revision, args.wait)
    print(f"database is at revision {args.revision}")
    return EXIT_OK


def _upgrade_waiting(url: str, revision: str, wait_s: float) -> None:
    """Migrate, retrying `DatabaseUnavailable` every 2 s until `wait_s` have passed."""
    import time

    from bot.errors import DatabaseUnavailable
    from bot.history.db import upgrade_database

    deadline = time.monotonic() + wait_s
    while True:
        try:
            upgrade_database(url, revision=revision)
            return
        except DatabaseUnavailable:
            if time.monotonic() >= deadline:
                raise
            print("database not reachable yet; retrying", file=sys.stderr)
            time.sleep(2.0)


# Each further command is a module with `add_parser(sub)`; add it to this list.
_COMMANDS: list[Callable[[Subparsers], None]] = [_add_review, _add_db, cli_digest.add_parser,
                                                  cli_service.add_parser, cli_deploy.add_parser,
                                                  cli_doctor.add_parser,
                                                  cli_reconcile.add_parser,
                                                  cli_engine.add_parser]


def build_parser() -> Parser:
    parser = Parser(
        prog="reviewbot",
        description="Self-hosted code review and test generation for GitHub and GitLab.",
        epilog="Run 'reviewbot COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.handler(args)
    except ReviewbotError as exc:
        print(f"reviewbot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("reviewbot: interrupted", file=sys.stderr)
        return EXIT_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
