"""/healthz and /readyz on the production composition (`build_app`) with real dependencies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from bot.webhooks.asgi import build_app
from tests.webhooks.conftest import Broker, make_settings

EngineStandIn = Callable[[int], str]


@pytest.fixture
def engine_stand_in() -> Iterator[EngineStandIn]:
    """Start a loopback HTTP server whose /health answers the given status; returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int) -> str:
        class Health(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code = status if self.path == "/health" else 404
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_liveness_needs_nothing(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, broker_url="redis://127.0.0.1:1/0")
    with TestClient(build_app(settings)) as http:
        response = http.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_database_broker_and_engine_answer(
    sqlite_url: str, broker: Broker, engine_stand_in: EngineStandIn
) -> None:
    settings = make_settings(sqlite_url, engine_urls=[engine_stand_in(200)])
    with TestClient(build_app(settings)) as http:
        response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {
        "database": {"ok": True}, "broker": {"ok": True}, "engine": {"ok": True}}}


def test_not_ready_reports_each_failing_check(
    sqlite_url: str, engine_stand_in: EngineStandIn
) -> None:
    settings = make_settings(sqlite_url, broker_url="redis://127.0.0.1:1/0",
                             engine_urls=[engine_stand_in(503)])
    with TestClient(build_app(settings)) as http:
        response = http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": False, "error": "QueueUnavailable"}
    assert body["checks"]["engine"] == {"ok": False, "error": "NotReady"}


def test_not_ready_without_a_database_or_an_engine(broker: Broker) -> None:
    settings = make_settings("postgresql://postgres@127.0.0.1:1/none")
    with TestClient(build_app(settings)) as http:
        response = http.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "error": "DatabaseUnavailable"}
    assert checks["broker"] == {"ok": True}
    assert checks["engine"] == {"ok": False, "error": "NotReady"}


def test_a_probe_can_require_only_database_and_broker(
    sqlite_url: str, broker: Broker, engine_stand_in: EngineStandIn
) -> None:
    """The load balancer keeps the edge in service while the GPU fleet is down."""
    settings = make_settings(sqlite_url, engine_urls=[engine_stand_in(503)])
    with TestClient(build_app(settings)) as http:
        strict = http.get("/readyz")
        edge = http.get("/readyz", params={"require": "database,broker"})
    assert strict.status_code == 503
    assert edge.status_code == 200
    assert edge.json()["status"] == "ready"
    assert edge.json()["checks"]["engine"] == {"ok": False, "error": "NotReady"}
