"""Start a Celery worker (or beat) on the configured app: `python -m taskqueue.worker [args]`.

The Celery CLI wants a module-level app; this builds it from the settings at start-up
instead, then hands the remaining arguments to Celery (default: a worker consuming every
queue in priority order). `reviewbot worker` / `reviewbot beat` call `main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.logs import configure_logging
from bot.metrics_export import install_worker_metrics
from bot.settings import Settings, get_settings
from bot.webhooks.queueing import QUEUES
from taskqueue.app import create_celery_app

DEFAULT_WORKER_ARGS = ("worker", "--queues", ",".join(QUEUES), "--loglevel", "INFO")


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run `celery <argv>` against the app built from `settings`; returns the exit code.

    Logs go out as JSON lines through the redacting handler; a worker also serves its
    metrics on REVIEWBOT_METRICS_PORT (prefork children merged via PROMETHEUS_MULTIPROC_DIR).
    """
    settings = settings or get_settings()
    args = list(argv) if argv else list(DEFAULT_WORKER_ARGS)
    configure_logging(settings, level=_option(args, "--loglevel"))
    if args[0] == "worker":
        install_worker_metrics(settings.metrics_port)
    app = create_celery_app(settings)
    code = app.start(args)
    return int(code or 0)


def _option(args: Sequence[str], name: str) -> str | None:
    """The value of `--name VALUE` / `--name=VALUE` in Celery's arguments, if given."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
