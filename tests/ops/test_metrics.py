"""`/metrics`: the series an operator graphs, produced by real requests and real services.

The webhook edge runs on a migrated SQLite file and a real Redis broker; forge calls go to
the GitHub stand-in, engine calls to the vLLM stand-in. Counters are process-wide, so each
test compares a scrape after the action with one before it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.errors import ForgeRateLimited
from bot.forges.github import GitHubForge
from bot.history.db import make_engine, session_factory, upgrade_database
from bot.metrics import observe_engine_calls, observe_review
from bot.metrics_export import QueueDepthCollector
from bot.webhooks.app import create_app
from bot.webhooks.queueing import QUEUES, CeleryJobQueue, celery_producer
from reviewers.engine.calls import CallRecord, ChatRequest
from reviewers.engine.config import EngineConfig
from reviewers.engine.pool import EnginePool
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.gitbuilder import GitRepo
from tests.ops.conftest import OPS_REDIS_URL, value
from tests.standin.fixtures import StandinFactory
from tests.webhooks.conftest import github_headers, github_payload, make_settings

OPENED = github_payload("pull_request", "opened.payload.json")


@pytest.fixture
async def edge(tmp_path: Path, ops_redis: redis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(database)
    settings = make_settings(database, broker_url=OPS_REDIS_URL)
    engine = make_engine(database)
    app = create_app(settings, sessions=session_factory(engine),
                     job_queue=CeleryJobQueue(celery_producer(settings)),
                     metrics_collectors=[QueueDepthCollector(ops_redis, QUEUES)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://edge") as client:
        yield client
    engine.dispose()


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_deliveries_are_counted_by_event_and_outcome_and_the_queue_depth_shows(
    edge: httpx.AsyncClient,
) -> None:
    before = await scrape(edge)
    delivery = str(uuid.uuid4())
    headers = github_headers("pull_request", OPENED, delivery=delivery)
    assert (await edge.post("/webhooks/github", content=OPENED, headers=headers)).status_code \
        == 202
    assert (await edge.post("/webhooks/github", content=OPENED, headers=headers)).status_code \
        == 200
    forged = github_headers("pull_request", OPENED, secret="not the secret")
    forged["X-GitHub-Event"] = "made-up-event"
    assert (await edge.post("/webhooks/github", content=OPENED, headers=forged)).status_code \
        == 401
    after = await scrape(edge)

    def delta(event: str, outcome: str) -> float:
        labels = {"forge": "github", "event": event, "outcome": outcome}
        return (value(after, "reviewbot_webhook_deliveries_total", **labels)
                - value(before, "reviewbot_webhook_deliveries_total", **labels))

    assert delta("pull_request", "accepted") == 1
    assert delta("pull_request", "duplicate") == 1
    assert delta("unverified", "signature_invalid") == 1
    assert "made-up-event" not in after  # unauthenticated headers never become labels
    assert value(after, "reviewbot_queue_depth", queue="review") == 1
    assert value(after, "reviewbot_queue_depth", queue="interactive") == 0
    assert value(after, "reviewbot_queue_depth_up") == 1


def test_queue_depth_counts_every_priority_list_of_a_queue(ops_redis: redis.Redis) -> None:
    ops_redis.rpush("review", b"a", b"b")
    ops_redis.rpush("review\x06\x169", b"c")  # Celery's list for priority step 9
    ops_redis.rpush("digest", b"d")
    registry = CollectorRegistry()
    registry.register(QueueDepthCollector(ops_redis, QUEUES))
    text = generate_latest(registry).decode()
    assert value(text, "reviewbot_queue_depth", queue="review") == 3
    assert value(text, "reviewbot_queue_depth", queue="digest") == 1
    assert value(text, "reviewbot_queue_depth", queue="interactive") == 0


def test_unreachable_broker_leaves_the_scrape_working(unused_tcp_port: int) -> None:
    client = redis.Redis(port=unused_tcp_port, socket_connect_timeout=1, socket_timeout=1,
                         retry=Retry(NoBackoff(), 0))
    registry = CollectorRegistry()
    registry.register(QueueDepthCollector(client, QUEUES))
    text = generate_latest(registry).decode()
    assert value(text, "reviewbot_queue_depth_up") == 0
    assert "reviewbot_queue_depth{" not in text


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_forge_calls_and_rate_limit_waits_are_counted(
    edge: httpx.AsyncClient, github_standin: GitHubStandin, github_app_key: AppKey,
    git_repo: GitRepo,
) -> None:
    git_repo.commit("base", {"app.py": "x = 1\n"})
    git_repo.branch("feature")
    git_repo.commit("change", {"app.py": "x = 2\n"})
    github_standin.add_repo("acme/widgets", git_repo.root)
    github_standin.add_pull("acme/widgets", 1)
    forge = GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                        write_interval_s=0)
    before = await scrape(edge)
    try:
        forge.get_pull_request("acme/widgets", 1)
        github_standin.rate_limit = ("primary", 120)
        with pytest.raises(ForgeRateLimited):
            forge.post_comment("acme/widgets", 1, "hello")
    finally:
        forge.close()
    after = await scrape(edge)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("reviewbot_forge_api_calls_total", forge="github", outcome="ok") >= 1
    assert delta("reviewbot_forge_api_calls_total", forge="github", outcome="rate_limited") == 1
    assert delta("reviewbot_forge_rate_limit_waits_total", forge="github", kind="retry") == 1
    assert 115 <= delta("reviewbot_forge_rate_limit_wait_seconds_total", forge="github",
                        kind="retry") <= 121


async def test_engine_calls_and_reviews_show_per_replica_and_severity(
    edge: httpx.AsyncClient, vllm_standin: StandinFactory,
) -> None:
    server = vllm_standin(time_scale=0.001)
    pool = EnginePool(EngineConfig(urls=(server.url,), model=server.config.model))
    records: list[CallRecord] = []
    before = await scrape(edge)
    try:
        await pool.chat(ChatRequest(messages=[{"role": "user", "content": "review this"}],
                                    max_tokens=32), affinity_key="acme/widgets",
                        records=records)
    finally:
        await pool.aclose()
    observe_engine_calls(records)
    observe_review(42.0, {"high": 2, "low": 1, "bogus": 5}, forge="github", trigger="opened")
    after = await scrape(edge)
    replica = server.url.removeprefix("http://").rstrip("/")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("reviewbot_engine_tokens_total", replica=replica, kind="prompt") \
        == records[0].prompt_tokens
    assert delta("reviewbot_engine_tokens_total", replica=replica, kind="completion") \
        == records[0].completion_tokens
    assert delta("reviewbot_engine_request_duration_seconds_count", replica=replica,
                 outcome="ok") == 1
    assert delta("reviewbot_findings_posted_total", severity="high") == 2
    assert delta("reviewbot_findings_posted_total", severity="low") == 1
    assert "bogus" not in after
    assert delta("reviewbot_review_duration_seconds_bucket", forge="github",
                 trigger="opened", le="60.0") == 1
    assert delta("reviewbot_review_duration_seconds_bucket", forge="github",
                 trigger="opened", le="30.0") == 0


def test_one_call_records_a_finished_review_outcome() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.metrics import observe_review_outcome
    from reviewers.diff import ReviewDiff
    from reviewers.engine.config import Priority
    from reviewers.findings import Category, Finding, Severity
    from reviewers.pipeline import ReviewOutcome
    from reviewers.testgen.model import KeptTest, TestGenResult

    def finding(severity: Severity) -> Finding:
        return Finding("app.py", 3, 3, severity, Category.BUG, "r", "m", "llm")

    call = CallRecord(request_id="rb-1", affinity_key="acme/app", priority=Priority.REVIEW,
                      schema_name="review", replica="http://gpu-7:8000", outcome="ok",
                      prompt_tokens=1200, cached_tokens=800, completion_tokens=90,
                      queue_s=0.1, total_s=3.5, attempts=1, spilled=False)
    outcome = ReviewOutcome(
        diff=ReviewDiff("a" * 40, "b" * 40),
        findings=[finding(Severity.CRITICAL), finding(Severity.CRITICAL), finding(Severity.LOW)],
        calls=[call],
        tests=TestGenResult(kept=[KeptTest(
            "tests/test_app.py", "def test(): pass\n", ["f"], ["b"], passes=3, runs=3,
            coverage_before=(1, 4), coverage_after=(3, 4), seconds=1.0,
            behaviour_change=False, command="pytest tests/test_app.py")]))
    registry_before = generate_latest().decode()
    now = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    observe_review_outcome(outcome, forge="gitlab", trigger="synchronize",
                           received_at=(now - timedelta(seconds=200)).replace(tzinfo=None),
                           now=lambda: now)
    after = generate_latest().decode()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(registry_before, name, **labels)

    assert delta("reviewbot_findings_posted_total", severity="critical") == 2
    assert delta("reviewbot_findings_posted_total", severity="low") == 1
    assert delta("reviewbot_review_duration_seconds_bucket", forge="gitlab",
                 trigger="synchronize", le="300.0") == 1
    assert delta("reviewbot_review_duration_seconds_bucket", forge="gitlab",
                 trigger="synchronize", le="120.0") == 0
    assert delta("reviewbot_engine_tokens_total", replica="gpu-7:8000", kind="cached") == 800
    assert delta("reviewbot_generated_tests_total", result="kept") == 1
    assert delta("reviewbot_reviews_total", forge="gitlab", outcome="posted") == 1
