"""The production app under a real uvicorn server on loopback, as GitHub would reach it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.history.enums import DeliveryStatus
from tests.conftest import REPO_ROOT
from tests.webhooks.conftest import (
    GITHUB_SECRET,
    REDIS_URL,
    Broker,
    deliveries,
    github_headers,
    github_payload,
)

START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(sqlite_url: str, broker: Broker) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "REVIEWBOT_DATABASE_URL": sqlite_url,
        "REVIEWBOT_BROKER_URL": REDIS_URL,
        "REVIEWBOT_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "REVIEWBOT_WEBHOOK_MAX_BYTES": "65536",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bot.webhooks.asgi:build_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"uvicorn did not start: {output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_signed_delivery_over_real_http_is_recorded_enqueued_and_deduplicated(
    server: str, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    body = github_payload("pull_request", "opened.payload.json")
    headers = github_headers("pull_request", body, delivery="real-http-1")
    with httpx.Client(base_url=server, timeout=5) as http:
        started = time.monotonic()
        first = http.post("/webhooks/github", content=body, headers=headers)
        elapsed = time.monotonic() - started
        second = http.post("/webhooks/github", content=body, headers=headers)
        unsigned = http.post("/webhooks/github", content=body,
                             headers={**headers, "X-Hub-Signature-256": "sha256=00"})
        too_big = http.post("/webhooks/github", content=b" " * 70_000,
                            headers=github_headers("pull_request", b" " * 70_000))
    assert first.status_code == 202
    assert elapsed < 2.0  # far inside GitHub's 10 s
    assert second.status_code == 200
    assert unsigned.status_code == 401
    assert too_big.status_code == 413
    [row] = deliveries(sessions)
    assert (row.delivery_id, row.status) == ("real-http-1", DeliveryStatus.ENQUEUED)
    [message] = broker.messages("review")
    assert message["kwargs"]["delivery_id"] == "real-http-1"
    assert broker.total() == 1
