"""`EnginePool`: chat completions and token counts over several vLLM replicas."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from reviewers.engine.breaker import BreakerState
from reviewers.engine.calls import CallRecord, ChatRequest, ChatResult, Message, ReplicaDescription
from reviewers.engine.config import EngineConfig, Priority, RoutingPolicy
from reviewers.engine.output import parse_structured, response_format
from reviewers.engine.replica import Replica, RetryableFailure
from reviewers.engine.routing import Router, rendezvous_order
from reviewers.engine.sharing import prompt_text
from reviewers.engine.tokens import (
    EngineTokenCounter,
    TokenCountCache,
    content_key,
    estimate_messages,
    tokenize_payload,
)
from reviewers.errors import EngineError, EngineUnavailable

log = logging.getLogger(__name__)


class EnginePool:
    """Routes each call to a replica (prefix affinity), bounds load, retries, records usage.

    Build it inside the event loop that will use it; close it with `aclose()`.
    """

    def __init__(
        self,
        config: EngineConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._replicas = {url: Replica(url, config, clock) for url in config.urls}
        self._router = Router(config.routing, config.max_waiting)
        self._token_cache = TokenCountCache(config.token_cache_size)
        self._call_ids = itertools.count(1)
        self._tokenizing: dict[str, asyncio.Future[int]] = {}
        self.records: deque[CallRecord] = deque(maxlen=config.records_kept)

    @property
    def replicas(self) -> list[Replica]:
        return list(self._replicas.values())

    def preferred_replica(self, affinity_key: str) -> str:
        """The replica `affinity_key` goes to while every replica is healthy and not overloaded."""
        return rendezvous_order(affinity_key, list(self._replicas))[0]

    # --- chat -----------------------------------------------------------------------
    async def chat(
        self,
        request: ChatRequest,
        *,
        affinity_key: str,
        priority: Priority = Priority.REVIEW,
        records: list[CallRecord] | None = None,
    ) -> ChatResult:
        """One completion; retries 503/connection errors/timeouts within the deadline.

        Raises EngineUnavailable (deadline passed), PromptTooLong, EngineOutputError (the
        answer is cut, not JSON or not valid for `request.schema`) or EngineError.
        """
        started = self._clock()
        deadline = started + self.config.deadline_s
        call_id = f"rb-{uuid.uuid4().hex[:12]}-{next(self._call_ids)}"
        count_key = content_key(tokenize_payload(self.config.model, request.messages))
        tokens = self._estimate(request, count_key)
        text = prompt_text(request.messages)
        attempts, queue_s, spilled = 0, 0.0, False
        replica: Replica | None = None
        request_id = call_id

        def record(
            outcome: str, error: str | None = None, usage: dict[str, int | None] | None = None
        ) -> CallRecord:
            usage = usage or {}
            entry = CallRecord(
                request_id=request_id, affinity_key=affinity_key, priority=priority,
                schema_name=request.schema_name if request.schema is not None else None,
                replica=replica.url if replica else None, outcome=outcome,
                prompt_tokens=usage.get("prompt_tokens"),
                cached_tokens=usage.get("cached_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                queue_s=queue_s, total_s=self._clock() - started, attempts=attempts,
                spilled=spilled, error=error,
            )
            self.records.append(entry)
            if records is not None:
                records.append(entry)
            return entry

        try:
            while True:
                attempts += 1
                replica, spilled = await self._route(affinity_key, deadline)
                request_id = f"{call_id}-{attempts}"
                body = self._chat_body(request, priority, request_id)
                waiting_since = self._clock()
                try:
                    async with asyncio.timeout(max(0.0, deadline - self._clock())):
                        with replica.sharing.charge(affinity_key, text, tokens) as charged:
                            async with replica.budget.hold(charged, int(priority)):
                                queue_s += self._clock() - waiting_since
                                attempt_timeout = min(
                                    self.config.timeout_s, deadline - self._clock()
                                )
                                completion = await replica.create_chat(
                                    body, request_id, attempt_timeout
                                )
                except TimeoutError as exc:
                    raise EngineUnavailable(
                        f"no answer within the {self.config.deadline_s:.0f}s deadline"
                    ) from exc
                except RetryableFailure as failure:
                    await self._after_failure(replica, failure)
                    delay = self._backoff(attempts)
                    if failure.reason == "timeout":
                        # the attempt was cancelled by closing its connection; vLLM aborts a
                        # request when it sees the disconnect, so give it time to before
                        # the same work is submitted again
                        delay = max(delay, self.config.abort_grace_s)
                    log.warning(
                        "engine attempt failed",
                        extra={"replica": replica.url, "request_id": request_id,
                               "reason": failure.reason, "retry_in_s": round(delay, 3)},
                    )
                    # an attempt that timed out needed more than timeout_s: a shorter one
                    # would only burn prefill again
                    needed = self.config.timeout_s if failure.reason == "timeout" else 0.0
                    if self._clock() + delay + needed >= deadline:
                        raise EngineUnavailable(
                            f"{replica.url}: {failure.reason} (gave up after {attempts} "
                            f"attempts at the {self.config.deadline_s:.0f}s deadline)"
                        ) from failure
                    await asyncio.sleep(delay)
                    continue
                replica.breaker.record_success()
                break
        except EngineError as exc:
            record(type(exc).__name__, str(exc))
            raise

        choices = sorted(completion.choices, key=lambda choice: choice.index)
        texts = [choice.message.content or "" for choice in choices]
        reasons = [str(choice.finish_reason) for choice in choices]
        usage = completion.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        cached = details.cached_tokens if details else None
        if usage:
            self._token_cache.put(count_key, prompt_tokens)
        counts: dict[str, int | None] = {"prompt_tokens": prompt_tokens, "cached_tokens": cached,
                  "completion_tokens": completion_tokens}
        try:
            parsed = (
                parse_structured(texts, reasons, request.schema, request.schema_name)
                if request.schema is not None else []
            )
        except EngineError as exc:
            record(type(exc).__name__, str(exc), counts)
            raise
        entry = record("ok", None, counts)
        return ChatResult(
            texts=texts, parsed=parsed, finish_reasons=reasons, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, cached_tokens=cached, replica=replica.url,
            queue_s=queue_s, total_s=entry.total_s, request_id=request_id, record=entry,
        )

    def _chat_body(
        self, request: ChatRequest, priority: Priority, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [dict(message) for message in request.messages],
            "max_completion_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "n": request.n,
            "request_id": request_id,  # vLLM's own field: its logs and aborts name this id
        }
        if self.config.priority_scheduling:
            body["priority"] = int(priority)
        if request.stop:
            body["stop"] = list(request.stop)
        if request.schema is not None:
            body["response_format"] = response_format(request.schema, request.schema_name)
        return body

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** (attempt - 1))
        return float(ceiling * self._rng.uniform(0.5, 1.0))

    async def _after_failure(self, replica: Replica, failure: RetryableFailure) -> None:
        if failure.reason == "timeout":
            return  # busy, not broken; the connection was closed so the server aborted it
        if failure.server_unhealthy:
            replica.breaker.record_failure()
        else:
            replica.overloaded_until = self._clock() + self.config.metrics_ttl_s
        await replica.probe()

    # --- routing --------------------------------------------------------------------
    async def _healthy(self) -> list[Replica]:
        due = [r for r in self._replicas.values() if r.breaker.state is BreakerState.HALF_OPEN]
        if due:
            await asyncio.gather(*(replica.probe() for replica in due))
        return [replica for replica in self._replicas.values() if replica.breaker.closed]

    async def _route(self, affinity_key: str, deadline: float) -> tuple[Replica, bool]:
        while True:
            healthy = await self._healthy()
            if healthy:
                if self._router.policy is not RoutingPolicy.ROUND_ROBIN:
                    await asyncio.gather(*(replica.refresh_load() for replica in healthy))
                route = self._router.choose(affinity_key, list(self._replicas), healthy)
                return self._replicas[route.url], route.spilled
            wait = min(self.config.breaker_cooldown_s, max(0.0, deadline - self._clock()))
            if wait <= 0 or self._clock() + wait >= deadline:
                raise EngineUnavailable("every engine replica is failing its health check")
            await asyncio.sleep(min(wait, self.config.backoff_max_s))

    # --- tokens ---------------------------------------------------------------------
    def estimate_prompt_tokens(self, request: ChatRequest) -> int:
        """Exact when known (hint or an earlier count of these messages), else an estimate."""
        return self._estimate(
            request, content_key(tokenize_payload(self.config.model, request.messages))
        )

    def _estimate(self, request: ChatRequest, key: str) -> int:
        if request.prompt_tokens is not None:
            return request.prompt_tokens
        cached = self._token_cache.get(key)
        if cached is not None:
            return cached
        return estimate_messages(request.messages, self.config.chars_per_token)

    async def count_tokens(
        self, content: str | Sequence[Message], affinity_key: str = ""
    ) -> int:
        """Exact count via POST /tokenize (messages get the chat template), cached by hash.

        Concurrent requests for the same content share one server call.
        """
        payload = tokenize_payload(self.config.model, content)
        key = content_key(payload)
        cached = self._token_cache.get(key)
        if cached is not None:
            self._token_cache.hits += 1
            return cached
        pending = self._tokenizing.get(key)
        if pending is None:
            self._token_cache.misses += 1
            pending = asyncio.ensure_future(self._tokenize(payload, affinity_key))
            self._tokenizing[key] = pending
            pending.add_done_callback(lambda _: self._tokenizing.pop(key, None))
        count = await asyncio.shield(pending)
        self._token_cache.put(key, count)
        return count

    async def _tokenize(self, payload: dict[str, Any], affinity_key: str) -> int:
        healthy = await self._healthy()
        order = rendezvous_order(affinity_key, [replica.url for replica in healthy])
        last: RetryableFailure | None = None
        for url in order:
            try:
                data = await self._replicas[url].post_json("/tokenize", payload)
            except RetryableFailure as failure:
                last = failure
                await self._after_failure(self._replicas[url], failure)
                continue
            return int(data["count"])
        reason = last.reason if last else "no healthy replica"
        raise EngineUnavailable(f"no replica could tokenize: {reason}")

    def token_counter(self, affinity_key: str = "") -> EngineTokenCounter:
        """A `reviewers.tokens.TokenCounter` that counts with the served model's tokenizer."""

        async def count(text: str) -> int:
            return await self.count_tokens(text, affinity_key)

        return EngineTokenCounter(count, self.config.chars_per_token)

    @property
    def token_cache(self) -> TokenCountCache:
        return self._token_cache

    # --- operations -----------------------------------------------------------------
    async def check_health(self) -> dict[str, bool]:
        """Probe /health on every replica now (updates the breakers)."""
        results = await asyncio.gather(*(replica.probe() for replica in self._replicas.values()))
        return dict(zip(self._replicas, results, strict=True))

    async def describe(self) -> list[ReplicaDescription]:
        """Per replica: served models and max_model_len from /v1/models, breaker state."""
        return list(await asyncio.gather(*(self._describe(r) for r in self._replicas.values())))

    async def _describe(self, replica: Replica) -> ReplicaDescription:
        try:
            response = await replica.http.get(
                f"{replica.url}/v1/models", timeout=self.config.probe_timeout_s
            )
            response.raise_for_status()
            data = response.json().get("data", [])
        except (httpx.HTTPError, ValueError) as exc:
            return ReplicaDescription(
                url=replica.url, reachable=False, breaker=replica.breaker.state.value,
                error=str(exc) or type(exc).__name__,
            )
        models = [str(item.get("id")) for item in data]
        lengths = [
            item.get("max_model_len") for item in data if item.get("id") == self.config.model
        ]
        return ReplicaDescription(
            url=replica.url, reachable=True, models=models,
            max_model_len=int(lengths[0]) if lengths and lengths[0] is not None else None,
            serves_configured_model=self.config.model in models,
            breaker=replica.breaker.state.value,
        )

    async def aclose(self) -> None:
        await asyncio.gather(*(replica.aclose() for replica in self._replicas.values()))
