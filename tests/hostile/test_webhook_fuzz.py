"""The webhook edge under fuzzed requests: real app, real Postgres, real Redis producer.

Whatever arrives (wrong, missing or forged signatures, truncated, deep, binary or unicode
bodies, odd headers and content types), the edge never answers 5xx, and nothing is
recorded or enqueued unless the request was authentic.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from bot.webhooks.signature import github_signature
from tests.conftest import FIXTURES
from tests.hostile.conftest import HOSTILE_REDIS_URL, QueueProbe, delivery_count

GITHUB_SECRET = "fuzz-github-webhook-secret-7f3a9c"
GITLAB_SECRET = "fuzz-gitlab-webhook-token-b81e22"
MAX_BYTES = 64 * 1024

pytestmark = [pytest.mark.postgres, pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning")]

GITHUB_SAMPLES = [
    (path.parent.name, path.read_bytes())
    for path in sorted((FIXTURES / "github").glob("*/*.json"))
]
GITLAB_SAMPLES = [path.read_bytes() for path in sorted((FIXTURES / "gitlab").glob("*.json"))]
GITLAB_EVENTS = ["Merge Request Hook", "Note Hook", "Push Hook", "System Hook"]

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])


def _settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, broker_url=HOSTILE_REDIS_URL,
                    github_webhook_secret=SecretStr(GITHUB_SECRET),
                    gitlab_webhook_secret=SecretStr(GITLAB_SECRET),
                    gitlab_bot_username="reviewbot", webhook_max_bytes=MAX_BYTES)


@pytest.fixture
def edge(pg_sessions: sessionmaker[Session], pg_url: str,
         queue_probe: QueueProbe) -> Iterator[TestClient]:
    settings_ = _settings(pg_url)
    app: FastAPI = create_app(settings_, sessions=pg_sessions,
                              job_queue=CeleryJobQueue(celery_producer(settings_)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# --- strategies -------------------------------------------------------------------------

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    exclude_characters="\x7f"), max_size=300)
json_leaf = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
             | st.text(max_size=40))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                          max_leaves=12)


def _leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaf_paths(v, (*prefix, k))] or [prefix]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaf_paths(v, (*prefix, i))] or [prefix]
    return [prefix]


def _set_path(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _set_path(node[path[0]], path[1:], value)
    return node


@st.composite
def mutated_payload(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    """A real payload with a few fields (any depth) replaced by arbitrary JSON, unicode mostly."""
    payload = json.loads(draw(st.sampled_from(samples)))
    paths = _leaf_paths(payload)
    seed = draw(st.integers(0, 2**32 - 1))
    for path in random.Random(seed).sample(paths, k=min(len(paths), draw(st.integers(1, 6)))):
        payload = _set_path(payload, path, draw(json_value))
    return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def truncated(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    sample = draw(st.sampled_from(samples))
    return sample[: draw(st.integers(0, len(sample) - 1))]


@st.composite
def deep_json(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(500, 30_000))
    if draw(st.booleans()):
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def bodies(samples: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated_payload(samples), truncated(samples), deep_json(),
        st.binary(max_size=512),
        json_value.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
        st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.sampled_from(samples),
    )


content_types = st.one_of(st.sampled_from([
    "application/json", "application/x-www-form-urlencoded", "text/plain", "",
    "multipart/form-data; boundary=xyz", "application/json; charset=utf-16"]), header_text)


def _latin1(value: str) -> bytes:
    return value.encode("latin-1")


# --- GitHub -----------------------------------------------------------------------------

@st.composite
def github_request(draw: st.DrawFn) -> tuple[dict[str, bytes], bytes, bool]:
    event, _ = draw(st.sampled_from(GITHUB_SAMPLES))
    body = draw(bodies([sample for _, sample in GITHUB_SAMPLES]))
    headers: dict[str, bytes] = {}
    event_header = draw(st.one_of(st.just(event), header_text, st.none()))
    if event_header is not None:
        headers["X-GitHub-Event"] = _latin1(event_header)
    delivery = draw(st.one_of(st.just(str(uuid.uuid4())), header_text, st.none()))
    if delivery is not None:
        headers["X-GitHub-Delivery"] = _latin1(delivery)
    headers["Content-Type"] = _latin1(draw(content_types))
    mode = draw(st.sampled_from(["valid", "missing", "garbage", "other_secret",
                                 "other_body", "sha1", "uppercase"]))
    signature = {
        "valid": github_signature(GITHUB_SECRET, body),
        "garbage": draw(header_text),
        "other_secret": github_signature(GITHUB_SECRET + "x", body),
        "other_body": github_signature(GITHUB_SECRET, body + b" "),
        "sha1": "sha1=" + github_signature(GITHUB_SECRET, body)[7:47],
        "uppercase": github_signature(GITHUB_SECRET, body).upper(),
    }.get(mode)
    if signature is not None:
        headers["X-Hub-Signature-256"] = _latin1(signature)
    return headers, body, mode == "valid"


def assert_edge_answer(edge: TestClient, path: str, secret: str,
                       request: tuple[dict[str, bytes], bytes, bool],
                       pg_sessions: sessionmaker[Session], queue_probe: QueueProbe) -> None:
    """Never a 5xx or the secret echoed; a forged request records and enqueues nothing; an
    authentic one enqueues only when answered 202 and records only when accepted or seen."""
    headers, body, authentic = request
    rows, queued = delivery_count(pg_sessions), queue_probe.total()

    response = edge.post(path, content=body, headers=headers)

    event(f"{'authentic' if authentic else 'forged'} -> {response.status_code}")
    assert response.status_code < 500, response.text
    assert secret not in response.text
    new_rows, new_jobs = delivery_count(pg_sessions) - rows, queue_probe.total() - queued
    if not authentic:
        assert response.status_code in {401, 413}
        assert (new_rows, new_jobs) == (0, 0)
    else:
        assert response.status_code in {200, 202, 204, 400, 413}, response.text
        if response.status_code != 202:
            assert new_jobs == 0
        if response.status_code in {204, 400, 413}:
            assert new_rows == 0


@FUZZ
@given(request=github_request())
def test_github_edge_never_fails_and_never_enqueues_an_unsigned_request(
        edge: TestClient, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe,
        request: tuple[dict[str, bytes], bytes, bool]) -> None:
    assert_edge_answer(edge, "/webhooks/github", GITHUB_SECRET, request, pg_sessions,
                       queue_probe)


# --- GitLab -----------------------------------------------------------------------------

@st.composite
def gitlab_request(draw: st.DrawFn) -> tuple[dict[str, bytes], bytes, bool]:
    body = draw(bodies(GITLAB_SAMPLES))
    headers: dict[str, bytes] = {"Content-Type": _latin1(draw(content_types))}
    event = draw(st.one_of(st.sampled_from(GITLAB_EVENTS), header_text, st.none()))
    if event is not None:
        headers["X-Gitlab-Event"] = _latin1(event)
    key = draw(st.one_of(st.just(str(uuid.uuid4())), header_text, st.none()))
    if key is not None:
        headers["Idempotency-Key"] = _latin1(key)
    mode = draw(st.sampled_from(["valid", "missing", "garbage", "prefix", "padded"]))
    token = {"valid": GITLAB_SECRET, "garbage": draw(header_text),
             "prefix": GITLAB_SECRET[:-1], "padded": GITLAB_SECRET + " "}.get(mode)
    if token is not None:
        headers["X-Gitlab-Token"] = _latin1(token)
    return headers, body, mode == "valid"


@FUZZ
@given(request=gitlab_request())
def test_gitlab_edge_never_fails_and_never_enqueues_without_the_token(
        edge: TestClient, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe,
        request: tuple[dict[str, bytes], bytes, bool]) -> None:
    assert_edge_answer(edge, "/webhooks/gitlab", GITLAB_SECRET, request, pg_sessions,
                       queue_probe)


# --- sizes and shapes, deterministic --------------------------------------------------------

def _signed(body: bytes, event: str = "pull_request") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(GITHUB_SECRET, body),
            "Content-Type": "application/json"}


def test_a_huge_signed_body_is_refused_413_with_or_without_content_length(
        edge: TestClient, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe) -> None:
    opened = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_bytes())
    opened["pull_request"]["body"] = "🙂" * MAX_BYTES
    huge = json.dumps(opened, ensure_ascii=False).encode()

    declared = edge.post("/webhooks/github", content=huge, headers=_signed(huge))
    streamed = edge.post("/webhooks/github", content=iter([huge[:1000], huge[1000:]]),
                         headers=_signed(huge))

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert (delivery_count(pg_sessions), queue_probe.total()) == (0, 0)


@pytest.mark.parametrize("body", [b"[" * 30_000 + b"]" * 30_000,
                                  b'{"a":' * 9_000 + b"1" + b"}" * 9_000])
def test_signed_but_absurdly_deep_json_is_a_400_not_a_crash(
        edge: TestClient, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe,
        body: bytes) -> None:
    github = edge.post("/webhooks/github", content=body, headers=_signed(body))
    gitlab = edge.post("/webhooks/gitlab", content=body, headers={
        "X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": GITLAB_SECRET})

    assert (github.status_code, gitlab.status_code) == (400, 400)
    assert (delivery_count(pg_sessions), queue_probe.total()) == (0, 0)


def test_signed_delivery_with_overlong_headers_and_nul_bytes_is_refused_not_a_503(
        edge: TestClient, pg_sessions: sessionmaker[Session], queue_probe: QueueProbe) -> None:
    opened = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_bytes())
    opened["repository"]["full_name"] = "evil/\u0000repo"
    nul = json.dumps(opened).encode()
    plain = (FIXTURES / "github/pull_request/opened.payload.json").read_bytes()
    long_id = {**_signed(plain), "X-GitHub-Delivery": "d" * 400}

    responses = [edge.post("/webhooks/github", content=plain, headers=long_id),
                 edge.post("/webhooks/github", content=nul, headers=_signed(nul))]

    assert [r.status_code for r in responses] == [400, 400]
    assert (delivery_count(pg_sessions), queue_probe.total()) == (0, 0)
