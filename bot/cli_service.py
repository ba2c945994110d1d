"""`reviewbot serve`, `reviewbot worker`, `reviewbot beat`: the three service processes.

`serve` runs the webhook API (FastAPI under uvicorn). `worker` and `beat` replace this
process with the Celery worker / scheduler of `taskqueue.worker`: the dependency points
from `taskqueue` to `bot`, never back, so the CLI starts it as a program rather than
importing it, and Celery receives the signals itself (warm shutdown on SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import sys

from bot.clibase import EXIT_OK, Subparsers

_SERVE_EXAMPLES = """\
examples:
  reviewbot serve                              listen on 0.0.0.0:8000
  reviewbot serve --host 127.0.0.1 --port 9000 --workers 4

Endpoints: POST /webhooks/github, POST /webhooks/gitlab, GET /healthz, GET /readyz,
GET /metrics. Settings come from REVIEWBOT_* environment variables
(deploy/compose/.env.example lists them all)."""

_WORKER_EXAMPLES = """\
examples:
  reviewbot worker                             every queue, interactive first
  reviewbot worker --queues interactive        a worker reserved for /commands
  reviewbot worker --concurrency 4 --loglevel WARNING

Each worker process runs one review at a time (prefetch 1, late acknowledgement)."""

_BEAT_EXAMPLES = """\
examples:
  reviewbot beat                               schedule the weekly digest

Run exactly one beat per deployment; the schedule comes from REVIEWBOT_DIGEST_* settings."""


def add_parser(sub: Subparsers) -> None:
    serve = sub.add_parser(
        "serve", help="run the webhook API (GitHub App / GitLab webhooks, health, metrics)",
        description="Run the webhook API under uvicorn.", epilog=_SERVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="0.0.0.0",  # noqa: S104 - a server listens
                       help="address to bind (default: 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="uvicorn worker processes (default: 1)")
    serve.set_defaults(handler=_serve)

    worker = sub.add_parser(
        "worker", help="run a Celery worker that reviews pull requests",
        description="Run a Celery worker on REVIEWBOT_BROKER_URL.", epilog=_WORKER_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--queues", default="interactive,review,digest",
                        help="comma-separated queues, in priority order "
                             "(default: interactive,review,digest)")
    worker.add_argument("--concurrency", type=int, help="worker processes (default: CPUs)")
    worker.add_argument("--loglevel", default="INFO", help="Celery log level (default: INFO)")
    worker.set_defaults(handler=_worker)

    beat = sub.add_parser(
        "beat", help="run the Celery beat scheduler (weekly digest)",
        description="Run the Celery beat scheduler.", epilog=_BEAT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    beat.add_argument("--loglevel", default="INFO", help="Celery log level (default: INFO)")
    beat.set_defaults(handler=_beat)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.logs import configure_logging
    from bot.settings import get_settings

    configure_logging(get_settings())  # JSON lines through the redacting handler
    uvicorn.run("bot.webhooks.asgi:build_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, proxy_headers=True, access_log=False, log_config=None)
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    celery_args = ["worker", "--queues", args.queues, "--loglevel", args.loglevel]
    if args.concurrency:
        celery_args += ["--concurrency", str(args.concurrency)]
    _exec_celery(celery_args)
    return EXIT_OK  # not reached


def _beat(args: argparse.Namespace) -> int:
    _exec_celery(["beat", "--loglevel", args.loglevel])
    return EXIT_OK  # not reached


def _exec_celery(celery_args: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "taskqueue.worker", *celery_args])  # noqa: S606
