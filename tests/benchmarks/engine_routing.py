"""Replay 300 reviews over 30 repositories against 4 stand-in replicas under three routing
policies; compare uncached prefill tokens, makespan and interactive p95 latency.

Run: python -m tests.benchmarks.engine_routing [--time-scale 0.05] [--policy affinity]
Times are reported in simulated GPU seconds (wall seconds / time scale). The pool under
test is the real `EnginePool` (each policy is one of its routing settings), over HTTP to
four stand-in processes that model prefix caching, prefill/decode speed and priorities.

Besides the figures the issue asks for, each line shows what does not depend on the host:
the uncached prefill tokens and the busiest replica's prefill time (its uncached tokens /
its prefill speed, a lower bound on the makespan), and what does: the mean wait under the
pool's own token budget (`client_queue_s`) and `host_lag_s`, the mean latency the client
saw beyond that wait and the stand-ins' time model. A large host lag means this machine
could not keep up at this time scale (CPU load), which stretches every time figure.
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
KV_CAPACITY_TOKENS = 600_000  # per replica; 2xH100 holds ~330k, 2xH200 ~1M (deploy/vllm)
PREFILL_TOKENS_PER_S = 8000  # per replica, uncached prompt tokens
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
    spilled: int
    busiest_prefill_s: float  # uncached tokens of the busiest replica / its prefill speed
    client_queue_s: float  # mean wait for room under the pool's own token budget
    host_lag_s: float  # mean latency beyond client queue + the servers' time model


def start_replicas(count: int, scale: float) -> tuple[list[subprocess.Popen[str]], tuple[str, ...]]:
    """One stand-in process per replica, as one GPU server per replica: their own CPU work
    (HTTP, tokenizing, block hashing) then does not queue behind the other replicas'."""
    procs = [subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--replicas", "1", "--model", MODEL,
         "--time-scale", str(scale), "--kv-capacity-tokens", str(KV_CAPACITY_TOKENS),
         "--prefill-tokens-per-s", str(PREFILL_TOKENS_PER_S), "--decode-step-s", "0.03",
         "--max-num-seqs", "64", "--scheduling-policy", "priority", "--answer", ANSWER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) for _ in range(count)]
    urls = []
    for proc in procs:
        assert proc.stdout is not None
        urls.append(proc.stdout.readline().strip())
    return procs, tuple(urls)


def stop_replicas(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    for proc in procs:
        proc.wait(timeout=10)


async def replay(policy: RoutingPolicy, contexts: list[str], stream: list[Review],
                 scale: float) -> Outcome:
    procs, urls = start_replicas(4, scale)
    pool = EnginePool(EngineConfig(
        urls=urls, model=MODEL, routing=policy,
        priority_scheduling=True, max_inflight_tokens=KV_CAPACITY_TOKENS, max_waiting=8,
        # the pool's production defaults (1 s / 5 s), in simulated time
        metrics_ttl_s=1.0 * scale, metrics_max_age_s=5.0 * scale,
        timeout_s=3600, deadline_s=7200,
    ))
    interactive: list[float] = []
    started = time.monotonic()

    async def run(review: Review) -> None:
        await asyncio.sleep(max(0.0, started + review.arrival_s * scale - time.monotonic()))
        priority = Priority.INTERACTIVE if review.interactive else Priority.REVIEW
        results = await asyncio.gather(*(
            pool.chat(ChatRequest(messages=messages(contexts[review.repo], review, task),
                                  max_tokens=512),
                      affinity_key=f"repo-{review.repo}", priority=priority)
            for task in TASKS))
        if review.interactive:
            interactive.extend(result.total_s / scale for result in results)

    try:
        await asyncio.gather(*(run(review) for review in stream))
        makespan = (time.monotonic() - started) / scale
        totals = dict.fromkeys(("queries", "hits", "e2e_sum", "e2e_count"), 0.0)
        uncached_per_replica = []
        async with httpx.AsyncClient() as client:
            for url in urls:
                samples = parse_metrics((await client.get(f"{url}/metrics")).text)
                totals["queries"] += samples["vllm:prefix_cache_queries_total"]
                totals["hits"] += samples["vllm:prefix_cache_hits_total"]
                uncached_per_replica.append(samples["vllm:prefix_cache_queries_total"]
                                            - samples["vllm:prefix_cache_hits_total"])
                totals["e2e_sum"] += samples["vllm:e2e_request_latency_seconds_sum"]
                totals["e2e_count"] += samples["vllm:e2e_request_latency_seconds_count"]
        records = list(pool.records)
    finally:
        await pool.aclose()
        stop_replicas(procs)
    p95 = statistics.quantiles(interactive, n=20)[-1] if len(interactive) > 1 else 0.0
    client_mean = statistics.mean(record.total_s for record in records) / scale
    queue_mean = statistics.mean(record.queue_s for record in records) / scale
    server_mean = totals["e2e_sum"] / max(1.0, totals["e2e_count"]) / scale
    return Outcome(
        policy=policy.value, uncached_prefill=int(totals["queries"] - totals["hits"]),
        makespan_s=makespan, interactive_p95_s=p95,
        hit_rate=totals["hits"] / max(1.0, totals["queries"]),
        spilled=sum(record.spilled for record in records),
        busiest_prefill_s=max(uncached_per_replica) / PREFILL_TOKENS_PER_S,
        client_queue_s=queue_mean, host_lag_s=client_mean - queue_mean - server_mean,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reviews", type=int, default=300)
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--span", type=float, default=400.0, help="arrival window, sim seconds")
    parser.add_argument("--time-scale", type=float, default=0.05,
                        help="wall seconds per simulated second; smaller runs faster until "
                             "the host cannot keep up (host_lag_s grows)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--policy", action="append", choices=[p.value for p in RoutingPolicy],
                        help="run only these policies (the ratios need round_robin and affinity)")
    args = parser.parse_args()
    contexts, stream = make_workload(args.seed, args.reviews, args.repos, args.span)
    outcomes = {}
    chosen = [RoutingPolicy(value) for value in args.policy] if args.policy else [
        RoutingPolicy.ROUND_ROBIN, RoutingPolicy.LEAST_LOADED, RoutingPolicy.AFFINITY]
    for policy in chosen:
        outcome = asyncio.run(replay(policy, contexts, stream, args.time_scale))
        outcomes[policy] = outcome
        print(f"{outcome.policy:>13}: uncached_prefill_tokens={outcome.uncached_prefill:,} "
              f"prefix_hit_rate={outcome.hit_rate:.2f} makespan_s={outcome.makespan_s:.0f} "
              f"interactive_p95_s={outcome.interactive_p95_s:.1f} spilled={outcome.spilled} "
              f"busiest_replica_prefill_s={outcome.busiest_prefill_s:.0f} "
              f"client_queue_s={outcome.client_queue_s:.1f} host_lag_s={outcome.host_lag_s:.1f}",
              flush=True)
    if RoutingPolicy.ROUND_ROBIN not in outcomes or RoutingPolicy.AFFINITY not in outcomes:
        return
    base, ours = outcomes[RoutingPolicy.ROUND_ROBIN], outcomes[RoutingPolicy.AFFINITY]
    print(f"prefill_ratio_vs_round_robin={ours.uncached_prefill / base.uncached_prefill:.3f} "
          f"makespan_ratio_vs_round_robin={ours.makespan_s / base.makespan_s:.3f}")


if __name__ == "__main__":
    main()
