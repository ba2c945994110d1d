"""`reviewbot digest`: compute, store and deliver one weekly quality digest by hand.

The same function the weekly Celery beat task runs (`bot.digest.run.run_digest`), for one
repository or organisation; prints the digest as Markdown or JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from bot.clibase import EXIT_OK, Subparsers

_EXAMPLES = """\
examples:
  reviewbot digest --repo acme/widgets                  last complete week, delivered
  reviewbot digest --repo acme/widgets --since 2026-10-05 --format json
  reviewbot digest --repo acme                          the whole organisation / group
  reviewbot digest --repo acme/widgets --no-deliver     store and print only

The week is the one containing --since (weeks start on Monday in REVIEWBOT_DIGEST_TIMEZONE),
else the last complete week. Delivery follows the settings: a tracking issue in the
repository (REVIEWBOT_DIGEST_TO_ISSUE, needs the forge's credentials; updated in place when
re-run) and/or REVIEWBOT_DIGEST_CHAT_WEBHOOK_URL (Slack-compatible).
Exit status: 0 done, 2 an error (unknown repository, bad date, delivery refused)."""


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "digest", help="run the weekly quality digest of a repository or organisation",
        description="Compute the weekly quality digest of a repository (OWNER/NAME) or an "
                    "organisation (OWNER) from the review history, store it for the "
                    "dashboard and deliver it as configured.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True, metavar="OWNER/NAME",
                   help="repository full name, or an organisation / group name")
    p.add_argument("--since", type=_iso_date, metavar="DATE",
                   help="a day of the week to digest (default: the last complete week)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown",
                   dest="output_format", help="what to print (default: markdown)")
    p.add_argument("--no-deliver", action="store_true",
                   help="store and print the digest, but open no issue and post no chat message")
    p.set_defaults(handler=_run_digest)


def _run_digest(args: argparse.Namespace) -> int:
    from bot.digest.publishers import ForgePublishers
    from bot.digest.render_json import digest_json
    from bot.digest.run import run_digest
    from bot.history.db import make_engine, session_factory
    from bot.settings import get_settings

    settings = get_settings()
    if args.no_deliver:
        settings = settings.model_copy(update={"digest_to_issue": False,
                                               "digest_chat_webhook_url": None})
    engine = make_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        with ForgePublishers(sessions, settings) as publishers:
            publisher = publishers.publisher_for(args.repo) if settings.digest_to_issue else None
            result = run_digest(sessions, settings, args.repo, since=args.since,
                                publisher=publisher)
    finally:
        engine.dispose()
    if args.output_format == "json":
        payload = {**digest_json(result.data), "digest_id": result.digest_id,
                   "issue": ({"number": result.issue.number, "url": result.issue.url}
                             if result.issue else None),
                   "chat_posted": result.chat_posted}
        json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.markdown)
        if result.issue is not None:
            print(f"\n(tracking issue #{result.issue.number}: {result.issue.url})",
                  file=sys.stderr)
    return EXIT_OK
