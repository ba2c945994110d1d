"""The two conformance targets: the stand-in (fast suite) and the real vLLM CPU server.

Every test here takes `target` and runs once per target; the real one is marked
``realvllm`` and runs in its own CI step. Both run with the same flags: max_model_len
4096, ``--scheduling-policy priority``, one running sequence, ``--max-num-queued-reqs 4``
(see `tests.realvllm.fixtures.suite_config`). Tests read what differs by design (model
name, block size) from the server itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.realvllm.fixtures import SUITE_MAX_NUM_SEQS, SUITE_MAX_QUEUED_REQS
from tests.standin import StandinConfig, StandinServer

MAX_MODEL_LEN = 4096
STANDIN = StandinConfig(max_model_len=MAX_MODEL_LEN, scheduling_policy="priority",
                        max_num_seqs=SUITE_MAX_NUM_SEQS,
                        max_num_queued_reqs=SUITE_MAX_QUEUED_REQS, time_scale=0.3)


@dataclass(frozen=True)
class Target:
    """A server under test; `expect_answer` scripts the stand-in's next answer text.

    Only what a model chooses to say is scripted (a real model is asked the same question
    and says it); everything the protocol does with that text is the server's own.
    """

    kind: str
    url: str
    standin: StandinServer | None = None

    def expect_answer(self, text: str | dict[str, Any]) -> None:
        if self.standin is not None:
            self.standin.script(text)


@pytest.fixture(scope="session",
                params=["standin", pytest.param("real", marks=pytest.mark.realvllm)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "real":
        yield Target("real", request.getfixturevalue("real_engine_url"))
        return
    with StandinServer(STANDIN) as server:
        yield Target("standin", server.url, server)


@pytest.fixture(scope="session")
def engine_model(target: Target) -> str:
    """The served model name, as the server itself reports it."""
    response = httpx.get(f"{target.url}/v1/models", timeout=10)
    response.raise_for_status()
    name: str = response.json()["data"][0]["id"]
    return name


@pytest.fixture
def engine(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.url, timeout=120) as client:
        yield client
