"""`reviewbot reconcile`: publish the jobs of deliveries recorded but never completed."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from bot.clibase import EXIT_ERROR, EXIT_OK, Subparsers

_EXAMPLES = """\
examples:
  reviewbot reconcile                         one sweep with the policy from the settings
  reviewbot reconcile --dry-run --format json what would be requeued or given up, as JSON
  reviewbot reconcile --stalled-after 600     treat jobs silent for 10 minutes as lost

A delivery is stranded when it is still `accepted` (never reached the queue) after
--accepted-after seconds, or `enqueued`/`processing` with no progress after --stalled-after
seconds (default: the broker visibility timeout plus the job time limit). Its jobs are
published again (posting is idempotent); after job_max_retries+1 worker attempts it is
marked failed instead. Run it from cron or a Kubernetes CronJob every few minutes.
Exit status: 0 swept, 2 the database or broker was unavailable."""


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("reconcile", help="requeue deliveries recorded but never completed",
                       description="Find webhook deliveries that were recorded but never "
                                   "completed and publish their jobs again.",
                       epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accepted-after", type=float, default=None, metavar="SECONDS",
                   help="age of a never-enqueued delivery that counts as stranded (default 120)")
    p.add_argument("--stalled-after", type=float, default=None, metavar="SECONDS",
                   help="age of an enqueued/processing delivery with no progress")
    p.add_argument("--dry-run", action="store_true", help="report, change nothing")
    p.add_argument("--format", choices=["text", "json"], default="text", dest="output_format",
                   help="output format (default: text)")
    p.set_defaults(handler=_run_reconcile)


def _run_reconcile(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from bot.jobs import build_job_context
    from bot.reconcile import ReconcilePolicy, neutral_check_on_give_up, reconcile
    from bot.settings import get_settings
    from bot.webhooks.queueing import CeleryJobQueue, celery_producer

    settings = get_settings()
    policy = ReconcilePolicy.from_settings(settings)
    if args.accepted_after is not None:
        policy = replace(policy, accepted_after=timedelta(seconds=args.accepted_after))
    if args.stalled_after is not None:
        policy = replace(policy, stalled_after=timedelta(seconds=args.stalled_after))
    context = build_job_context(settings)  # the worker's forges and database
    report = reconcile(context.sessions, CeleryJobQueue(celery_producer(settings)), policy,
                       on_give_up=neutral_check_on_give_up(context.forges), dry_run=args.dry_run)
    if args.output_format == "json":
        print(json.dumps({**report.as_dict(), "dry_run": args.dry_run}, indent=2))
    else:
        verb = "would requeue" if args.dry_run else "requeued"
        print(f"{verb} {len(report.requeued)}, gave up {len(report.given_up)}, "
              f"unrecoverable {len(report.unrecoverable)}")
        if report.error:
            print(f"stopped early: {report.error}")
    return EXIT_ERROR if report.error else EXIT_OK
