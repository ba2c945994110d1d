"""`/metrics` after an end-to-end review: a signed webhook reaches the edge, waits in Redis,
the real job function reviews the PR on the GitHub stand-in with the vLLM stand-in, and
the scrape shows every series the issue lists."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from bot.events.outcomes import ReviewJob
from bot.metrics_export import QueueDepthCollector
from bot.webhooks.app import create_app
from bot.webhooks.queueing import QUEUES, CeleryJobQueue, celery_producer
from tests.jobs.conftest import (  # noqa: F401 - fixtures
    REPO,
    Harness,
    PullRequestRepo,
    github,
    history,
    migrated_sqlite_template,
    pr_repo,
    sessions,
    sqlite_url,
)
from tests.jobs.test_review_job import _script_model
from tests.ops.conftest import OPS_REDIS_URL, value
from tests.standin.fixtures import StandinFactory
from tests.webhooks.conftest import github_headers, github_payload, make_settings

pytestmark = pytest.mark.slow  # two real reviews with the static analyzers: ~30 s


@dataclass
class Scrapes:
    before: str
    queued: str
    after: str
    engine: str

    def delta(self, name: str, **labels: str) -> float:
        return value(self.after, name, **labels) - value(self.before, name, **labels)


def opened_payload(head_sha: str) -> bytes:
    """The recorded `pull_request.opened` delivery, for PR #1 of the stand-in's repository."""
    payload: dict[str, Any] = json.loads(github_payload("pull_request", "opened.payload.json"))
    owner, name = REPO.split("/")
    payload["number"] = payload["pull_request"]["number"] = 1
    payload["repository"].update(full_name=REPO, name=name)
    payload["repository"]["owner"]["login"] = owner
    payload["pull_request"]["head"]["sha"] = head_sha
    payload["pull_request"]["draft"] = False
    return json.dumps(payload).encode()


async def review_end_to_end(harness: Harness, repo: PullRequestRepo, engine_url: str,
                            broker: redis.Redis) -> Scrapes:
    settings = make_settings(harness.sqlite_url, broker_url=OPS_REDIS_URL)
    app = create_app(settings, sessions=harness.sessions,
                     job_queue=CeleryJobQueue(celery_producer(settings)),
                     metrics_collectors=[QueueDepthCollector(broker, QUEUES)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://edge") as edge:
        before = (await edge.get("/metrics")).text
        body = opened_payload(repo.head_sha)
        answer = await edge.post("/webhooks/github", content=body,
                                 headers=github_headers("pull_request", body))
        assert answer.status_code == 202, answer.text
        queued = (await edge.get("/metrics")).text
        raw = broker.lpop("review")  # what a worker would take off the queue
        assert raw is not None
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        job = ReviewJob.from_task_kwargs(kwargs)  # the worker's own event loop: a thread
        result = await asyncio.to_thread(harness.run, job, engine_urls=[engine_url])
        assert result.outcome == "reviewed", result.detail
        after = (await edge.get("/metrics")).text
    return Scrapes(before, queued, after, engine_url.removeprefix("http://").rstrip("/"))


async def test_edge_queue_and_forge_series_after_a_review(
    github: Harness, pr_repo: PullRequestRepo,  # noqa: F811
    vllm_standin: StandinFactory, ops_redis: redis.Redis,
) -> None:
    engine = vllm_standin()
    _script_model(engine)
    scrapes = await review_end_to_end(github, pr_repo, engine.url, ops_redis)
    assert scrapes.delta("reviewbot_webhook_deliveries_total", forge="github",
                         event="pull_request", outcome="accepted") == 1
    assert value(scrapes.queued, "reviewbot_queue_depth", queue="review") == 1
    assert value(scrapes.after, "reviewbot_queue_depth", queue="review") == 0
    assert scrapes.delta("reviewbot_forge_api_calls_total", forge="github", outcome="ok") >= 5


async def test_worker_series_after_a_review(
    github: Harness, pr_repo: PullRequestRepo,  # noqa: F811
    vllm_standin: StandinFactory, ops_redis: redis.Redis,
) -> None:
    engine = vllm_standin()
    _script_model(engine)
    scrapes = await review_end_to_end(github, pr_repo, engine.url, ops_redis)
    assert scrapes.delta("reviewbot_review_duration_seconds_count", forge="github",
                         trigger="opened") == 1
    assert scrapes.delta("reviewbot_reviews_total", forge="github", outcome="posted") == 1
    assert scrapes.delta("reviewbot_findings_posted_total", severity="medium") >= 1
    assert scrapes.delta("reviewbot_engine_tokens_total", replica=scrapes.engine,
                         kind="prompt") > 0
    assert scrapes.delta("reviewbot_engine_request_duration_seconds_count",
                         replica=scrapes.engine, outcome="ok") == 3
