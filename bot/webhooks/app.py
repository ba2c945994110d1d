"""The FastAPI app factory: the two webhook receivers and the health endpoints, wired.

Every collaborator is passed in (session factory, job queue, readiness checks, routers);
`bot.webhooks.asgi.build_app` is the composition root that builds them from settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from bot.dashboard.router import dashboard_router
from bot.events import Outcome, github_router, gitlab_router
from bot.logs import LogContextMiddleware
from bot.settings import Settings
from bot.webhooks import github, gitlab
from bot.webhooks.batcher import BatchingIntake
from bot.webhooks.health import ReadinessCheck, health_router
from bot.webhooks.intake import DEFAULT_REDELIVERY_GRACE, DeliveryIntake
from bot.webhooks.metrics import metrics_router
from bot.webhooks.queueing import JobQueue
from bot.webhooks.receive import Edge
from bot.webhooks.routing import HandlerContext, Router

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def handler_context(settings: Settings) -> HandlerContext:
    """Who the bot is, so handlers ignore its own comments (App bots end in `[bot]`)."""
    logins = {settings.gitlab_bot_username} if settings.gitlab_bot_username else set()
    return HandlerContext(bot_logins=frozenset(login.lower() for login in logins))


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() or None if value is not None else None


def _closing(intake: BatchingIntake, lifespan: Lifespan | None) -> Lifespan:
    """The given lifespan, then the intake's writer drained and stopped at shutdown."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await run_in_threadpool(intake.close)

    return run


def create_app(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    job_queue: JobQueue,
    readiness: Sequence[ReadinessCheck] = (),
    github_routes: Router[Outcome] | None = None,
    gitlab_routes: Router[Outcome] | None = None,
    redelivery_grace: timedelta = DEFAULT_REDELIVERY_GRACE,
    lifespan: Lifespan | None = None,
    metrics_collectors: Sequence[Collector] = (),
) -> FastAPI:
    """The webhook API. With no secret configured for a forge, its endpoint refuses all."""
    intake = BatchingIntake(DeliveryIntake(sessions, job_queue,
                                           redelivery_grace=redelivery_grace))
    app = FastAPI(title="reviewbot", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=_closing(intake, lifespan))
    app.state.edge = Edge(
        intake=intake,
        github=github_routes if github_routes is not None else github_router(),
        gitlab=gitlab_routes if gitlab_routes is not None else gitlab_router(),
        context=handler_context(settings),
        github_secret=_secret(settings.github_webhook_secret),
        gitlab_secret=_secret(settings.gitlab_webhook_secret),
        max_bytes=settings.webhook_max_bytes,
    )
    app.add_middleware(LogContextMiddleware)  # delivery id etc. on every log line
    app.include_router(github.router)
    app.include_router(gitlab.router)
    app.include_router(health_router(readiness))
    app.include_router(metrics_router(metrics_collectors))
    app.include_router(dashboard_router(settings, sessions))
    return app
