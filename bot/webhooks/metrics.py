"""`GET /metrics`: the Prometheus text exposition of the API process (plus queue depth).

Not authenticated, like `/healthz`: expose it on the cluster network only (the Kubernetes
Service is internal; the ingress routes `/webhooks/*` alone).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from bot.metrics_export import render


def metrics_router(collectors: Sequence[Collector] = ()) -> APIRouter:
    """The route; `collectors` are read at scrape time (e.g. the queue-depth probe)."""
    router = APIRouter()
    extra = tuple(collectors)

    @router.get("/metrics")
    async def metrics() -> Response:
        body, content_type = await run_in_threadpool(render, extra)
        return Response(content=body, media_type=content_type)

    return router
