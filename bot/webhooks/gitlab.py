"""`POST /webhooks/gitlab`: the secret token, then size limit, then parse, then route.

GitLab sends the configured secret itself in `X-Gitlab-Token` (no HMAC); it is compared
in constant time before the body is even read. The dedupe key is `Idempotency-Key` (stable
across GitLab's retries), else `X-Gitlab-Event-UUID`, else a hash of the body.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers

from bot.history.enums import Forge
from bot.webhooks.body import BodyTooLarge, read_limited_body
from bot.webhooks.receive import (
    get_edge,
    header_field,
    parse_object,
    refuse,
    route_and_accept,
)
from bot.webhooks.routing import WebhookEvent
from bot.webhooks.signature import Verdict, verify_gitlab

router = APIRouter()


def delivery_key(headers: Headers, body: bytes) -> str:
    """The de-duplication key of a GitLab delivery."""
    for name in ("idempotency-key", "x-gitlab-event-uuid"):
        value = headers.get(name)
        if value:
            return value
    return "sha256:" + hashlib.sha256(body).hexdigest()


@router.post("/webhooks/gitlab")
async def receive_gitlab(request: Request) -> Response:
    edge = get_edge(request)
    headers = request.headers
    fields: dict[str, Any] = {
        "forge": Forge.GITLAB.value,
        "delivery_id": header_field(
            headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")),
        "event": header_field(headers.get("x-gitlab-event")),
    }
    verdict = verify_gitlab(edge.gitlab_secret, headers.get("x-gitlab-token"))
    if verdict is not Verdict.VALID:  # the token is a header: refuse before reading the body
        return refuse(401, verdict.value, fields)
    try:
        body = await read_limited_body(request, edge.max_bytes)
    except BodyTooLarge as exc:
        return refuse(413, "webhook.body_too_large",
                      {**fields, "limit": exc.limit, "declared": exc.declared})
    payload = parse_object(body)
    if payload is None:
        return refuse(400, "webhook.body_unparsable", fields)
    event_name = headers.get("x-gitlab-event")
    if not event_name:
        return refuse(400, "webhook.headers_missing", fields)
    delivery_id = delivery_key(headers, body)
    attributes = payload.get("object_attributes")
    action = attributes.get("action") if isinstance(attributes, dict) else None
    action = str(action) if action is not None else None
    project = payload.get("project")
    fields.update(delivery_id=header_field(delivery_id), action=action,
                  repo=project.get("path_with_namespace") if isinstance(project, dict) else None)
    event = WebhookEvent(forge=Forge.GITLAB, event=event_name, action=action,
                         delivery_id=delivery_id, payload=payload)
    return await route_and_accept(edge, edge.gitlab, event, body, fields)
