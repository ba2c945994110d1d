"""Conformance: /health, /v1/models, /tokenize, /metrics and prefix-cache accounting.

Each test runs against the stand-in and the real vLLM CPU server (see conftest.py)."""

from __future__ import annotations

import uuid

import httpx

from tests.conformance.conftest import MAX_MODEL_LEN
from tests.conformance.protocol import chat, scrape


def test_health_answers_200_with_an_empty_body(engine: httpx.Client) -> None:
    response = engine.get("/health")
    assert response.status_code == 200
    assert response.content == b""


def test_models_lists_the_served_model_with_its_context_window(
    engine: httpx.Client, engine_model: str
) -> None:
    body = engine.get("/v1/models").json()
    assert body["object"] == "list"
    [model] = body["data"]
    assert model["id"] == engine_model
    assert model["object"] == "model"
    assert model["owned_by"] == "vllm"
    assert model["max_model_len"] == MAX_MODEL_LEN


def test_tokenize_counts_exactly_the_prompt_tokens_of_a_chat_call(
    engine: httpx.Client, engine_model: str
) -> None:
    messages = [{"role": "system", "content": "You review Python code."},
                {"role": "user", "content": "Is `x = 1/0` a bug?"}]
    tokenized = engine.post("/tokenize", json={"model": engine_model, "messages": messages})
    assert tokenized.status_code == 200, tokenized.text
    body = tokenized.json()
    assert set(body) >= {"count", "max_model_len", "tokens"}
    assert body["count"] == len(body["tokens"])
    assert body["max_model_len"] == MAX_MODEL_LEN
    answer = engine.post("/v1/chat/completions", json={
        "model": engine_model, "messages": messages, "max_tokens": 1}).json()
    assert answer["usage"]["prompt_tokens"] == body["count"]


def test_tokenize_applies_the_generation_prompt_only_when_asked(
    engine: httpx.Client, engine_model: str
) -> None:
    messages = [{"role": "user", "content": "hello"}]
    with_prompt = engine.post("/tokenize", json={"model": engine_model, "messages": messages})
    without = engine.post("/tokenize", json={
        "model": engine_model, "messages": messages, "add_generation_prompt": False})
    assert 0 < without.json()["count"] < with_prompt.json()["count"]


def test_tokenize_of_an_unknown_model_is_a_404(engine: httpx.Client) -> None:
    response = engine.post("/tokenize", json={"model": "no-such-model", "prompt": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFoundError"


EXPECTED_METRIC_TYPES = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:prefix_cache_queries_total": "counter",
    "vllm:prefix_cache_hits_total": "counter",
    "vllm:prompt_tokens_total": "counter",
    "vllm:generation_tokens_total": "counter",
    "vllm:request_success_total": "counter",
    "vllm:admission_rejections_total": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "vllm:cache_config_info": "gauge",
}


def test_metrics_expose_the_names_and_types_the_bot_reads(
    engine: httpx.Client, engine_model: str
) -> None:
    response = engine.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    metrics = scrape(engine)
    for name, kind in EXPECTED_METRIC_TYPES.items():
        assert metrics.types.get(name) == kind, name
    for labels in metrics.labels_of("vllm:num_requests_waiting"):
        assert labels["model_name"] == engine_model
    assert {"max_num_queued_reqs", "max_num_queued_tokens"} <= {
        labels["reason"] for labels in metrics.labels_of("vllm:admission_rejections_total")}
    assert 0.0 <= metrics.total("vllm:kv_cache_usage_perc") <= 1.0
    assert metrics.total("vllm:num_requests_running") == 0


def test_shared_prefix_hits_the_cache_in_whole_blocks(
    engine: httpx.Client, engine_model: str
) -> None:
    nonce = uuid.uuid4().hex  # first tokens differ from any earlier test's prompt
    context = nonce + "\n" + "".join(f"def f_{i}(x):\n    return x * {i}\n" for i in range(90))
    block_size = int(scrape(engine).labels_of("vllm:cache_config_info")[0]["block_size"])
    usages, hits, queries = [], [], []
    for question in ("What does f_3 return?", "What does f_7 return?"):
        before = scrape(engine)
        answer = engine.post("/v1/chat/completions", json={
            "model": engine_model, "max_tokens": 2,
            "messages": [{"role": "system", "content": context},
                         {"role": "user", "content": question}]}).json()
        after = scrape(engine)
        usages.append(answer["usage"])
        hits.append(after.total("vllm:prefix_cache_hits_total")
                    - before.total("vllm:prefix_cache_hits_total"))
        queries.append(after.total("vllm:prefix_cache_queries_total")
                       - before.total("vllm:prefix_cache_queries_total"))
    first, second = usages
    assert first["prompt_tokens"] == second["prompt_tokens"] > 8 * block_size
    assert queries == [first["prompt_tokens"], second["prompt_tokens"]]
    assert hits[0] == 0
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert hits[1] == second["prompt_tokens_details"]["cached_tokens"]
    assert hits[1] % block_size == 0
    assert hits[1] >= 0.8 * second["prompt_tokens"]


def test_usage_reports_cached_tokens_per_request(engine: httpx.Client, engine_model: str) -> None:
    prompt = uuid.uuid4().hex + " " + "review this function carefully. " * 80
    first = chat(engine, engine_model, prompt, max_tokens=1).json()["usage"]
    second = chat(engine, engine_model, prompt, max_tokens=1).json()["usage"]
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    cached = second["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < second["prompt_tokens"]
