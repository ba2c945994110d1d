"""The weekly digest on the `digest` queue: a beat entry, a sweep task, one task per scope.

Celery beat fires `weekly_digests` on `digest_day` at `digest_hour` in `digest_timezone`
(the app's time zone, so crontab follows DST). The sweep lists the active repositories
and organisations of the last complete week and publishes one `send_digest` per scope, so
one failing scope (a chat webhook down, a forge refusing) is retried alone with backoff.
Task bodies are the plain functions below; tests call them directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from celery import Celery
from celery.schedules import crontab
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.publishers import ForgePublishers
from bot.digest.run import DigestResult, digest_scopes, digest_week, run_digest
from bot.history.db import make_engine, session_factory, session_scope
from bot.settings import Settings
from bot.webhooks.queueing import DIGEST_TASK, QUEUE_DIGEST
from reviewers.errors import TransientError

log = logging.getLogger(__name__)

DIGEST_SWEEP_TASK = "reviewbot.weekly_digests"
RETRY_BACKOFF_MAX_S = 1800


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The beat entry: the sweep, weekly, at the configured day and hour (minute 0)."""
    return {
        "weekly-digest": {
            "task": DIGEST_SWEEP_TASK,
            "schedule": crontab(minute=0, hour=settings.digest_hour,
                                day_of_week=settings.digest_day),
            "options": {"queue": QUEUE_DIGEST},
        },
    }


@dataclass(frozen=True)
class DigestContext:
    """What the digest tasks need: settings and the history's sessions."""

    settings: Settings
    sessions: sessionmaker[Session]


def build_digest_context(settings: Settings) -> DigestContext:
    return DigestContext(settings, session_factory(make_engine(settings.database_url)))


def weekly_scopes(context: DigestContext, *, now: datetime | None = None
                  ) -> tuple[str, list[str]]:
    """The sweep's body: the week to digest (its Monday, ISO) and the scopes active in it."""
    week = digest_week(context.settings, now=now)
    with session_scope(context.sessions) as session:
        scopes = digest_scopes(session, week)
    return week.monday.isoformat(), scopes


def send_digest(context: DigestContext, *, scope: str, since: str | None = None,
                now: datetime | None = None) -> DigestResult:
    """One scope's digest: computed, stored, published to its issue and chat as configured."""
    with ForgePublishers(context.sessions, context.settings) as publishers:
        publisher = (publishers.publisher_for(scope) if context.settings.digest_to_issue
                     else None)
        return run_digest(context.sessions, context.settings, scope,
                          since=date.fromisoformat(since) if since else None, now=now,
                          publisher=publisher)


def register_digest_tasks(app: Celery, settings: Settings) -> None:
    """Register the sweep and the per-scope task on `app` (both on the digest queue)."""
    contexts: dict[str, DigestContext] = {}

    def context() -> DigestContext:
        if "digest" not in contexts:
            contexts["digest"] = build_digest_context(settings)
        return contexts["digest"]

    @app.task(name=DIGEST_SWEEP_TASK)  # type: ignore[untyped-decorator]
    def weekly_digests_task() -> list[str]:
        since, scopes = weekly_scopes(context())
        for scope in scopes:
            app.send_task(DIGEST_TASK, kwargs={"scope": scope, "since": since},
                          queue=QUEUE_DIGEST)
        log.info("weekly digests enqueued", extra={"since": since, "scopes": len(scopes)})
        return scopes

    @app.task(  # type: ignore[untyped-decorator]
        name=DIGEST_TASK, autoretry_for=(TransientError,), retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX_S, retry_jitter=True)
    def send_digest_task(*, scope: str, since: str | None = None) -> int:
        return send_digest(context(), scope=scope, since=since).digest_id
