"""Backpressure, retries within the deadline, timeouts without duplicate work."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from reviewers.engine import ChatRequest, Priority
from reviewers.engine.budget import TokenBudget
from reviewers.errors import EngineUnavailable
from tests.engine.helpers import pool_for, review_messages, review_request
from tests.standin import Reply


async def test_prompt_tokens_in_flight_stay_under_the_limit_at_the_server(vllm_standin) -> None:
    server = vllm_standin()
    # each answer takes 0.1 s, so two admitted calls overlap at the server even on a busy host
    server.script_fn(lambda call: Reply(content={"findings": []}, delay_s=0.1))
    requests = [ChatRequest(messages=review_messages(f"org/r{i}", "review", 300))
                for i in range(8)]
    limit = 2500
    pool = pool_for(server.url, max_inflight_tokens=limit)
    try:
        sizes = [await pool.count_tokens(r.messages) for r in requests]  # exact, now cached
        assert 2 * max(sizes) <= limit < 3 * min(sizes)  # room for two prompts at a time
        results = await asyncio.gather(*(pool.chat(r, affinity_key="org") for r in requests))
        peak_at_client = pool.replicas[0].budget.peak_inflight_tokens
    finally:
        await pool.aclose()
    assert len(results) == 8
    assert max(sizes) < server.peak_prompt_tokens_in_flight <= limit  # bounded, yet concurrent
    assert peak_at_client <= limit
    assert sum(r.queue_s > 0.05 for r in results) >= 4  # callers did wait for room


async def test_budget_admits_by_priority_then_arrival() -> None:
    budget = TokenBudget(limit_tokens=100)
    order: list[str] = []

    async def call(name: str, tokens: int, priority: Priority, hold_s: float) -> None:
        async with budget.hold(tokens, priority):
            order.append(name)
            await asyncio.sleep(hold_s)

    first = asyncio.create_task(call("first", 100, Priority.REVIEW, 0.05))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(call(name, 60, priority, 0.01)) for name, priority in
               (("digest", Priority.DIGEST), ("review", Priority.REVIEW),
                ("interactive", Priority.INTERACTIVE))]
    huge = asyncio.create_task(call("huge", 500, Priority.DIGEST, 0.0))  # alone, not starved
    await asyncio.gather(first, huge, *waiting)
    assert order == ["first", "interactive", "review", "digest", "huge"]
    assert budget.inflight_tokens == 0
    assert budget.waiting_requests == 0


async def test_a_transient_503_is_retried_then_answered(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("queue_full", count=2)
    pool = pool_for(server.url)
    try:
        result = await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    assert result.record.attempts == 3
    assert [r.status for r in server.requests] == [503, 503, 200]
    assert len({r.request_id for r in server.requests}) == 3


async def test_a_dropped_connection_is_retried(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("drop", count=1)
    pool = pool_for(server.url, breaker_failures=3)
    try:
        result = await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    assert result.parsed == [{"findings": []}]
    assert result.record.attempts == 2


async def test_retries_stop_at_the_deadline(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("queue_full")  # every request 503, but /health stays 200
    pool = pool_for(server.url, deadline_s=0.6, backoff_base_s=0.05, backoff_max_s=0.2)
    started = time.monotonic()
    try:
        with pytest.raises(EngineUnavailable, match="deadline"):
            await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    elapsed = time.monotonic() - started
    assert 0.3 < elapsed < 0.6 + 0.8  # gave up at the deadline (slack: a busy host's loop)
    assert 3 <= len(server.requests) <= 12
    (record,) = pool.records
    assert record.outcome == "EngineUnavailable"
    # The attempt the deadline cut short may never have reached the server.
    assert len(server.requests) <= record.attempts <= len(server.requests) + 1


async def test_a_dead_pool_gives_up_at_the_deadline(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("unavailable")  # /health 503: breaker opens, nothing healthy
    pool = pool_for(server.url, deadline_s=0.5, breaker_failures=1)
    started = time.monotonic()
    try:
        with pytest.raises(EngineUnavailable):
            await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    assert time.monotonic() - started < 0.9


async def test_timeout_aborts_the_request_before_it_is_sent_again(vllm_standin) -> None:
    server = vllm_standin()
    server.script(Reply(content={"findings": []}, delay_s=2.0))  # first attempt hangs
    pool = pool_for(server.url, timeout_s=0.3, deadline_s=3.0)
    try:
        result = await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    first, second = server.requests
    assert result.record.attempts == 2
    assert result.request_id == second.request_id
    assert first.aborted_at is not None
    assert first.finished_at is None
    assert first.aborted_at < second.arrived_at  # never two copies of the work at once
    assert server.metrics()["vllm:num_requests_running"] == 0


async def test_timeout_at_the_deadline_leaves_nothing_running(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("slow", delay_s=2.0)
    pool = pool_for(server.url, timeout_s=0.3, deadline_s=0.4)
    try:
        with pytest.raises(EngineUnavailable):
            await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    await asyncio.sleep(0.05)
    assert len(server.requests) == 1
    assert server.requests[0].aborted_at is not None
    assert server.metrics()["vllm:num_requests_running"] == 0


async def test_budget_forgets_a_caller_that_gave_up_waiting() -> None:
    budget = TokenBudget(limit_tokens=100)
    admitted: list[str] = []

    async def call(name: str, tokens: int, hold_s: float) -> None:
        async with budget.hold(tokens, Priority.REVIEW):
            admitted.append(name)
            await asyncio.sleep(hold_s)

    holder = asyncio.create_task(call("holder", 100, 0.05))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(call("quitter", 60, 0.0))
    patient = asyncio.create_task(call("patient", 60, 0.0))
    await asyncio.sleep(0.01)
    assert (budget.waiting_requests, budget.waiting_tokens) == (2, 120)
    quitter.cancel()  # e.g. its deadline passed while it waited
    await asyncio.gather(holder, patient)
    assert quitter.cancelled()
    assert admitted == ["holder", "patient"]
    assert (budget.inflight_tokens, budget.inflight_requests) == (0, 0)
    assert (budget.waiting_requests, budget.waiting_tokens) == (0, 0)


async def test_backoff_grows_exponentially_with_jitter_between_attempts(vllm_standin) -> None:
    server = vllm_standin()
    server.set_fault("queue_full", count=5)
    base, cap = 0.04, 0.32
    pool = pool_for(server.url, backoff_base_s=base, backoff_max_s=cap)
    try:
        result = await pool.chat(review_request("org/r"), affinity_key="org/r")
    finally:
        await pool.aclose()
    assert result.record.attempts == 6
    arrivals = [r.arrived_at for r in server.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    ceilings = [min(cap, base * 2**attempt) for attempt in range(5)]  # .04 .08 .16 .32 .32
    for gap, ceiling in zip(gaps, ceilings, strict=True):
        assert gap >= 0.5 * ceiling  # the wait doubles per attempt, up to the cap
    assert sum(gaps) <= sum(ceilings) + 1.5  # and no more (slack for a busy host)
    # jitter: the draws spread over [ceiling/2, ceiling], so retries of many callers do not
    # arrive in lockstep
    draws = [pool._backoff(4) for _ in range(200)]
    assert 0.5 * 0.32 <= min(draws) < 0.2 < 0.28 < max(draws) <= 0.32


async def test_calls_sharing_a_prefix_are_charged_it_once(vllm_standin) -> None:
    """Three calls of one review share all but their last words: vLLM holds that prefix's
    KV once, so the budget admits them together where three unrelated prompts would wait."""
    server = vllm_standin()
    server.script_fn(lambda call: Reply(content={"findings": []}, delay_s=0.2))
    pool = pool_for(server.url, max_inflight_tokens=1000)
    review = [review_request("org/app", task) for task in ("review", "security", "tests")]
    unrelated = [review_request(f"org/other{i}") for i in range(3)]
    try:
        size = await pool.count_tokens(review[0].messages)
        assert size < 1000 < 2 * size  # one prompt fits, two unrelated ones do not
        shared = await asyncio.gather(*(pool.chat(r, affinity_key="org/app") for r in review))
        apart = await asyncio.gather(*(pool.chat(r, affinity_key=r.messages[0]["content"][:30])
                                       for r in unrelated))
    finally:
        await pool.aclose()
    assert max(r.queue_s for r in shared) < 0.1  # admitted at once
    assert sorted(r.queue_s > 0.15 for r in apart) == [False, True, True]  # one at a time
    assert server.peak_prompt_tokens_in_flight >= 3 * size  # all three ran together
