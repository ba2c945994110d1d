"""Liveness and readiness: `/healthz` says the process answers, `/readyz` probes its deps.

Each readiness check is a named async probe that raises on failure; they run
concurrently, each under a timeout, and the JSON body reports every one (the error is
only the exception's type name: this endpoint is public and must not leak details).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from bot.history.db import translate_errors
from bot.webhooks.queueing import JobQueue
from reviewers.errors import ReviewbotError

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 3.0

Probe = Callable[[], Awaitable[None]]


class NotReady(ReviewbotError):
    """A dependency answered, but not in a usable way."""


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    probe: Probe


def database_check(engine: Engine) -> ReadinessCheck:
    def ping() -> None:
        with translate_errors("readiness"), engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def probe() -> None:
        await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)

    return ReadinessCheck("database", probe)


def broker_check(queue: JobQueue) -> ReadinessCheck:
    async def probe() -> None:
        await anyio.to_thread.run_sync(queue.ping, abandon_on_cancel=True)

    return ReadinessCheck("broker", probe)


def engine_check(check_health: Callable[[], Awaitable[Mapping[str, bool]]] | None
                 ) -> ReadinessCheck:
    """Ready when at least one engine replica answers its health probe."""

    async def probe() -> None:
        if check_health is None:
            raise NotReady("no engine configured")
        replicas = await check_health()
        if not any(replicas.values()):
            raise NotReady("no engine replica is healthy")

    return ReadinessCheck("engine", probe)


async def _run(check: ReadinessCheck, results: dict[str, dict[str, Any]]) -> None:
    try:
        with anyio.fail_after(CHECK_TIMEOUT_S):
            await check.probe()
    except Exception as exc:  # noqa: BLE001 - outermost edge of a probe: report, never raise
        log.warning("readiness.check_failed", extra={"check": check.name,
                                                       "error_type": type(exc).__name__})
        results[check.name] = {"ok": False, "error": type(exc).__name__}
    else:
        results[check.name] = {"ok": True}


def health_router(checks: Sequence[ReadinessCheck]) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(require: str | None = None) -> JSONResponse:
        """Every check runs and is reported; all must pass, or those named in `require`.

        A load balancer's probe uses `?require=database,broker`: the edge still accepts
        webhooks while the GPU fleet is down (the jobs then post a static review with a
        neutral check), while monitoring reads the plain `/readyz`.
        """
        results: dict[str, dict[str, Any]] = {}
        async with anyio.create_task_group() as group:
            for check in checks:
                group.start_soon(_run, check, results)
        wanted = ({name.strip() for name in require.split(",") if name.strip()}
                  if require else set(results))
        ready = all(result["ok"] for name, result in results.items() if name in wanted)
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": results},
                            status_code=200 if ready else 503)

    return router
