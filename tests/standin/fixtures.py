"""Pytest fixtures: `vllm_standin(**config)` starts stand-in servers, stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.standin.engine import StandinConfig
from tests.standin.server import StandinServer

StandinFactory = Callable[..., StandinServer]


@pytest.fixture
def vllm_standin() -> Iterator[StandinFactory]:
    """Factory: `server = vllm_standin(max_num_seqs=2, time_scale=0.001)`; `.url` is its root."""
    servers: list[StandinServer] = []

    def start(**config: Any) -> StandinServer:
        server = StandinServer(StandinConfig(**config)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
