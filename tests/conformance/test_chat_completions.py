"""Conformance: /v1/chat/completions — structured output, n, stop, priority and error bodies.

Each test runs against the stand-in and the real vLLM CPU server (see conftest.py)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import jsonschema
import pytest

from tests.conformance.conftest import Target
from tests.conformance.protocol import assert_openai_error, chat, scrape

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"findings": {"type": "array", "items": {
        "type": "object",
        "properties": {"line": {"type": "integer"}, "message": {"type": "string"}},
        "required": ["line", "message"], "additionalProperties": False}}},
    "required": ["findings"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema",
                   "json_schema": {"name": "review", "schema": FINDINGS_SCHEMA, "strict": True}}
# The same with bounds the grammar enforces (one finding, a short message): the small CPU
# model otherwise writes on until max_tokens (seen with transformers 5.19 / xgrammar 0.2.8),
# and the test is about the server's structured output, not about the model's brevity.
BOUNDED_SCHEMA: dict[str, Any] = json.loads(json.dumps(FINDINGS_SCHEMA))
BOUNDED_SCHEMA["properties"]["findings"]["maxItems"] = 1
BOUNDED_SCHEMA["properties"]["findings"]["items"]["properties"]["message"]["maxLength"] = 80
BOUNDED_FORMAT = {"type": "json_schema",
                  "json_schema": {"name": "review", "schema": BOUNDED_SCHEMA, "strict": True}}
REVIEW_ASK = "Review this change: `x = 1/0` on line 3. Answer in JSON."
# What a model says to REVIEW_ASK (the real one says something like it unprompted)
REVIEW_ANSWER = {"findings": [{"line": 3, "message": "Division by zero raises at import."}]}


def test_json_schema_output_parses_and_validates(
    target: Target, engine: httpx.Client, engine_model: str
) -> None:
    target.expect_answer(REVIEW_ANSWER)
    body = chat(engine, engine_model, REVIEW_ASK, max_tokens=200, temperature=0,
                response_format=BOUNDED_FORMAT).json()
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop", choice["message"]["content"]
    jsonschema.validate(json.loads(choice["message"]["content"]), BOUNDED_SCHEMA)


def test_max_tokens_cuts_schema_output_into_invalid_json(
    target: Target, engine: httpx.Client, engine_model: str
) -> None:
    target.expect_answer(REVIEW_ANSWER)
    body = chat(engine, engine_model, REVIEW_ASK, max_tokens=8, temperature=0,
                response_format=RESPONSE_FORMAT).json()
    [choice] = body["choices"]
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 8
    content = choice["message"]["content"]
    assert content.lstrip().startswith("{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_an_invalid_schema_is_a_400(engine: httpx.Client, engine_model: str) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "bogus"}}}
    response = chat(engine, engine_model, "hi", max_tokens=4, response_format=bad)
    assert_openai_error(response, 400, "BadRequestError", None)


def test_n_returns_that_many_indexed_choices(engine: httpx.Client, engine_model: str) -> None:
    body = chat(engine, engine_model, "Name a colour.", max_tokens=5, n=3, temperature=1.0,
                seed=7).json()
    assert [choice["index"] for choice in body["choices"]] == [0, 1, 2]
    assert all(choice["message"]["content"] for choice in body["choices"])
    assert 3 <= body["usage"]["completion_tokens"] <= 15


def test_n_above_one_with_greedy_sampling_is_a_400(
    engine: httpx.Client, engine_model: str
) -> None:
    response = chat(engine, engine_model, "Name a colour.", max_tokens=5, n=3, temperature=0)
    message = assert_openai_error(response, 400, "BadRequestError", None)
    assert "greedy" in message


def test_stop_string_ends_the_answer_before_it(
    target: Target, engine: httpx.Client, engine_model: str
) -> None:
    target.expect_answer("1, 2, 3, 4, 5, 6, 7, 8, 9, 10")
    # no penalties: the CPU server's defaults against looping would also discourage ", "
    body = chat(engine, engine_model, "Count from 1 to 10, separated by commas.",
                max_tokens=40, temperature=0, stop=["5"], frequency_penalty=0,
                repetition_penalty=1.0).json()
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["stop_reason"] == "5"
    assert choice["message"]["content"].startswith("1, 2, 3, 4")
    assert "5" not in choice["message"]["content"]


def test_unknown_model_is_a_404_with_an_openai_error(engine: httpx.Client) -> None:
    response = chat(engine, "no-such-model", "hi", max_tokens=4)
    message = assert_openai_error(response, 404, "NotFoundError", "model")
    assert "no-such-model" in message


def test_a_request_without_a_model_gets_the_served_one(
    engine: httpx.Client, engine_model: str
) -> None:
    response = engine.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == engine_model


def test_more_choices_than_the_queue_holds_are_refused_with_a_503(
    engine: httpx.Client, engine_model: str
) -> None:
    """`--max-num-queued-reqs 4`: a request with n=5 counts five and can never be admitted."""
    before = scrape(engine)
    response = chat(engine, engine_model, "Name a colour.", max_tokens=2, n=5, temperature=1.0)
    message = assert_openai_error(response, 503, "Service Unavailable", None)
    assert "busy" in message
    key, reason = "vllm:admission_rejections_total", "max_num_queued_reqs"
    rejected = scrape(engine).total(key, reason=reason) - before.total(key, reason=reason)
    assert rejected == 1


def test_prompt_longer_than_the_window_is_a_400(engine: httpx.Client, engine_model: str) -> None:
    response = chat(engine, engine_model, "word " * 4200, max_tokens=1)
    message = assert_openai_error(response, 400, "BadRequestError", "input_tokens")
    assert "maximum context length is 4096 tokens" in message


def test_max_tokens_beyond_the_window_is_a_400(engine: httpx.Client, engine_model: str) -> None:
    response = chat(engine, engine_model, "hi", max_tokens=5000)
    assert_openai_error(response, 400, "BadRequestError", "max_tokens")


def test_prompt_plus_max_tokens_over_the_window_is_capped_not_refused(
    engine: httpx.Client, engine_model: str
) -> None:
    body = chat(engine, engine_model, "word " * 4060, max_tokens=100, ignore_eos=True).json()
    usage = body["usage"]
    assert usage["prompt_tokens"] > 4096 - 100
    assert usage["total_tokens"] == 4096
    assert body["choices"][0]["finish_reason"] == "length"


def _wait_for(engine: httpx.Client, running: int, waiting: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metrics = scrape(engine)
        if (metrics.total("vllm:num_requests_running"), metrics.total("vllm:num_requests_waiting")
                ) == (running, waiting):
            return
        time.sleep(0.05)
    pytest.fail(f"server never showed running={running} waiting={waiting}")


def test_priority_lets_a_later_urgent_request_overtake_a_waiting_one(
    target: Target, engine: httpx.Client, engine_model: str
) -> None:
    """Needs priority scheduling and one running sequence (the suite's server config)."""
    finished: list[str] = []

    def call(tag: str, priority: int, max_tokens: int) -> None:
        with httpx.Client(base_url=target.url, timeout=120) as client:
            response = chat(client, engine_model, "Tell a story.", max_tokens=max_tokens,
                            ignore_eos=True, priority=priority)
        assert response.status_code == 200, response.text
        finished.append(tag)

    calls = [("blocker", 0, 150), ("background", 10, 3), ("urgent", -10, 3)]
    threads = [threading.Thread(target=call, args=spec) for spec in calls]
    for waiting, thread in enumerate(threads):
        thread.start()
        _wait_for(engine, running=1, waiting=waiting)
    for thread in threads:
        thread.join(timeout=120)
    assert finished == ["blocker", "urgent", "background"]
