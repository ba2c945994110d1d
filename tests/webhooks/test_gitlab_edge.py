"""POST /webhooks/gitlab through the ASGI app: recorded payloads, real Redis and database."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.history.enums import DeliveryStatus, Forge
from tests.webhooks.conftest import (
    GITLAB_SECRET,
    AppFactory,
    Broker,
    deliveries,
    gitlab_headers,
    gitlab_payload,
)

MR_OPEN = gitlab_payload("merge_request.json")
MR_PUSH = gitlab_payload("service_merge_request.json")  # action update with oldrev
NOTE = gitlab_payload("note_merge_request.json")


def note(text: str, *, username: str = "root") -> bytes:
    payload = json.loads(NOTE)
    payload["object_attributes"]["note"] = text
    payload["user"]["username"] = username
    return json.dumps(payload).encode()


@pytest.mark.parametrize("token", [None, "", "wrong-token", GITLAB_SECRET + " "])
async def test_missing_or_wrong_token_is_401_with_nothing_recorded(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture, token: str | None,
) -> None:
    headers = gitlab_headers("Merge Request Hook", key="k-1")
    if token is None:
        del headers["X-Gitlab-Token"]
    else:
        headers["X-Gitlab-Token"] = token
    with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
        response = await client.post("/webhooks/gitlab", content=MR_OPEN, headers=headers)
    assert response.status_code == 401
    assert caplog.records[0].msg in {"webhook.signature_missing", "webhook.signature_invalid"}
    assert GITLAB_SECRET not in caplog.text
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_opened_mr_is_recorded_and_enqueued(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    response = await client.post("/webhooks/gitlab", content=MR_OPEN,
                                 headers=gitlab_headers("Merge Request Hook", key="k-open"))
    assert response.status_code == 202
    [row] = deliveries(sessions)
    assert (row.forge, row.delivery_id, row.action) == (Forge.GITLAB, "k-open", "open")
    assert row.status is DeliveryStatus.ENQUEUED
    [message] = broker.messages("review")
    kwargs = message["kwargs"]
    assert (kwargs["forge"], kwargs["repo"], kwargs["number"]) == (
        "gitlab", "gitlabhq/gitlab-test", 1)
    assert kwargs["head_sha"] == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (kwargs["trigger"], kwargs["project_id"]) == ("opened", 1)


async def test_idempotency_key_dedupes_retries(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    headers = gitlab_headers("Merge Request Hook", key="k-retry")
    first = await client.post("/webhooks/gitlab", content=MR_PUSH, headers=headers)
    second = await client.post("/webhooks/gitlab", content=MR_PUSH, headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    [message] = broker.messages("review")
    assert message["kwargs"]["trigger"] == "synchronize"
    assert message["kwargs"]["before_sha"] == "6ef047571374c96a2bf13c361efd1fb008b0063e"
    assert len(deliveries(sessions)) == 1


async def test_event_uuid_is_the_key_when_there_is_no_idempotency_key(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    headers = gitlab_headers("Merge Request Hook")
    headers["X-Gitlab-Event-UUID"] = "uuid-1"
    assert (await client.post("/webhooks/gitlab", content=MR_OPEN,
                              headers=headers)).status_code == 202
    assert (await client.post("/webhooks/gitlab", content=MR_OPEN,
                              headers=headers)).status_code == 200
    headers["X-Gitlab-Event-UUID"] = "uuid-2"  # another event with the same content
    assert (await client.post("/webhooks/gitlab", content=MR_OPEN,
                              headers=headers)).status_code == 202
    assert [row.delivery_id for row in deliveries(sessions)] == ["uuid-1", "uuid-2"]
    assert broker.total() == 2


async def test_update_without_new_commits_is_ignored(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    payload = json.loads(MR_PUSH)
    del payload["object_attributes"]["oldrev"]  # a title or label edit
    body = json.dumps(payload).encode()
    response = await client.post("/webhooks/gitlab", content=body,
                                 headers=gitlab_headers("Merge Request Hook", key="k-edit"))
    assert response.status_code == 204
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_note_command_on_an_mr_goes_to_the_interactive_queue(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    response = await client.post("/webhooks/gitlab", content=note("/tests"),
                                 headers=gitlab_headers("Note Hook", key="k-note"))
    assert response.status_code == 202
    [message] = broker.messages("interactive")
    kwargs = message["kwargs"]
    assert (kwargs["command"], kwargs["requested_by"], kwargs["number"]) == ("tests", "root", 1)
    assert kwargs["comment_id"] == 1244
    assert kwargs["head_sha"] == "562e173be03b8ff2efb05345d12df18815438a4b"


@pytest.mark.parametrize(("text", "username"), [
    ("This MR needs work.", "root"),  # the recorded note: no command
    ("please /review", "root"),
    ("/review", "reviewbot"),  # the bot itself
    ("/review", "project_278964_bot6"),  # a project access token's bot user
    ("/review", "group_42_bot_0a1b2c3d"),
])
async def test_notes_that_are_not_commands_from_people_do_nothing(
    client: httpx.AsyncClient, broker: Broker, text: str, username: str
) -> None:
    response = await client.post("/webhooks/gitlab", content=note(text, username=username),
                                 headers=gitlab_headers("Note Hook"))
    assert response.status_code == 204
    assert broker.total() == 0


async def test_note_on_an_issue_is_ignored(client: httpx.AsyncClient, broker: Broker) -> None:
    payload = json.loads(gitlab_payload("note_issue.json"))
    payload["object_attributes"]["note"] = "/review"
    response = await client.post("/webhooks/gitlab", content=json.dumps(payload).encode(),
                                 headers=gitlab_headers("Note Hook"))
    assert response.status_code == 204
    assert broker.total() == 0


async def test_oversized_body_is_413_and_unparsable_is_400(
    make_app: AppFactory, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    transport = httpx.ASGITransport(app=make_app(webhook_max_bytes=1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        too_big = await http.post("/webhooks/gitlab", content=MR_OPEN,
                                  headers=gitlab_headers("Merge Request Hook"))
        garbage = await http.post("/webhooks/gitlab", content=b"{oops",
                                  headers=gitlab_headers("Merge Request Hook"))
        unauthenticated_big = await http.post(
            "/webhooks/gitlab", content=MR_OPEN,
            headers=gitlab_headers("Merge Request Hook", token="wrong"))
    assert (too_big.status_code, garbage.status_code) == (413, 400)
    assert unauthenticated_big.status_code == 401  # the token is checked first
    assert deliveries(sessions) == []
    assert broker.total() == 0
