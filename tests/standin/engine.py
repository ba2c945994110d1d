"""The stand-in's GPU model: prefix cache, serial chunked prefill, batched decode, a queue."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class StandinConfig:
    """Knobs mirroring `vllm serve` flags, plus the time model (simulated GPU seconds)."""

    model: str = "IQuest-Coder-V1-40B-Instruct"
    max_model_len: int = 131072
    block_size: int = 16
    kv_capacity_tokens: int = 600_000
    prefill_tokens_per_s: float = 6000.0
    decode_step_s: float = 0.03
    max_num_seqs: int = 64
    max_num_queued_reqs: int | None = None
    scheduling_policy: str = "fcfs"  # or "priority"
    time_scale: float = 0.0  # wall seconds per simulated second (0 = instant)
    prompt_tokens_details: bool = True  # `--enable-prompt-tokens-details`


class PrefixCache:
    """LRU of full-block hashes, capacity in tokens (vLLM's automatic prefix caching)."""

    def __init__(self, capacity_tokens: int, block_size: int) -> None:
        self.block_size = block_size
        self.capacity_blocks = max(1, capacity_tokens // block_size)
        self._blocks: OrderedDict[int, None] = OrderedDict()

    def block_hashes(self, ids: Sequence[int]) -> list[int]:
        hashes, parent = [], 0
        for start in range(0, len(ids) - self.block_size + 1, self.block_size):
            parent = hash((parent, tuple(ids[start : start + self.block_size])))
            hashes.append(parent)
        return hashes

    def cached_tokens(self, hashes: list[int], prompt_len: int) -> int:
        hit = 0
        for block in hashes:
            if block not in self._blocks:
                break
            self._blocks.move_to_end(block)
            hit += 1
        # vLLM always recomputes at least the last prompt token
        return min(hit, (prompt_len - 1) // self.block_size) * self.block_size

    def insert(self, hashes: list[int]) -> None:
        for block in hashes:
            self._blocks[block] = None
            self._blocks.move_to_end(block)
        while len(self._blocks) > self.capacity_blocks:
            self._blocks.popitem(last=False)

    def clear(self) -> None:
        self._blocks.clear()


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
        self.total += value
        self.n += 1


_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class Counters:
    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    prefill_tokens_computed: int = 0
    requests_aborted: int = 0
    rejections: int = 0
    ttft: Histogram = field(default_factory=lambda: Histogram(_LATENCY_BUCKETS))
    e2e: Histogram = field(default_factory=lambda: Histogram(_LATENCY_BUCKETS))
    queue_time: Histogram = field(default_factory=lambda: Histogram(_LATENCY_BUCKETS))


@dataclass(frozen=True)
class Outcome:
    cached_tokens: int
    queue_s: float


class SimEngine:
    """Requests wait (by priority under `priority`, else by arrival) for a sequence slot and
    the prefill lane; prefill costs uncached tokens / speed, decode runs batched."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.cache = PrefixCache(config.kv_capacity_tokens, config.block_size)
        self.counters = Counters()
        self.running = 0
        self.running_tokens = 0
        self._lane_busy = False
        self._waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._cond: asyncio.Condition | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def _sleep(self, simulated_s: float) -> None:
        await asyncio.sleep(simulated_s * self.config.time_scale)

    async def process(
        self, ids: Sequence[int], priority: int, decode_tokens: int, extra_wall_s: float
    ) -> Outcome:
        """Run one request through queue, prefill and decode; cancellation aborts it cleanly."""
        cond = self._condition()
        key = priority if self.config.scheduling_policy == "priority" else 0
        ticket = (key, next(self._seq))
        arrived = time.monotonic()
        holds_slot = holds_lane = False
        async with cond:
            heapq.heappush(self._waiting, ticket)
            try:
                await cond.wait_for(
                    lambda: self._waiting[0] == ticket
                    and not self._lane_busy
                    and self.running < self.config.max_num_seqs
                )
            except BaseException:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                cond.notify_all()
                raise
            heapq.heappop(self._waiting)
            self._lane_busy = holds_lane = True
            self.running += 1
            self.running_tokens += len(ids)
            holds_slot = True
        queue_s = time.monotonic() - arrived
        self.counters.queue_time.observe(queue_s)
        try:
            hashes = self.cache.block_hashes(ids)
            cached = self.cache.cached_tokens(hashes, len(ids))
            self.counters.prefix_queries += len(ids)
            self.counters.prefix_hits += cached
            uncached = len(ids) - cached
            await self._sleep(uncached / self.config.prefill_tokens_per_s)
            self.cache.insert(hashes)
            self.counters.prefill_tokens_computed += uncached
            async with cond:
                self._lane_busy = holds_lane = False
                cond.notify_all()
            self.counters.ttft.observe(time.monotonic() - arrived)
            await self._sleep(decode_tokens * self.config.decode_step_s)
            if extra_wall_s:
                await asyncio.sleep(extra_wall_s)
        finally:
            async with cond:
                if holds_lane:
                    self._lane_busy = False
                if holds_slot:
                    self.running -= 1
                    self.running_tokens -= len(ids)
                cond.notify_all()
        self.counters.e2e.observe(time.monotonic() - arrived)
        return Outcome(cached_tokens=cached, queue_s=queue_s)

    def kv_usage(self) -> float:
        return min(1.0, self.running_tokens / (self.cache.capacity_blocks * self.config.block_size))
