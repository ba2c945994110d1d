"""Composition root of the webhook API: `uvicorn --factory bot.webhooks.asgi:build_app`.

Builds the collaborators from the settings: the history database, a publish-only Celery
app on the broker, and the engine pool (created inside the server's event loop, closed at
shutdown) whose health the readiness endpoint reports.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from prometheus_client.registry import Collector
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.history.db import make_engine, session_factory
from bot.logs import configure_logging
from bot.metrics_export import QueueDepthCollector
from bot.settings import Settings, get_settings
from bot.webhooks.app import create_app
from bot.webhooks.health import broker_check, database_check, engine_check
from bot.webhooks.queueing import QUEUES, CeleryJobQueue, celery_producer
from reviewers.engine.config import EngineConfig
from reviewers.engine.pool import EnginePool


class EngineHealth:
    """The engine pool's health probe; the pool lives from server start-up to shutdown."""

    def __init__(self, settings: Settings) -> None:
        self._config = EngineConfig(
            urls=tuple(settings.engine_urls), model=settings.engine_model,
            api_key=settings.engine_api_key.get_secret_value() if settings.engine_api_key
            else None,
        ) if settings.engine_urls else None
        self._pool: EnginePool | None = None

    async def check_health(self) -> Mapping[str, bool]:
        if self._pool is None:
            return {}
        return await self._pool.check_health()

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        if self._config is not None:
            self._pool = EnginePool(self._config)
        try:
            yield
        finally:
            if self._pool is not None:
                await self._pool.aclose()
                self._pool = None

    @property
    def configured(self) -> bool:
        return self._config is not None


def queue_depth_collectors(settings: Settings) -> list[Collector]:
    """The broker's queue lengths as `reviewbot_queue_depth` (Redis brokers only)."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return []
    client = redis.Redis.from_url(settings.broker_url, socket_timeout=2,
                                  socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    return [QueueDepthCollector(client, QUEUES)]


def build_app(settings: Settings | None = None) -> FastAPI:
    """The production app, every collaborator built from `settings` (default: environment)."""
    settings = settings or get_settings()
    if not logging.getLogger().handlers:
        # A `serve --workers N` child is a fresh interpreter: without this its records would
        # reach Python's last-resort handler, unformatted and unredacted.
        configure_logging(settings)
    database = make_engine(settings.database_url)
    queue = CeleryJobQueue(celery_producer(settings))
    engine = EngineHealth(settings)
    readiness = [
        database_check(database),
        broker_check(queue),
        engine_check(engine.check_health if engine.configured else None),
    ]
    return create_app(settings, sessions=session_factory(database), job_queue=queue,
                      readiness=readiness, lifespan=engine.lifespan,
                      metrics_collectors=queue_depth_collectors(settings))
