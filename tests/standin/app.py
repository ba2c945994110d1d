"""ASGI app answering like `vllm serve` for the subset the bot uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from tests.standin import tokenizer
from tests.standin.engine import SimEngine
from tests.standin.metrics import render_metrics
from tests.standin.script import ChatCall, Fault, Script, render_content

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class RecordedRequest:
    """What the server saw of one chat request (times are time.monotonic())."""

    request_id: str
    body: dict[str, Any]
    priority: int
    arrived_at: float
    prompt_tokens: int = 0
    cached_tokens: int | None = None
    status: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    aborted_at: float | None = None

    @property
    def last_message(self) -> str:
        messages = self.body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))


@dataclass
class FaultState:
    kind: Fault | None = None
    remaining: int | None = None  # None = until cleared
    delay_s: float = 0.0

    def take(self) -> Fault | None:
        if self.kind is None:
            return None
        kind = self.kind
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.kind, self.remaining = None, None
        return kind


@dataclass
class StandinState:
    engine: SimEngine
    script: Script = field(default_factory=Script)
    fault: FaultState = field(default_factory=FaultState)
    requests: list[RecordedRequest] = field(default_factory=list)
    tokenize_calls: int = 0
    unfinished: int = 0  # admitted chat requests not yet answered, n counted per choice
    finished: Counter[str] = field(default_factory=Counter)  # answered, by finish reason
    prompt_tokens_in_flight: int = 0
    peak_prompt_tokens_in_flight: int = 0


def _error(status: int, message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": status}}


async def _send_json(send: Send, status: int, payload: Any, ctype: bytes = b"application/json"
                     ) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class StandinApp:
    """Routes: /v1/chat/completions, /tokenize, /v1/models, /health, /metrics."""

    def __init__(self, state: StandinState) -> None:
        self.state = state

    @property
    def config(self) -> Any:
        return self.state.engine.config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        route = (scope["method"], scope["path"])
        if route == ("GET", "/health"):
            dead = self.state.fault.kind == "unavailable"
            await _send_json(send, 503 if dead else 200, b"", b"text/plain")
        elif route == ("GET", "/metrics"):
            text = render_metrics(self.state.engine, self.config.model,
                                  self.state.finished).encode()
            await _send_json(send, 200, text, b"text/plain; version=0.0.4; charset=utf-8")
        elif route == ("GET", "/v1/models"):
            await _send_json(send, 200, self._models())
        elif route == ("POST", "/tokenize"):
            await self._tokenize(receive, send)
        elif route == ("POST", "/v1/chat/completions"):
            with contextlib.suppress(ConnectionAbortedError):
                await self._chat(receive, send)
        else:
            await _send_json(send, 404, {"detail": "Not Found"})

    def _models(self) -> dict[str, Any]:
        model = self.config.model
        return {"object": "list", "data": [{
            "id": model, "object": "model", "created": int(time.time()), "owned_by": "vllm",
            "root": model, "parent": None, "max_model_len": self.config.max_model_len,
            "permission": [],
        }]}

    async def _tokenize(self, receive: Receive, send: Send) -> None:
        try:
            body = json.loads(await _read_body(receive))
        except (ConnectionAbortedError, json.JSONDecodeError):
            await _send_json(send, 400, _error(400, "invalid JSON body", "BadRequestError"))
            return
        self.state.tokenize_calls += 1
        if body.get("model") not in (None, self.config.model):
            await _send_json(send, 404, _unknown_model(body["model"], self.config.model))
            return
        if "messages" in body:
            ids = tokenizer.apply_chat_template(body["messages"],
                                                body.get("add_generation_prompt", True))
        else:
            ids = list(tokenizer.encode(str(body.get("prompt", ""))))
        await _send_json(send, 200, {"count": len(ids), "max_model_len": self.config.max_model_len,
                                     "tokens": ids, "token_strs": None})

    async def _chat(self, receive: Receive, send: Send) -> None:
        raw = await _read_body(receive)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            await _send_json(send, 400, _error(400, "invalid JSON body", "BadRequestError"))
            return
        state = self.state
        request_id = str(body.get("request_id") or uuid.uuid4().hex)
        priority = body.get("priority") or 0
        if not isinstance(priority, int):
            await _send_json(send, 400, _error(
                400, "1 validation error: priority: Input should be a valid integer",
                "Bad Request", "body.priority"))
            return
        record = RecordedRequest(request_id, body, priority, time.monotonic())
        state.requests.append(record)
        error = self._validate(body, priority)
        fault = state.fault.take()
        if error is None and fault == "unavailable":
            error = (503, _error(503, "The engine is not running", "ServiceUnavailableError"))
        if error is None and fault == "drop":
            record.status = 0
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", b"100")]})
            return  # response never completed: uvicorn closes the connection
        ids = tokenizer.apply_chat_template(body.get("messages") or [])
        record.prompt_tokens = len(ids)
        if error is None:
            error = self._check_length(body, len(ids))
        seats = int(body.get("n") or 1)
        if error is None and (fault == "queue_full" or self._queue_full(seats)):
            state.engine.counters.rejections += 1
            error = (503, _error(503, "The engine is currently busy and cannot accept new "
                                      "requests. Please try again later or on a different "
                                      "instance.", "Service Unavailable"))
        if error is not None:
            record.status, payload = error[0], error[1]
            await _send_json(send, record.status, payload)
            return
        state.unfinished += seats
        try:
            await self._complete(body, ids, record, fault, receive, send)
        finally:
            state.unfinished -= seats

    def _queue_full(self, seats: int) -> bool:
        """vLLM's admission check: unfinished requests (waiting + running, a request with
        `n` choices counting n) plus this one must stay within --max-num-queued-reqs."""
        cap = self.config.max_num_queued_reqs
        return cap is not None and self.state.unfinished + seats > cap

    def _validate(self, body: dict[str, Any], priority: int) -> tuple[int, Any] | None:
        """The request checks vLLM makes before tokenizing, with its status, type and param.

        `priority` is accepted whatever the scheduling policy: FCFS ignores it (vLLM 0.32).
        """
        model = body.get("model")
        if model not in (None, self.config.model):
            return 404, _unknown_model(model, self.config.model)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return 400, _error(400, "Cannot apply chat template to an empty conversation. "
                                    "Provide at least one message.", "BadRequestError")
        n = body.get("n", 1)
        if n is not None and int(n) < 1:
            return 400, _error(400, f"n must be at least 1, got {n}.", "BadRequestError")
        if n is not None and int(n) > 1 and body.get("temperature") == 0:
            return 400, _error(400, f"n must be 1 when using greedy sampling, got {n}.",
                               "BadRequestError")
        wanted = _max_tokens(body)
        limit = self.config.max_model_len
        if wanted is not None and wanted > limit:
            return 400, _error(400, f"max_tokens={wanted} cannot be greater than max_model_len="
                                    f"{limit}. Please request fewer output tokens. (parameter="
                                    f"max_tokens, value={wanted})", "BadRequestError",
                               "max_tokens")
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return _schema_error((fmt.get("json_schema") or {}).get("schema"))
        return None

    def _check_length(self, body: dict[str, Any], prompt: int) -> tuple[int, Any] | None:
        """vLLM refuses a prompt longer than the window (its tokenizer stops one token past
        it, hence "at least"); a prompt that fits gets its generation capped, not refused."""
        limit = self.config.max_model_len
        if prompt > limit:
            return 400, _error(400, f"This model's maximum context length is {limit} tokens. "
                                    f"However, your prompt contains at least {limit + 1} input "
                                    "tokens, which exceeds this limit even without any output "
                                    "tokens. Please reduce the length of the input prompt. "
                                    f"(parameter=input_tokens, value={limit + 1})",
                               "BadRequestError", "input_tokens")
        if prompt == limit:
            return 400, _error(400, "max_tokens must be at least 1, got 0. (parameter="
                                    "max_tokens, value=0)", "BadRequestError", "max_tokens")
        return None

    async def _complete(self, body: dict[str, Any], ids: list[int], record: RecordedRequest,
                        fault: Fault | None, receive: Receive, send: Send) -> None:
        state = self.state
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" \
            else None
        n = int(body.get("n") or 1)
        call = ChatCall(record.request_id, body["messages"], schema, record.priority, n, body)
        reply = state.script.next_reply(call)
        fault = fault or reply.fault
        room = self.config.max_model_len - len(ids)
        max_tokens = min(_max_tokens(body) or room, room)  # capped at the window, not refused
        choices = [_choice(i, render_content(reply, call, fault), body.get("stop"), max_tokens,
                           reply.finish_reason, bool(body.get("ignore_eos")))
                   for i in range(n)]
        decode = max(c[1] for c in choices)
        extra = reply.delay_s + (state.fault.delay_s if fault == "slow" else 0.0)
        state.prompt_tokens_in_flight += len(ids)
        state.peak_prompt_tokens_in_flight = max(state.peak_prompt_tokens_in_flight,
                                                 state.prompt_tokens_in_flight)
        work = asyncio.ensure_future(state.engine.process(ids, record.priority, decode, extra))
        gone = asyncio.ensure_future(_wait_disconnect(receive))
        record.started_at = time.monotonic()
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            state.prompt_tokens_in_flight -= len(ids)
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            record.aborted_at = time.monotonic()
            state.engine.counters.requests_aborted += 1
            return
        gone.cancel()
        outcome = work.result()
        completion = sum(c[1] for c in choices)
        state.engine.counters.prompt_tokens += len(ids)
        state.engine.counters.generation_tokens += completion
        record.cached_tokens, record.status = outcome.cached_tokens, 200
        state.finished.update(str(c[0]["finish_reason"]) for c in choices)
        record.finished_at = time.monotonic()
        details = {"cached_tokens": outcome.cached_tokens} \
            if self.config.prompt_tokens_details else None
        await _send_json(send, 200, {
            "id": f"chatcmpl-{record.request_id}", "object": "chat.completion",
            "created": int(time.time()), "model": self.config.model,
            "choices": [c[0] for c in choices],
            "usage": {"prompt_tokens": len(ids), "total_tokens": len(ids) + completion,
                      "completion_tokens": completion, "prompt_tokens_details": details},
            "prompt_logprobs": None, "kv_transfer_params": None,
        })


def _choice(index: int, text: str, stop: Any, max_tokens: int, forced: str | None,
            ignore_eos: bool = False) -> tuple[dict[str, Any], int]:
    """Apply stop strings and the token limit; returns the choice and its token count.

    With `ignore_eos` the answer runs on (repeating itself) until `max_tokens`, like a model
    whose end-of-sequence token is ignored.
    """
    finish, stop_reason = "stop", None
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [(text.find(s), s) for s in stops if s and s in text]
    if cuts:
        position, stop_reason = min(cuts)
        text = text[:position]
    parts = tokenizer.pieces(text)
    tokens = len(parts) + 1  # the EOS / stop token is generated too
    if ignore_eos and not cuts:
        parts = (parts or [" ."]) * (max_tokens // max(1, len(parts)) + 1)
    if len(parts) >= max_tokens:
        text, tokens, finish = "".join(parts[:max_tokens]), max_tokens, "length"
    finish = forced or finish
    message: dict[str, Any] = {"role": "assistant", "content": text,
                               "reasoning_content": None, "tool_calls": []}
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish,
            "stop_reason": stop_reason}, tokens


def _max_tokens(body: dict[str, Any]) -> int | None:
    wanted = body.get("max_completion_tokens") or body.get("max_tokens")
    return None if wanted is None else int(wanted)


def _unknown_model(model: object, served: str) -> dict[str, Any]:
    return _error(404, f"The model `{model}` does not exist. Valid aliases: {served}.",
                  "NotFoundError", "model")


def _schema_error(schema: object) -> tuple[int, Any] | None:
    """vLLM compiles the schema into a grammar and answers 400 when it cannot."""
    if not isinstance(schema, dict):
        return 400, _error(400, "json_schema.schema is required", "BadRequestError")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return 400, _error(400, f"Grammar error: {exc.message}", "BadRequestError")
    return None
