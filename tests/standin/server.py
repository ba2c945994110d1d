"""Run the stand-in on 127.0.0.1 (ephemeral port) in a background thread, and steer it."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from tests.standin.app import RecordedRequest, StandinApp, StandinState
from tests.standin.engine import SimEngine, StandinConfig
from tests.standin.script import Fault, Reply, ScriptFn, as_reply


def parse_metrics(text: str) -> dict[str, float]:
    """Sum of samples per metric name (labels dropped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        values[name] = values.get(name, 0.0) + float(value)
    return values


class StandinServer:
    """A real HTTP server answering like `vllm serve`; start() returns once it listens."""

    def __init__(self, config: StandinConfig | None = None) -> None:
        self.config = config or StandinConfig()
        self.state = StandinState(engine=SimEngine(self.config))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: headers and body leave at once (no 40 ms Nagle stall)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(
            StandinApp(self.state), log_config=None, log_level="warning", lifespan="off",
            ws="none", http="h11", loop="asyncio", access_log=False, timeout_graceful_shutdown=2,
        ))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
            name=f"vllm-standin-{self.port}",
        )

    def start(self) -> StandinServer:
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("vLLM stand-in did not start")
            time.sleep(0.002)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- steering ---------------------------------------------------------------
    def script(self, *replies: Reply | str | dict[str, Any] | list[Any],
               marker: str | None = None) -> None:
        """Queue answers for the next calls whose last message contains `marker` (or any)."""
        self.state.script.add([as_reply(item) for item in replies], marker)

    def script_fn(self, fn: ScriptFn | None) -> None:
        """Answer every unscripted call with `fn(call)` (None from fn = default answer)."""
        self.state.script.fn = fn

    def set_fault(self, kind: Fault | None, *, count: int | None = None,
                  delay_s: float = 0.0) -> None:
        """Fault for the next `count` chat requests (None = until cleared)."""
        self.state.fault.kind, self.state.fault.remaining = kind, count
        self.state.fault.delay_s = delay_s

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.state.requests)

    @property
    def peak_prompt_tokens_in_flight(self) -> int:
        return self.state.peak_prompt_tokens_in_flight

    @property
    def tokenize_calls(self) -> int:
        return self.state.tokenize_calls

    def metrics(self) -> dict[str, float]:
        """The server's own /metrics, parsed (read directly, not over HTTP)."""
        from tests.standin.metrics import render_metrics

        return parse_metrics(render_metrics(self.state.engine, self.config.model,
                                            self.state.finished))
