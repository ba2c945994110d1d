"""Start a Celery worker (or beat) on the configured app: `python -m taskqueue.worker [args]`.

The Celery CLI wants a module-level app; this builds it from the settings at start-up
instead, then hands the remaining arguments to Celery (default: a worker consuming every
queue in priority order). `reviewbot worker` / `reviewbot beat` call `main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.settings import Settings, get_settings
from bot.webhooks.queueing import QUEUES
from taskqueue.app import create_celery_app

DEFAULT_WORKER_ARGS = ("worker", "--queues", ",".join(QUEUES), "--loglevel", "INFO")


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """Run `celery <argv>` against the app built from `settings`; returns the exit code."""
    app = create_celery_app(settings or get_settings())
    code = app.start(list(argv) if argv else list(DEFAULT_WORKER_ARGS))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
