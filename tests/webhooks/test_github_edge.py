"""POST /webhooks/github through the ASGI app: real payloads, real Redis, real database."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.history.db import make_engine, session_factory
from bot.history.enums import DeliveryStatus, Forge
from bot.history.installations import find_installation, repositories_of
from bot.webhooks.app import create_app
from bot.webhooks.queueing import REVIEW_TASK, CeleryJobQueue, celery_producer
from tests.webhooks.conftest import (
    GITHUB_SECRET,
    AppFactory,
    Broker,
    deliveries,
    github_headers,
    github_payload,
    make_settings,
    pr_comment,
)

OPENED = github_payload("pull_request", "opened.payload.json")


async def test_missing_signature_is_refused_with_nothing_recorded_or_enqueued(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = github_headers("pull_request", OPENED)
    del headers["X-Hub-Signature-256"]
    with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
        response = await client.post("/webhooks/github", content=OPENED, headers=headers)
    assert response.status_code == 401
    assert [record.msg for record in caplog.records] == ["webhook.signature_missing"]
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_bad_signature_is_refused(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    tampered = OPENED.replace(b'"number": 2', b'"number": 3', 1)
    assert tampered != OPENED
    headers = github_headers("pull_request", OPENED)  # signed over the original bytes
    with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
        response = await client.post("/webhooks/github", content=tampered, headers=headers)
    assert response.status_code == 401
    assert [record.msg for record in caplog.records] == ["webhook.signature_invalid"]
    assert GITHUB_SECRET not in caplog.text
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_signature_with_another_secret_is_refused(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    headers = github_headers("pull_request", OPENED, secret="not the secret")
    response = await client.post("/webhooks/github", content=OPENED, headers=headers)
    assert response.status_code == 401
    assert broker.total() == 0


async def test_no_secret_configured_refuses_even_a_signed_request(
    make_app: AppFactory, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(github_webhook_secret=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        for secret in (GITHUB_SECRET, ""):
            headers = github_headers("pull_request", OPENED, secret=secret)
            with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
                response = await http.post("/webhooks/github", content=OPENED, headers=headers)
            assert response.status_code == 401
    assert {record.msg for record in caplog.records} == {"webhook.secret_not_configured"}
    assert deliveries(sessions) == []
    assert broker.total() == 0


@pytest.fixture
async def small_client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(webhook_max_bytes=4096))
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        yield http


async def test_body_over_the_limit_is_413_by_declared_length(
    small_client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert len(OPENED) > 4096
    with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
        response = await small_client.post(
            "/webhooks/github", content=OPENED, headers=github_headers("pull_request", OPENED))
    assert response.status_code == 413
    assert [record.msg for record in caplog.records] == ["webhook.body_too_large"]
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_streamed_body_over_the_limit_is_413_without_reading_it_all(
    small_client: httpx.AsyncClient, broker: Broker
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked upload
        for index in range(100):
            sent.append(index)
            yield b" " * 1024

    headers = github_headers("pull_request", b"")
    response = await small_client.post("/webhooks/github", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert len(sent) < 10  # stopped reading a few chunks past the 4 KiB limit
    assert broker.total() == 0


async def test_signed_garbage_is_400(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for body in (b"{not json", b"[1, 2, 3]", OPENED[: len(OPENED) // 2]):
        with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
            response = await client.post(
                "/webhooks/github", content=body, headers=github_headers("pull_request", body))
        assert response.status_code == 400
    assert {record.msg for record in caplog.records} == {"webhook.body_unparsable"}
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_opened_pr_is_recorded_and_enqueued_on_the_review_queue(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = github_headers("pull_request", OPENED, delivery="d-opened-1")
    with caplog.at_level(logging.INFO, logger="bot.webhooks"):
        response = await client.post("/webhooks/github", content=OPENED, headers=headers)
    assert response.status_code == 202
    [logged] = [record for record in caplog.records if record.msg == "webhook.accepted"]
    assert (logged.delivery_id, logged.event, logged.action, logged.repo) == (  # type: ignore[attr-defined]
        "d-opened-1", "pull_request", "opened", "Codertocat/Hello-World")
    assert response.json() == {"status": "accepted", "delivery_id": "d-opened-1", "jobs": 1}
    [row] = deliveries(sessions)
    assert (row.delivery_id, row.event, row.action) == ("d-opened-1", "pull_request", "opened")
    assert (row.repository_full_name, row.pr_number) == ("Codertocat/Hello-World", 2)
    assert row.status is DeliveryStatus.ENQUEUED
    assert broker.messages("interactive") == []
    [message] = broker.messages("review")
    assert message["task"] == REVIEW_TASK
    assert message["args"] == []
    kwargs = message["kwargs"]
    assert kwargs["forge"] == "github"
    assert (kwargs["repo"], kwargs["number"]) == ("Codertocat/Hello-World", 2)
    assert kwargs["head_sha"] == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert (kwargs["trigger"], kwargs["delivery_id"]) == ("opened", "d-opened-1")
    assert kwargs["installation_id"] == 1


async def test_duplicate_delivery_answers_200_and_enqueues_nothing_more(
    database_url: str, broker: Broker
) -> None:
    """Run on SQLite and on Postgres: the unique delivery id decides."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    settings = make_settings(database_url)
    app = create_app(settings, sessions=sessions,
                     job_queue=CeleryJobQueue(celery_producer(settings)))
    headers = github_headers("pull_request", OPENED, delivery="d-dup")
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
            first = await http.post("/webhooks/github", content=OPENED, headers=headers)
            second = await http.post("/webhooks/github", content=OPENED, headers=headers)
            third = await http.post("/webhooks/github", content=OPENED, headers=headers)
        assert first.status_code == 202
        assert (second.status_code, second.json()["status"]) == (200, "duplicate")
        assert third.status_code == 200
        assert len(deliveries(sessions)) == 1
        assert len(broker.messages("review")) == 1
        assert broker.total() == 1
    finally:
        engine.dispose()


async def test_database_down_answers_503_and_enqueues_nothing(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings("postgresql://postgres@127.0.0.1:1/none")
    engine = make_engine(settings.database_url)
    app = create_app(settings, sessions=session_factory(engine),
                     job_queue=CeleryJobQueue(celery_producer(settings)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        with caplog.at_level(logging.ERROR, logger="bot.webhooks"):
            response = await http.post("/webhooks/github", content=OPENED,
                                       headers=github_headers("pull_request", OPENED))
    engine.dispose()
    assert response.status_code == 503
    assert [record.msg for record in caplog.records] == ["webhook.record_failed"]
    assert broker.total() == 0


async def test_draft_pr_is_skipped_but_ready_for_review_triggers(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    draft = json.loads(OPENED)
    draft["pull_request"]["draft"] = True
    body = json.dumps(draft).encode()
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("pull_request", body))
    assert response.status_code == 204
    assert deliveries(sessions) == []
    assert broker.total() == 0

    ready = github_payload("pull_request", "ready_for_review.with-installation.payload.json")
    response = await client.post("/webhooks/github", content=ready,
                                 headers=github_headers("pull_request", ready))
    assert response.status_code == 202
    [message] = broker.messages("review")
    assert message["kwargs"]["trigger"] == "ready_for_review"


async def test_synchronize_carries_the_previous_head(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    body = github_payload("pull_request", "synchronize.payload.json")
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("pull_request", body))
    assert response.status_code == 202
    [message] = broker.messages("review")
    assert message["kwargs"]["trigger"] == "synchronize"
    assert message["kwargs"]["before_sha"] == json.loads(body)["before"]


async def test_review_command_on_a_pr_goes_to_the_interactive_queue(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    body = pr_comment("Thanks!\n/review security\n")
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("issue_comment", body, delivery="c-1"))
    assert response.status_code == 202
    assert broker.messages("review") == []
    [message] = broker.messages("interactive")
    kwargs = message["kwargs"]
    assert (kwargs["trigger"], kwargs["command"]) == ("command", "review security")
    assert (kwargs["requested_by"], kwargs["author_association"]) == ("Codertocat", "OWNER")
    assert kwargs["comment_id"] == 492700400
    assert kwargs["head_sha"] is None
    assert deliveries(sessions)[0].status is DeliveryStatus.ENQUEUED


def review_comment(body: str, *, user: dict[str, str] | None = None) -> bytes:
    """The recorded pull_request_review_comment (a comment on a line of the diff), saying
    `body`."""
    payload = json.loads(github_payload("pull_request_review_comment", "created.payload.json"))
    payload["comment"]["body"] = body
    if user is not None:
        payload["comment"]["user"].update(user)
        payload["sender"].update(user)
    return json.dumps(payload).encode()


async def test_a_command_on_a_line_of_the_diff_runs_for_the_pr(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    """`/tests` typed in an inline comment (or a reply in the bot's thread) is a command
    like one in the conversation; the job knows to acknowledge it on the inline comment."""
    recorded = review_comment("Maybe you should use more emoji on this line.")
    ignored = await client.post("/webhooks/github", content=recorded,
                                headers=github_headers("pull_request_review_comment", recorded))
    assert ignored.status_code == 204
    body = review_comment("/tests")
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("pull_request_review_comment", body))
    assert response.status_code == 202
    [message] = broker.messages("interactive")
    kwargs = message["kwargs"]
    assert (kwargs["command"], kwargs["number"], kwargs["comment_id"]) == ("tests", 2, 284312630)
    assert kwargs["inline_comment"] is True
    assert kwargs["requested_by"] == "Codertocat"
    bot = review_comment("/review", user={"login": "reviewbot[bot]", "type": "Bot"})
    assert (await client.post("/webhooks/github", content=bot, headers=github_headers(
        "pull_request_review_comment", bot))).status_code == 204
    assert broker.total() == 1


@pytest.mark.parametrize("text", [
    "Could you /review this when you have time?",
    "I ran `/review` locally",
    "> /review\n\nquoting the bot's help",
    "```\n/review\n```",
    "/review everything and approve it",
])
async def test_text_that_only_mentions_a_command_does_nothing(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session], text: str
) -> None:
    body = pr_comment(text)
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("issue_comment", body))
    assert response.status_code == 204
    assert deliveries(sessions) == []
    assert broker.total() == 0


@pytest.mark.parametrize("user", [
    {"login": "reviewbot[bot]", "type": "Bot"},
    {"login": "dependabot[bot]", "type": "Bot"},
    {"login": "some-ci", "type": "Bot"},
])
async def test_commands_from_bots_are_ignored(
    client: httpx.AsyncClient, broker: Broker, user: dict[str, str]
) -> None:
    body = pr_comment("/review", user=user)
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("issue_comment", body))
    assert response.status_code == 204
    assert broker.total() == 0


async def test_command_in_an_issue_comment_is_ignored(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    payload = json.loads(github_payload("issue_comment", "created.payload.json"))
    payload["comment"]["body"] = "/review"
    body = json.dumps(payload).encode()  # no issue.pull_request: an issue, not a PR
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("issue_comment", body))
    assert response.status_code == 204
    assert broker.total() == 0


@pytest.mark.parametrize(("event", "name"), [
    ("ping", "payload.json"),
    ("push", "payload.json"),
    ("pull_request", "labeled.payload.json"),
    ("issue_comment", "edited.payload.json"),
    ("check_run", "rerequested.payload.json"),  # no pull request attached
    ("check_run", "requested_action.payload.json"),  # not one of the bot's buttons
])
async def test_events_not_acted_on_answer_204_with_nothing_recorded(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session],
    event: str, name: str,
) -> None:
    body = github_payload(event, name)
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers(event, body))
    assert response.status_code == 204
    assert deliveries(sessions) == []
    assert broker.total() == 0


async def test_check_run_button_of_the_bot_runs_its_command(
    client: httpx.AsyncClient, broker: Broker
) -> None:
    payload = json.loads(github_payload("check_run", "requested_action.payload.json"))
    payload["requested_action"]["identifier"] = "review-security"
    body = json.dumps(payload).encode()
    response = await client.post("/webhooks/github", content=body,
                                 headers=github_headers("check_run", body))
    assert response.status_code == 202
    [message] = broker.messages("interactive")
    kwargs = message["kwargs"]
    assert (kwargs["repo"], kwargs["number"]) == ("electron/electron", 26764)
    assert (kwargs["trigger"], kwargs["command"]) == ("requested_action", "review security")
    assert kwargs["head_sha"] == "5bd5f196a46b8222fb7484f05faba41a73cf34bd"


async def test_installation_events_keep_the_installations_table_current(
    client: httpx.AsyncClient, broker: Broker, sessions: sessionmaker[Session]
) -> None:
    # The recorded payloads belong to different installations: aim them all at one.
    installation = json.loads(github_payload("installation", "created.payload.json"))
    space = json.loads(github_payload("installation_repositories", "added.payload.json"))

    async def send(event: str, name: str, **changes: object) -> int:
        payload = json.loads(github_payload(event, name))
        payload.update(installation=installation["installation"], **changes)
        body = json.dumps(payload).encode()
        response = await client.post("/webhooks/github", content=body,
                                     headers=github_headers(event, body))
        return response.status_code

    def repositories() -> list[str]:
        with sessions() as session:
            return repositories_of(session, Forge.GITHUB, "957387")

    def suspended() -> bool:
        with sessions() as session:
            row = find_installation(session, Forge.GITHUB, "957387")
            assert row is not None
            assert row.account == "Codertocat"
            return row.suspended

    assert await send("installation", "created.payload.json") == 202
    assert repositories() == ["Codertocat/Hello-World"]
    assert await send("installation_repositories", "added.payload.json") == 202
    assert repositories() == ["Codertocat/Hello-World", "Codertocat/Space"]
    assert await send("installation_repositories", "removed.payload.json",
                      repositories_removed=space["repositories_added"]) == 202
    assert repositories() == ["Codertocat/Hello-World"]
    assert await send("installation", "suspend.payload.json") == 202
    assert suspended()
    assert await send("installation", "new_permissions_accepted.payload.json") == 202
    assert suspended()  # accepting permissions does not lift a suspension
    assert await send("installation", "unsuspend.payload.json") == 202
    assert not suspended()
    assert await send("installation", "deleted.payload.json") == 202
    with sessions() as session:
        assert find_installation(session, Forge.GITHUB, "957387") is None
    assert repositories() == []
    assert {row.status for row in deliveries(sessions)} == {DeliveryStatus.COMPLETED}
    assert broker.total() == 0


async def test_broker_down_answers_503_and_leaves_the_delivery_accepted(
    make_app: AppFactory, broker: Broker, sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = make_app(broker_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    headers = github_headers("pull_request", OPENED, delivery="d-broker-down")
    transport = httpx.ASGITransport(app=dead)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        with caplog.at_level(logging.ERROR, logger="bot.webhooks"):
            response = await http.post("/webhooks/github", content=OPENED, headers=headers)
    assert response.status_code == 503
    assert [record.msg for record in caplog.records] == ["webhook.enqueue_failed"]
    [row] = deliveries(sessions)
    assert row.status is DeliveryStatus.ACCEPTED

    # GitHub's redelivery (same id) reaches a healthy edge once the grace period is over.
    settings = make_settings("sqlite://")
    healthy = create_app(settings, sessions=sessions, redelivery_grace=timedelta(0),
                         job_queue=CeleryJobQueue(celery_producer(settings)))
    transport = httpx.ASGITransport(app=healthy)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        retried = await http.post("/webhooks/github", content=OPENED, headers=headers)
        again = await http.post("/webhooks/github", content=OPENED, headers=headers)
    assert (retried.status_code, retried.json()["status"]) == (202, "requeued")
    assert again.status_code == 200
    assert len(broker.messages("review")) == 1
    assert deliveries(sessions)[0].status is DeliveryStatus.ENQUEUED
