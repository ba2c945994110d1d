"""The weekly digest on the queue: beat's schedule in the configured zone, the task bodies,
and (slow) a real worker running a digest published to Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from celery.beat import ScheduleEntry
from celery.schedules import crontab
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory
from bot.history.models import Digest
from bot.settings import Settings
from bot.webhooks.queueing import DIGEST_TASK, QUEUE_DIGEST, celery_producer
from taskqueue.app import create_celery_app
from taskqueue.digest import DIGEST_SWEEP_TASK, DigestContext, send_digest, weekly_scopes
from tests.conftest import REPO_ROOT
from tests.digest.conftest import ChatReceiver, chat, digest_settings  # noqa: F401

BERLIN = ZoneInfo("Europe/Berlin")
# Its own Redis database: other tests flush theirs.
REDIS_URL = os.environ.get("REVIEWBOT_TEST_DIGEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def beat_entry(settings: Settings) -> ScheduleEntry:
    app = create_celery_app(settings)
    conf = app.conf.beat_schedule["weekly-digest"]
    return ScheduleEntry("weekly-digest", conf["task"], schedule=conf["schedule"],
                         options=conf["options"], app=app)


def test_beat_runs_the_sweep_weekly_at_the_configured_local_time() -> None:
    settings = Settings(database_url="sqlite://", digest_day="fri", digest_hour=17,
                        digest_timezone="Europe/Berlin")
    entry = beat_entry(settings)
    assert (entry.task, entry.options) == (DIGEST_SWEEP_TASK, {"queue": QUEUE_DIGEST})
    schedule = entry.schedule
    assert isinstance(schedule, crontab)
    last = datetime(2026, 10, 23, 15, 0, 5, tzinfo=UTC)  # Friday 17:00 CEST
    # A week later Berlin is on CET (DST ended 25 Oct): 17:00 local is 16:00 UTC.
    schedule.nowfun = lambda: datetime(2026, 10, 30, 15, 30, tzinfo=UTC)
    due, _ = schedule.is_due(last)
    assert not due
    schedule.nowfun = lambda: datetime(2026, 10, 30, 16, 0, 20, tzinfo=UTC)
    due, _ = schedule.is_due(last)
    assert due
    last_local, delta, _ = schedule.remaining_delta(last)
    assert last_local + delta == datetime(2026, 10, 30, 17, 0, tzinfo=BERLIN)


def test_the_default_schedule_is_monday_morning_utc() -> None:
    schedule = beat_entry(Settings(database_url="sqlite://")).schedule
    schedule.nowfun = lambda: datetime(2026, 10, 12, 8, 0, 30, tzinfo=UTC)  # Monday 08:00
    assert schedule.is_due(datetime(2026, 10, 5, 8, 0, 1, tzinfo=UTC))[0]
    schedule.nowfun = lambda: datetime(2026, 10, 13, 8, 0, 30, tzinfo=UTC)  # Tuesday
    assert not schedule.is_due(datetime(2026, 10, 12, 8, 0, 1, tzinfo=UTC))[0]


@pytest.fixture
def sessions(seeded_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(seeded_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.mark.postgres
def test_sweep_lists_the_active_repositories_then_their_organisations(
        seeded_url: str, sessions: sessionmaker[Session]) -> None:
    context = DigestContext(digest_settings(seeded_url), sessions)
    since, scopes = weekly_scopes(context, now=datetime(2026, 10, 12, 8, tzinfo=UTC))
    assert since == "2026-10-05"
    assert scopes == ["acme/gadgets", "acme/widgets", "other/thing", "acme", "other"]
    _, later = weekly_scopes(context, now=datetime(2026, 11, 30, 8, tzinfo=UTC))
    assert later == []  # nothing reviewed in the four weeks before


@pytest.mark.postgres
def test_the_task_body_stores_and_posts_one_scope(
        seeded_url: str, sessions: sessionmaker[Session], chat: ChatReceiver) -> None:  # noqa: F811
    settings = digest_settings(seeded_url, digest_chat_webhook_url=SecretStr(chat.url))
    result = send_digest(DigestContext(settings, sessions), scope="acme/gadgets",
                         since="2026-10-05", now=datetime(2026, 10, 12, 8, tzinfo=UTC))
    assert result.week == "2026-W41"
    assert result.issue is None  # no GitHub App configured: stored and sent to chat only
    assert result.data.figure("reviews").current == 1
    assert chat.received[0]["text"].startswith("reviewbot weekly digest: acme/gadgets 2026-W41")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_runs_a_published_digest(
        seeded_url: str, sessions: sessionmaker[Session], chat: ChatReceiver) -> None:  # noqa: F811
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(QUEUE_DIGEST)
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": seeded_url, "REVIEWBOT_BROKER_URL": REDIS_URL,
           "REVIEWBOT_DIGEST_CHAT_WEBHOOK_URL": chat.url, "REVIEWBOT_DIGEST_TO_ISSUE": "false"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "taskqueue.worker", "worker", "--pool", "solo", "--queues",
         QUEUE_DIGEST, "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle",
         "--without-gossip"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        producer = celery_producer(Settings(database_url="sqlite://", broker_url=REDIS_URL))
        producer.send_task(DIGEST_TASK, kwargs={"scope": "acme", "since": "2026-10-05"},
                           queue=QUEUE_DIGEST)
        deadline = time.monotonic() + 30
        stored: list[Digest] = []
        while time.monotonic() < deadline and not (stored and chat.received):
            time.sleep(0.3)
            with sessions() as session:
                stored = session.query(Digest).filter_by(scope="acme").all()
        assert [d.period_start.date().isoformat() for d in stored] == ["2026-10-05"]
        assert chat.received[0]["text"].startswith("reviewbot weekly digest: acme 2026-W41")
    finally:
        worker.terminate()
        output = worker.communicate(timeout=15)[0]
        client.delete(QUEUE_DIGEST)
        client.close()
    assert b"Traceback" not in output, output.decode(errors="replace")
