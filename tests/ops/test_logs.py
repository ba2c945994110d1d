"""Structured logs: JSON lines with the delivery/job context, and secrets redacted.

The secrets are real-shaped: a GitHub App private key generated for the test, tokens in the
forges' formats, the configured webhook secrets; the records come from real code paths
(the webhook edge on a real database and broker, an exception traceback, a worker thread).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from bot.history.db import make_engine, session_factory, upgrade_database
from bot.logs import REDACTED, build_handler, log_context, update_log_context
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from tests.forgestandin.fixtures import make_app_key
from tests.ops.conftest import OPS_REDIS_URL
from tests.webhooks.conftest import github_headers, github_payload, make_settings

WEBHOOK_SECRET = "whsec-configured-value-42"
GITLAB_TOKEN = "glpat-AbCdEf0123456789xyz"
INSTALLATION_TOKEN = "ghs_" + "A1b2C3d4E5" * 4
PERSONAL_TOKEN = "ghp_" + "Z9y8X7w6V5" * 4
FINE_GRAINED = "github_pat_" + "11ABCDEFG0" * 6
ENGINE_KEY = "engine-api-key-secret-value"


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO]:
    """A logger writing through the production handler into a buffer."""
    settings = Settings(github_webhook_secret=SecretStr(WEBHOOK_SECRET),
                        gitlab_token=SecretStr(GITLAB_TOKEN),
                        engine_api_key=SecretStr(ENGINE_KEY), log_format="json")
    buffer = io.StringIO()
    logger = logging.getLogger(f"reviewbot.test.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(build_handler(settings, buffer))
    return logger, buffer


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_tokens_keys_auth_headers_and_configured_secrets_are_redacted(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    private_key = make_app_key().private_pem
    logger.info("fetch with %s failed", INSTALLATION_TOKEN)
    logger.warning("request headers", extra={"headers": {
        "Authorization": f"Bearer {PERSONAL_TOKEN}", "PRIVATE-TOKEN": GITLAB_TOKEN,
        "X-Gitlab-Token": WEBHOOK_SECRET}})
    logger.info("clone https://x-access-token:%s@github.com/acme/app.git", FINE_GRAINED)
    logger.info("engine key is %s, header Authorization: Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0",
                ENGINE_KEY)
    try:
        raise ValueError(f"could not load the App key:\n{private_key}")
    except ValueError:
        logger.exception("github.app_key_invalid")
    text = buffer.getvalue()
    for secret in (INSTALLATION_TOKEN, PERSONAL_TOKEN, GITLAB_TOKEN, WEBHOOK_SECRET,
                   FINE_GRAINED, ENGINE_KEY, "eC1hY2Nlc3MtdG9rZW46c2VjcmV0"):
        assert secret not in text
    assert "BEGIN PRIVATE KEY" not in text
    for body_line in private_key.splitlines()[1:-1]:
        assert body_line not in text
    records = lines(buffer)
    assert len(records) == 5  # one JSON object per line, tracebacks included
    assert records[0]["msg"] == f"fetch with {REDACTED} failed"
    assert records[1]["headers"]["Authorization"] == f"Bearer {REDACTED}"
    assert records[1]["headers"]["X-Gitlab-Token"] == REDACTED
    assert "github.com/acme/app.git" in records[2]["msg"]  # the rest of the line survives
    assert records[4]["msg"] == "github.app_key_invalid"
    assert "ValueError" in records[4]["exc"]
    assert REDACTED in records[4]["exc"]


def test_ordinary_text_is_left_alone(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, buffer = captured
    logger.info("review.posted", extra={"findings": 3, "path": "src/token_utils.py",
                                        "note": "Bearer of bad news"})
    (record,) = lines(buffer)
    assert record["findings"] == 3
    assert record["path"] == "src/token_utils.py"
    assert record["note"] == "Bearer of bad news"  # a word, not a credential


async def test_context_is_on_every_line_including_worker_threads(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    logger.info("before")
    with log_context(delivery_id="d-1", repo="acme/app", pr=7):
        logger.info("job.started")
        update_log_context(run_id=31)
        await asyncio.to_thread(logger.info, "in.thread")
        logger.info("job.finished", extra={"pr": 7})
    logger.info("after")
    records = lines(buffer)
    context = [(r["delivery_id"], r["repo"], r["pr"], r["run_id"]) for r in records]
    assert context == [(None, None, None, None), ("d-1", "acme/app", 7, None),
                       ("d-1", "acme/app", 7, 31), ("d-1", "acme/app", 7, 31),
                       (None, None, None, None)]


async def test_webhook_request_lines_carry_the_delivery_repo_and_pr(
    tmp_path: Path, ops_redis: redis.Redis,
) -> None:
    database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(database)
    settings = make_settings(database, broker_url=OPS_REDIS_URL)
    engine = make_engine(database)
    app = create_app(settings, sessions=session_factory(engine),
                     job_queue=CeleryJobQueue(celery_producer(settings)))
    buffer = io.StringIO()
    handler = build_handler(settings, buffer, "json")
    edge_logger = logging.getLogger("bot.webhooks")
    previous = edge_logger.level
    edge_logger.addHandler(handler)
    edge_logger.setLevel(logging.INFO)
    body = github_payload("pull_request", "opened.payload.json")
    delivery = str(uuid.uuid4())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://edge") as client:
            accepted = await client.post("/webhooks/github", content=body,
                                         headers=github_headers("pull_request", body,
                                                                delivery=delivery))
            refused = await client.post("/webhooks/github", content=body, headers={
                **github_headers("pull_request", body), "X-Hub-Signature-256": "sha256=00"})
    finally:
        edge_logger.removeHandler(handler)
        edge_logger.setLevel(previous)
        engine.dispose()
    assert (accepted.status_code, refused.status_code) == (202, 401)
    records = lines(buffer)
    payload = json.loads(body)
    accepted_line = next(r for r in records if r["msg"] == "webhook.accepted")
    assert accepted_line["delivery_id"] == delivery
    assert accepted_line["repo"] == payload["repository"]["full_name"]
    assert accepted_line["pr"] == payload["number"]
    refused_line = next(r for r in records if r["msg"] == "webhook.signature_invalid")
    assert refused_line["delivery_id"] not in (None, delivery)
    assert WEBHOOK_SECRET not in buffer.getvalue()
    assert settings.github_webhook_secret is not None
    assert settings.github_webhook_secret.get_secret_value() not in buffer.getvalue()


def test_every_line_of_a_worker_job_carries_its_delivery_repo_and_pr(tmp_path: Path) -> None:
    from bot.events.outcomes import ReviewJob
    from bot.history.db import session_scope
    from bot.history.deliveries import record_delivery
    from bot.history.enums import Forge, RunTrigger
    from bot.jobs import JobContext
    from taskqueue.tasks import review_pull_request

    database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    upgrade_database(database)
    engine = make_engine(database)
    sessions = session_factory(engine)
    with session_scope(sessions) as session:
        record_delivery(session, Forge.GITHUB, "job-lines-1", "pull_request", "opened")
    settings = make_settings(database)
    buffer = io.StringIO()
    handler = build_handler(settings, buffer, "json")
    jobs_logger = logging.getLogger("bot.jobs")
    previous = jobs_logger.level
    jobs_logger.addHandler(handler)
    jobs_logger.setLevel(logging.INFO)
    job = ReviewJob(forge=Forge.GITHUB, repo="acme/widgets", number=9, head_sha="c" * 40,
                    trigger=RunTrigger.OPENED, delivery_id="job-lines-1", installation_id=1)
    try:  # no GitHub credentials on this worker: the job logs its failure and returns
        review_pull_request(JobContext(settings=settings, sessions=sessions),
                            **job.task_kwargs())
    finally:
        jobs_logger.removeHandler(handler)
        jobs_logger.setLevel(previous)
        engine.dispose()
    records = lines(buffer)
    assert len(records) >= 2
    assert {(r["delivery_id"], r["repo"], r["pr"]) for r in records} == {
        ("job-lines-1", "acme/widgets", 9)}


def test_serve_with_several_workers_logs_json_lines_redacted_in_every_worker(
    tmp_path: Path,
) -> None:
    """`reviewbot serve --workers 2`: the worker processes are fresh interpreters, and
    their records still go out as redacted JSON lines, not through Python's fallback."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}",
           "REVIEWBOT_BROKER_URL": OPS_REDIS_URL, "REVIEWBOT_ENGINE_URLS": "",
           "REVIEWBOT_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET, "REVIEWBOT_LOG_FORMAT": "json"}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = github_payload("pull_request", "opened.payload.json")
        for _ in range(8):  # spread over both workers
            headers = github_headers("pull_request", body, secret="not-the-secret",
                                     delivery=WEBHOOK_SECRET)
            assert httpx.post(f"{base}/webhooks/github", content=body, headers=headers,
                              timeout=10).status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    refusals = [json.loads(line) for line in stderr.splitlines()
                if line.startswith("{") and "webhook.signature_invalid" in line]
    assert len(refusals) == 8, stderr[-2000:]
    assert all(record["level"] == "warning" for record in refusals)
    assert WEBHOOK_SECRET not in stderr  # the secret sent as a delivery id is masked
