"""What both receivers share: their collaborators, the refusals, and route-then-accept.

Status codes (each with its own log key):
  413 body over the limit · 401 secret not configured / signature or token missing or
  wrong · 400 headers missing, body not a JSON object, payload not the documented shape ·
  204 authentic but nothing to do (event or action not handled; nothing recorded) ·
  202 recorded and enqueued · 200 a delivery id seen before (nothing enqueued) ·
  503 database or broker unavailable, or the server shutting down (the forge shows the
  failure and can redeliver).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from bot.errors import HistoryError
from bot.events.outcomes import Outcome, ReviewJob
from bot.logs import update_log_context
from bot.metrics import observe_webhook
from bot.webhooks.batcher import BatchingIntake, IntakeClosed
from bot.webhooks.intake import Delivery, IntakeStatus
from bot.webhooks.queueing import QueueUnavailable
from bot.webhooks.routing import HandlerContext, Router, WebhookEvent

log = logging.getLogger("bot.webhooks")

MAX_LOGGED_HEADER = 128


@dataclass(frozen=True)
class Edge:
    """The receivers' collaborators, built once by `create_app`."""

    intake: BatchingIntake
    github: Router[Outcome]
    gitlab: Router[Outcome]
    context: HandlerContext
    github_secret: str | None
    gitlab_secret: str | None
    max_bytes: int


def get_edge(request: Request) -> Edge:
    """The app's edge (read directly: a FastAPI dependency would cost a thread hop)."""
    edge: Edge = request.app.state.edge
    return edge


def header_field(value: str | None) -> str | None:
    """An unauthenticated header value made safe to log: bounded length, printable."""
    if value is None:
        return None
    return value[:MAX_LOGGED_HEADER].encode("ascii", "replace").decode("ascii")


def count(fields: dict[str, Any], outcome: str, *, authenticated: bool = True) -> None:
    """Count the delivery; the event of an unauthenticated request is not a label (anyone
    could send any header and multiply the series)."""
    event = fields.get("event") if authenticated else "unverified"
    observe_webhook(str(fields.get("forge")), event, outcome)


def refuse(status: int, key: str, fields: dict[str, Any]) -> Response:
    """Log the refusal under its own key and answer it; never echoes the request."""
    log.warning(key, extra=fields)
    count(fields, key.removeprefix("webhook."), authenticated=status not in (401, 413))
    return JSONResponse({"error": key.removeprefix("webhook.")}, status_code=status)


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: not a webhook
        return None
    return payload if isinstance(payload, dict) else None


# Column sizes of `webhook_deliveries`; Postgres text can hold no NUL character at all.
_STORED_LIMITS = {"delivery_id": 255, "event": 64, "action": 64, "repo": 512}


def unstorable_field(event: WebhookEvent, outcomes: list[Outcome]) -> str | None:
    """The first field that the delivery record cannot hold (too long, or with a NUL).

    Such a delivery is malformed input, answered 400: left to the database it would fail
    as a 503 that the forge retries forever.
    """
    values = [("delivery_id", event.delivery_id), ("event", event.event),
              ("action", event.action)]
    values += [("repo", job.repo) for job in outcomes if isinstance(job, ReviewJob)]
    for name, value in values:
        if value is not None and (len(value) > _STORED_LIMITS[name] or "\0" in value):
            return name
    return None


async def route_and_accept(edge: Edge, router: Router[Outcome], event: WebhookEvent,
                           body: bytes, fields: dict[str, Any]) -> Response:
    """Route the verified event; record and enqueue what the handlers decided."""
    update_log_context(delivery_id=fields.get("delivery_id"), repo=fields.get("repo"))
    if not router.handlers_for(event.event, event.action):
        log.info("webhook.ignored", extra={**fields, "reason": "not_handled"})
        count(fields, "ignored")
        return Response(status_code=204)
    try:
        outcomes = router.dispatch(event, edge.context)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return refuse(400, "webhook.payload_invalid", {**fields, "error_type": type(exc).__name__})
    if not outcomes:
        log.info("webhook.ignored", extra={**fields, "reason": "nothing_to_do"})
        count(fields, "ignored")
        return Response(status_code=204)
    fields["pr"] = next((job.number for job in outcomes if isinstance(job, ReviewJob)), None)
    update_log_context(pr=fields["pr"])
    invalid = unstorable_field(event, outcomes)
    if invalid is not None:
        return refuse(400, "webhook.field_invalid", {**fields, "field": invalid})
    try:
        result = await edge.intake.accept(Delivery(event, outcomes, body))
    except IntakeClosed:
        log.warning("webhook.shutting_down", extra=fields)
        count(fields, "shutting_down")
        return JSONResponse({"error": "shutting_down"}, status_code=503)
    except QueueUnavailable:
        log.error("webhook.enqueue_failed", extra=fields)
        count(fields, "queue_unavailable")
        return JSONResponse({"error": "queue_unavailable"}, status_code=503)
    except HistoryError as exc:
        log.error("webhook.record_failed", extra={**fields, "error_type": type(exc).__name__})
        count(fields, "database_unavailable")
        return JSONResponse({"error": "database_unavailable"}, status_code=503)
    if result.status is IntakeStatus.DUPLICATE:
        log.info("webhook.duplicate", extra=fields)
        count(fields, "duplicate")
        return JSONResponse({"status": "duplicate", "delivery_id": event.delivery_id})
    log.info("webhook.accepted", extra={**fields, "jobs": result.jobs,
                                          "intake": result.status.value})
    count(fields, result.status.value)
    return JSONResponse({"status": result.status.value, "delivery_id": event.delivery_id,
                         "jobs": result.jobs}, status_code=202)
