"""One vLLM endpoint: its HTTP and OpenAI clients, breaker, load view and error translation."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from reviewers.engine.breaker import CircuitBreaker
from reviewers.engine.budget import TokenBudget
from reviewers.engine.config import EngineConfig
from reviewers.engine.metrics import LoadSnapshot, load_from_metrics
from reviewers.engine.sharing import PrefixSharing
from reviewers.errors import EngineError, PromptTooLong

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
# vLLM 0.32 words: a prompt over the window ("maximum context length"), an answer budget
# over it ("cannot be greater than max_model_len"); older releases said "is too large".
_TOO_LONG_MARKERS = ("maximum context length", "cannot be greater than max_model_len",
                     "too long", "is too large")


class RetryableFailure(Exception):
    """An attempt failed in a way another attempt may fix (503, connection error, timeout)."""

    def __init__(self, reason: str, *, server_unhealthy: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.server_unhealthy = server_unhealthy


@dataclass
class _LoadCache:
    snapshot: LoadSnapshot | None = None
    fetched_at: float = float("-inf")


class Replica:
    """A single server root such as ``http://gpu-3:8000``."""

    def __init__(self, url: str, config: EngineConfig, clock: Callable[[], float]) -> None:
        self.url = url
        self._config = config
        self._clock = clock
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=httpx.AsyncHTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            ),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            headers={
                **config.extra_headers,
                **({"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}),
            },
        )
        # The openai package accepts an `httpx.AsyncClient` (its own annotation names the
        # fork it vendors); its retries are off so that the pool alone decides.
        self.client = AsyncOpenAI(
            base_url=f"{url}/v1",
            api_key=config.api_key or "EMPTY",
            max_retries=0,
            http_client=cast(Any, self.http),
        )
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s, clock)
        self.budget = TokenBudget(config.max_inflight_tokens)
        self.sharing = PrefixSharing()
        self._load = _LoadCache()
        self._load_fetch: asyncio.Future[None] | None = None
        self.overloaded_until = float("-inf")

    # --- load view used by the router -------------------------------------------------
    def backlog(self) -> float:
        """Requests waiting here: the server's queue (cached /metrics) plus our own waiters."""
        if self._clock() < self.overloaded_until:
            return float("inf")
        waiting = self._load.snapshot.waiting if self._load.snapshot else 0.0
        return waiting + self.budget.waiting_requests

    def load_score(self) -> float:
        tokens = self.budget.inflight_tokens + self.budget.waiting_tokens
        waiting = self._load.snapshot.waiting if self._load.snapshot else 0.0
        return tokens / self.budget.limit_tokens + waiting / max(1, self._config.max_waiting)

    async def refresh_load(self) -> None:
        """Keep the /metrics view fresh without putting a scrape in front of every call.

        Within `metrics_ttl_s` the cached view is used as is. Up to `metrics_max_age_s` a
        stale view is still used while a background fetch renews it; older than that (or
        never fetched) the caller waits for the fetch. Single flight: a burst of calls shares
        one fetch, where queueing one by one each would find the view stale again behind it.
        Failures leave the load unknown (counted as zero), never block routing.
        """
        age = self._clock() - self._load.fetched_at
        if age < self._config.metrics_ttl_s:
            return
        if self._load_fetch is None:
            self._load_fetch = asyncio.ensure_future(self._fetch_load())
        if age > self._config.metrics_max_age_s:
            await asyncio.shield(self._load_fetch)

    async def _fetch_load(self) -> None:
        try:
            response = await self.http.get(
                f"{self.url}/metrics", timeout=self._config.probe_timeout_s
            )
            response.raise_for_status()
            self._load.snapshot = load_from_metrics(response.text)
        except httpx.HTTPError as exc:
            log.warning(
                "engine metrics unavailable", extra={"replica": self.url, "err": str(exc)}
            )
            self._load.snapshot = None
        finally:
            self._load.fetched_at = self._clock()
            self._load_fetch = None

    async def probe(self) -> bool:
        """GET /health; updates the breaker and says whether the replica is serving."""
        try:
            response = await self.http.get(
                f"{self.url}/health", timeout=self._config.probe_timeout_s
            )
        except httpx.HTTPError:
            self.breaker.trip()
            return False
        if response.status_code == 200:
            self.breaker.record_success()
            return True
        self.breaker.trip()
        return False

    # --- calls ------------------------------------------------------------------------
    async def create_chat(
        self, body: dict[str, Any], request_id: str, timeout_s: float
    ) -> ChatCompletion:
        """POST /v1/chat/completions once; errors become RetryableFailure or EngineError.

        The body goes out as built through the openai client's `post`, which still parses
        the answer and raises the typed errors translated below; `chat.completions.create`
        would first walk the whole request through its typed-params transform, a cost
        paid per call for nothing (the body already has vLLM's field names).
        The attempt runs under `asyncio.timeout`: on expiry the task is cancelled inside the
        HTTP read, httpcore closes that connection, and vLLM aborts a request whose client
        disconnected, so the server stops working on it before anyone re-submits.
        """
        try:
            async with asyncio.timeout(timeout_s):
                return await self.client.post(
                    "/chat/completions", cast_to=ChatCompletion, body=body,
                    options={"headers": {"X-Request-Id": request_id}},
                )
        except TimeoutError as exc:
            raise RetryableFailure("timeout", server_unhealthy=False) from exc
        except openai.APIConnectionError as exc:
            raise RetryableFailure(f"connection: {exc}", server_unhealthy=True) from exc
        except openai.APIStatusError as exc:
            raise translate_status(exc, self.url) from exc
        except openai.APIError as exc:
            raise EngineError(f"{self.url} sent an unreadable answer: {exc}") from exc

    async def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a small JSON request (tokenize); same error translation as chat."""
        try:
            response = await self.http.post(
                f"{self.url}{path}", json=payload, timeout=self._config.probe_timeout_s * 5
            )
        except httpx.HTTPError as exc:
            raise RetryableFailure(f"connection: {exc}", server_unhealthy=True) from exc
        if response.status_code in RETRYABLE_STATUS:
            raise RetryableFailure(f"status {response.status_code}", server_unhealthy=False)
        if response.status_code != 200:
            raise EngineError(f"{self.url}{path} answered {response.status_code}: {response.text}")
        return cast(dict[str, Any], response.json())

    async def aclose(self) -> None:
        if self._load_fetch is not None:
            self._load_fetch.cancel()
        await self.client.close()
        await self.http.aclose()


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str):
            return message
    return exc.message


def translate_status(exc: openai.APIStatusError, url: str) -> Exception:
    """Map an HTTP error answer to the project's exception (or a retryable failure)."""
    status = exc.status_code
    message = _error_message(exc)
    if status in RETRYABLE_STATUS:
        return RetryableFailure(f"status {status}: {message}", server_unhealthy=False)
    if status == 400 and any(marker in message.lower() for marker in _TOO_LONG_MARKERS):
        return PromptTooLong(message)
    if status == 404:
        return EngineError(f"{url}: model not served: {message}")
    return EngineError(f"{url} answered {status}: {message}")
