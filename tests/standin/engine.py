"""The stand-in's GPU model: prefix cache, serial chunked prefill, batched decode, a queue."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

_ID_BYTES = array("I").itemsize


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
    """LRU of full token blocks, capacity in tokens (vLLM's automatic prefix caching).

    Each block's hash is chained to its parent's, as in vLLM, so a block matches only
    behind the same prefix; a lookup walks from the first block to the first miss.
    """

    def __init__(self, capacity_tokens: int, block_size: int) -> None:
        self.block_size = block_size
        self.capacity_blocks = max(1, capacity_tokens // block_size)
        self._blocks: dict[int, None] = {}  # insertion order = recency, oldest first

    def block_hashes(self, ids: Sequence[int]) -> list[int]:
        """One chained hash per full block of `ids`."""
        data = array("I", ids).tobytes()  # slicing bytes is cheaper than slicing tuples
        step = self.block_size * _ID_BYTES
        hashes, parent = [], 0
        for start in range(0, len(data) - step + 1, step):
            parent = hash((parent, data[start : start + step]))
            hashes.append(parent)
        return hashes

    def cached_tokens(self, hashes: list[int], prompt_len: int) -> int:
        hit = sum(1 for _ in itertools.takewhile(self._blocks.__contains__, hashes))
        # vLLM always recomputes at least the last prompt token
        return min(hit, (prompt_len - 1) // self.block_size) * self.block_size

    def insert(self, hashes: list[int]) -> None:
        """Mark the blocks most recent, the prompt's head last: like vLLM, which frees a
        request's blocks tail first, eviction eats suffixes before the prefixes they hang on.
        (Bulk dict operations: this runs per request on thousands of blocks.)"""
        newest_last = hashes[::-1]
        _drain(map(self._blocks.pop, newest_last, itertools.repeat(None)))
        self._blocks.update(zip(newest_last, itertools.repeat(None)))
        excess = len(self._blocks) - self.capacity_blocks
        if excess > 0:
            _drain(map(self._blocks.pop, list(itertools.islice(self._blocks, excess))))

    def clear(self) -> None:
        self._blocks.clear()


def _drain(iterator: Iterator[object]) -> None:
    """Run an iterator of side effects to its end at C speed."""
    deque(iterator, maxlen=0)


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
    the prefill lane; prefill costs uncached tokens / speed, decode runs batched.

    The lane is booked on a timeline: a request that was already waiting when the previous
    prefill ended starts at that scheduled end, not at the moment its coroutine woke up.
    So event-loop wake-ups and the host's CPU load (several replicas share one process)
    do not add idle gaps to the simulated GPU; they only delay answers on the wire.
    """

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.cache = PrefixCache(config.kv_capacity_tokens, config.block_size)
        self.counters = Counters()
        self.running = 0
        self.running_tokens = 0
        self._lane_busy = False
        self._lane_free_at = float("-inf")  # monotonic time the last booked prefill ends
        self._slot_free_at = float("-inf")  # when a full batch last gave a sequence slot back
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

    def _wall(self, simulated_s: float) -> float:
        return simulated_s * self.config.time_scale

    async def _sleep_until(self, at: float) -> None:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def process(
        self, ids: Sequence[int], priority: int, decode_tokens: int, extra_wall_s: float
    ) -> Outcome:
        """Run one request through queue, prefill and decode; cancellation aborts it cleanly."""
        cond = self._condition()
        key = priority if self.config.scheduling_policy == "priority" else 0
        ticket = (key, next(self._seq))
        arrived = time.monotonic()
        hashes = self.cache.block_hashes(ids)  # host work, before the request needs the GPU
        holds_slot = holds_lane = False
        done_at: float | None = None  # scheduled end; None while unfinished (or aborted)
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
        # waiting since before the lane freed: start when it freed, not when we woke up
        prefill_start = max(arrived, self._lane_free_at, self._slot_free_at)
        queue_s = prefill_start - arrived
        self.counters.queue_time.observe(queue_s)
        try:
            cached = self.cache.cached_tokens(hashes, len(ids))
            self.counters.prefix_queries += len(ids)
            self.counters.prefix_hits += cached
            uncached = len(ids) - cached
            prefill_end = prefill_start + self._wall(uncached / self.config.prefill_tokens_per_s)
            self._lane_free_at = prefill_end
            await self._sleep_until(prefill_end)
            self.cache.insert(hashes)
            self.counters.prefill_tokens_computed += uncached
            async with cond:
                self._lane_busy = holds_lane = False
                cond.notify_all()
            self.counters.ttft.observe(prefill_end - arrived)
            finish = prefill_end + self._wall(decode_tokens * self.config.decode_step_s)
            finish += extra_wall_s
            await self._sleep_until(finish)
            done_at = finish
        finally:
            async with cond:
                if holds_lane:
                    self._lane_busy = False
                    self._lane_free_at = time.monotonic()  # aborted mid-prefill: frees now
                if holds_slot:
                    if self.running >= self.config.max_num_seqs:  # somebody waits for it
                        self._slot_free_at = done_at if done_at is not None else time.monotonic()
                    self.running -= 1
                    self.running_tokens -= len(ids)
                cond.notify_all()
        self.counters.e2e.observe(finish - arrived)
        return Outcome(cached_tokens=cached, queue_s=queue_s)

    def kv_usage(self) -> float:
        return min(1.0, self.running_tokens / (self.cache.capacity_blocks * self.config.block_size))
