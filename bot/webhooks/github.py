"""`POST /webhooks/github`: size limit, then HMAC signature, then parse, then route.

Nothing in the body is parsed or trusted before `X-Hub-Signature-256` matched the HMAC of
the raw bytes. The dedupe key is `X-GitHub-Delivery`, unchanged on redelivery.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

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
from bot.webhooks.signature import Verdict, verify_github

router = APIRouter()


@router.post("/webhooks/github")
async def receive_github(request: Request) -> Response:
    edge = get_edge(request)
    headers = request.headers
    fields: dict[str, Any] = {
        "forge": Forge.GITHUB.value,
        "delivery_id": header_field(headers.get("x-github-delivery")),
        "event": header_field(headers.get("x-github-event")),
    }
    try:
        body = await read_limited_body(request, edge.max_bytes)
    except BodyTooLarge as exc:
        return refuse(413, "webhook.body_too_large",
                      {**fields, "limit": exc.limit, "declared": exc.declared})
    verdict = verify_github(edge.github_secret, body, headers.get("x-hub-signature-256"))
    if verdict is not Verdict.VALID:
        return refuse(401, verdict.value, fields)
    payload = parse_object(body)
    if payload is None:
        return refuse(400, "webhook.body_unparsable", fields)
    event_name, delivery_id = headers.get("x-github-event"), headers.get("x-github-delivery")
    if not event_name or not delivery_id:
        return refuse(400, "webhook.headers_missing", fields)
    action = payload.get("action")
    action = str(action) if action is not None else None
    repository = payload.get("repository")
    fields.update(action=action,
                  repo=repository.get("full_name") if isinstance(repository, dict) else None)
    event = WebhookEvent(forge=Forge.GITHUB, event=event_name, action=action,
                         delivery_id=delivery_id, payload=payload)
    return await route_and_accept(edge, edge.github, event, body, fields)
