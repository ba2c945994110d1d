"""Replay 300 reviews over 30 repositories against 4 stand-in replicas under three routing
policies; compare uncached prefill tokens, makespan and interactive p95 latency.

Run: python -m tests.benchmarks.engine_routing
Times are reported in simulated GPU seconds (wall seconds / time scale).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from reviewers.engine import ChatRequest, EngineConfig, EnginePool, Priority, RoutingPolicy
from tests.standin import parse_metrics

MODEL = "IQuest-Coder-V1-40B-Instruct"
ANSWER = " ".join(f"finding{i}" for i in range(120))  # ~120 generated tokens per call
TASKS = ("Review the change for bugs.", "Triage security issues.", "Write unit tests.")


@dataclass(frozen=True)
class Review:
    arrival_s: float
    repo: int
    diff: str
    interactive: bool


def words(rng: random.Random, count: int) -> str:
    """`count` toy tokens of two bytes each (a space and a letter), so bodies stay small."""
    return "".join(rng.choices(_PIECES, k=count))


_PIECES = [f" {letter}" for letter in string.ascii_letters]


def make_workload(seed: int, reviews: int, repos: int, span_s: float) -> tuple[list[str],
                                                                              list[Review]]:
    rng = random.Random(seed)
    contexts = [f" repo{r}" + words(rng, rng.randint(20_000, 60_000)) for r in range(repos)]
    stream, clock = [], 0.0
    for index in range(reviews):
        clock += rng.expovariate(reviews / span_s)
        stream.append(Review(
            arrival_s=clock, repo=rng.randrange(repos),
            diff=f" diff{index}" + words(rng, rng.randint(2_000, 10_000)),
            interactive=rng.random() < 0.1,
        ))
    return contexts, stream


def messages(context: str, review: Review, task: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You are reviewbot. Repository context:{context}"},
        {"role": "user", "content": f"Diff:{review.diff}\n\nTask: {task}"},
    ]


@dataclass
class Outcome:
    policy: str
    uncached_prefill: int
    makespan_s: float
    interactive_p95_s: float
    hit_rate: float


async def replay(policy: RoutingPolicy, contexts: list[str], stream: list[Review],
                 scale: float) -> Outcome:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--replicas", "4", "--model", MODEL,
         "--time-scale", str(scale), "--kv-capacity-tokens", "600000",
         "--prefill-tokens-per-s", "8000", "--decode-step-s", "0.03", "--max-num-seqs", "64",
         "--scheduling-policy", "priority", "--answer", ANSWER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    urls = tuple(proc.stdout.readline().strip().split(","))
    pool = EnginePool(EngineConfig(
        urls=urls, model=MODEL, routing=policy,
        priority_scheduling=True, max_inflight_tokens=600_000, max_waiting=8,
        metrics_ttl_s=0.05, timeout_s=3600, deadline_s=7200,
    ))
    interactive: list[float] = []
    started = time.monotonic()

    async def run(review: Review) -> None:
        await asyncio.sleep(max(0.0, started + review.arrival_s * scale - time.monotonic()))
        priority = Priority.INTERACTIVE if review.interactive else Priority.REVIEW
        results = await asyncio.gather(*(
            pool.chat(ChatRequest(messages=messages(contexts[review.repo], review, task),  # type: ignore[arg-type]
                                  max_tokens=512),
                      affinity_key=f"repo-{review.repo}", priority=priority)
            for task in TASKS))
        if review.interactive:
            interactive.extend(result.total_s / scale for result in results)

    try:
        await asyncio.gather(*(run(review) for review in stream))
        makespan = (time.monotonic() - started) / scale
        queries = hits = 0.0
        async with httpx.AsyncClient() as client:
            for url in urls:
                samples = parse_metrics((await client.get(f"{url}/metrics")).text)
                queries += samples["vllm:prefix_cache_queries_total"]
                hits += samples["vllm:prefix_cache_hits_total"]
    finally:
        await pool.aclose()
        proc.stdin.close()
        proc.wait(timeout=10)
    p95 = statistics.quantiles(interactive, n=20)[-1] if len(interactive) > 1 else 0.0
    return Outcome(policy.value, int(queries - hits), makespan, p95, hits / max(1.0, queries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=300)
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--span", type=float, default=400.0, help="arrival window, sim seconds")
    parser.add_argument("--time-scale", type=float, default=0.004)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    contexts, stream = make_workload(args.seed, args.reviews, args.repos, args.span)
    outcomes = {}
    for policy in (RoutingPolicy.ROUND_ROBIN, RoutingPolicy.LEAST_LOADED,
                   RoutingPolicy.AFFINITY):
        outcome = asyncio.run(replay(policy, contexts, stream, args.time_scale))
        outcomes[policy] = outcome
        print(f"{outcome.policy:>13}: uncached_prefill_tokens={outcome.uncached_prefill:,} "
              f"prefix_hit_rate={outcome.hit_rate:.2f} makespan_s={outcome.makespan_s:.0f} "
              f"interactive_p95_s={outcome.interactive_p95_s:.1f}")
    base, ours = outcomes[RoutingPolicy.ROUND_ROBIN], outcomes[RoutingPolicy.AFFINITY]
    print(f"prefill_ratio_vs_round_robin={ours.uncached_prefill / base.uncached_prefill:.3f} "
          f"makespan_ratio_vs_round_robin={ours.makespan_s / base.makespan_s:.3f}")


if __name__ == "__main__":
    main()
