"""Chat calls through the pool against the stand-in: output, records, errors, tokens."""

from __future__ import annotations

import pytest

from reviewers.engine import CallRecord, ChatRequest
from reviewers.errors import EngineError, EngineOutputError, PromptTooLong
from tests.engine.helpers import MODEL, pool_for, review_messages, review_request
from tests.standin import Reply


async def test_structured_answer_is_parsed_and_the_call_recorded(vllm_standin) -> None:
    server = vllm_standin()
    server.script({"findings": [{"line": 3, "message": "off by one"}]}, marker="Task: review")
    pool = pool_for(server.url)
    run_records: list[CallRecord] = []
    try:
        first = await pool.chat(review_request("acme/api"), affinity_key="acme/api",
                                records=run_records)
        second = await pool.chat(review_request("acme/api", "security"), affinity_key="acme/api",
                                 records=run_records)
    finally:
        await pool.aclose()

    assert first.parsed == [{"findings": [{"line": 3, "message": "off by one"}]}]
    assert second.parsed == [{"findings": []}]  # unscripted: minimal schema-valid answer
    seen = server.requests
    assert [r.request_id for r in seen] == [first.request_id, second.request_id]
    body = seen[0].body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert not any(key.startswith("guided_") for key in body)
    assert "priority" not in body  # server runs fcfs: the field must not be sent
    # the shared prefix was served from the stand-in's prefix cache on the second call
    assert first.cached_tokens == 0
    assert second.cached_tokens == seen[1].cached_tokens > 0
    assert second.cached_tokens % 16 == 0
    assert [r.outcome for r in run_records] == ["ok", "ok"]
    assert run_records[1].prompt_tokens == second.prompt_tokens == seen[1].prompt_tokens
    assert run_records[1].completion_tokens == second.completion_tokens > 0
    assert run_records[1].replica == server.url
    assert run_records[1].total_s >= 0
    assert list(pool.records) == run_records


@pytest.mark.parametrize("fault", ["violate", "malformed"])
async def test_bad_structured_output_raises_and_is_recorded(vllm_standin, fault) -> None:
    server = vllm_standin()
    server.script(Reply(fault=fault))
    pool = pool_for(server.url)
    try:
        with pytest.raises(EngineOutputError):
            await pool.chat(review_request("acme/api"), affinity_key="acme/api")
    finally:
        await pool.aclose()
    (record,) = pool.records
    assert record.outcome == "EngineOutputError"
    assert record.prompt_tokens
    assert record.completion_tokens
    assert len(server.requests) == 1  # the pool does not retry bad output itself


async def test_truncated_answer_is_an_output_error(vllm_standin) -> None:
    server = vllm_standin()
    server.script('{"findings": [' + '{"line": 1, "message": "long"},' * 50 + "]}")
    pool = pool_for(server.url)
    try:
        with pytest.raises(EngineOutputError, match="token limit"):
            await pool.chat(review_request("acme/api", max_tokens=20), affinity_key="r")
    finally:
        await pool.aclose()


async def test_free_text_stop_and_n_choices(vllm_standin) -> None:
    server = vllm_standin()
    server.script("first part END second part")
    pool = pool_for(server.url)
    try:
        result = await pool.chat(
            ChatRequest(messages=review_messages("r", "explain"), n=2, stop=["END"]),
            affinity_key="r",
        )
    finally:
        await pool.aclose()
    assert result.texts == ["first part ", "first part "]
    assert result.finish_reasons == ["stop", "stop"]
    assert result.parsed == []


async def test_too_long_prompt_and_unknown_model(vllm_standin) -> None:
    server = vllm_standin(max_model_len=2048)
    pool = pool_for(server.url)
    wrong = pool_for(server.url, model="no-such-model")
    try:
        with pytest.raises(PromptTooLong, match="maximum context length"):
            await pool.chat(ChatRequest(messages=review_messages("r", "t", 3000)),
                            affinity_key="r")
        with pytest.raises(PromptTooLong):
            await pool.chat(ChatRequest(messages=review_messages("r", "t", 10), max_tokens=4000),
                            affinity_key="r")
        with pytest.raises(EngineError, match="does not exist") as caught:
            await wrong.chat(review_request("r"), affinity_key="r")
        assert not isinstance(caught.value, PromptTooLong)
    finally:
        await pool.aclose()
        await wrong.aclose()
    assert len(server.requests) == 3  # none of these is retried


async def test_token_counts_come_from_tokenize_and_are_cached(vllm_standin) -> None:
    server = vllm_standin()
    pool = pool_for(server.url)
    messages = review_messages("acme/api", "review")
    try:
        counted = await pool.count_tokens(messages, affinity_key="acme/api")
        again = await pool.count_tokens(list(messages), affinity_key="acme/api")
        calls_after_messages = server.tokenize_calls
        result = await pool.chat(ChatRequest(messages=messages), affinity_key="acme/api")
        counter = pool.token_counter("acme/api")
        many = await counter.count_many(["def f(x):\n    return x", "a b c", "a b c"])
    finally:
        await pool.aclose()
    assert counted == again == result.prompt_tokens  # chat template applied by /tokenize
    assert calls_after_messages == 1
    assert many == [8, 3, 3]
    assert server.tokenize_calls == 3  # the repeated text was served from the cache
    assert counter.estimate("a b c") >= 1


async def test_describe_reports_model_and_unreachable_replicas(vllm_standin) -> None:
    server = vllm_standin(max_model_len=65536)
    pool = pool_for(server.url, "http://127.0.0.1:9/v1")
    try:
        up, down = await pool.describe()
    finally:
        await pool.aclose()
    assert up.reachable
    assert up.serves_configured_model
    assert up.models == [MODEL]
    assert up.max_model_len == 65536
    assert down.url == "http://127.0.0.1:9"
    assert not down.reachable
    assert down.error
