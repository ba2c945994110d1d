"""Backpressure: a bound on prompt tokens in flight to one replica, admitted by priority.

A prefix that a call shares with another call of its repository under way on the same
replica is charged once (`reviewers.engine.sharing`): vLLM holds its KV blocks once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_Waiter = tuple[int, int, int, "asyncio.Future[None]"]  # priority, arrival, tokens, wake-up


class TokenBudget:
    """Callers wait until their prompt fits under the limit and nobody more urgent is waiting.

    Waiters are admitted in (priority, arrival) order; a prompt larger than the whole limit
    is admitted alone when nothing else is in flight, so it cannot wait forever. Each waiter
    has its own future that a release resolves directly: with hundreds of callers queued on
    one busy replica, waking them all to re-check on every release would cost the event
    loop quadratic time and delay every other answer it is handling.
    """

    def __init__(self, limit_tokens: int) -> None:
        self.limit_tokens = limit_tokens
        self.inflight_tokens = 0
        self.inflight_requests = 0
        self.peak_inflight_tokens = 0
        self.waiting_tokens = 0
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def waiting_requests(self) -> int:
        return len(self._waiters)

    def _fits(self, tokens: int) -> bool:
        return self.inflight_requests == 0 or self.inflight_tokens + tokens <= self.limit_tokens

    def _take(self, tokens: int) -> None:
        self.inflight_tokens += tokens
        self.inflight_requests += 1
        self.peak_inflight_tokens = max(self.peak_inflight_tokens, self.inflight_tokens)

    def _release(self, tokens: int) -> None:
        self.inflight_tokens -= tokens
        self.inflight_requests -= 1
        self._admit_waiters()

    def _admit_waiters(self) -> None:
        """Admit from the head of the queue for as long as the head fits."""
        while self._waiters:
            _, _, tokens, wake = self._waiters[0]
            if not self._fits(tokens):
                return
            heapq.heappop(self._waiters)
            self.waiting_tokens -= tokens
            self._take(tokens)
            wake.set_result(None)

    @asynccontextmanager
    async def hold(self, tokens: int, priority: int) -> AsyncIterator[None]:
        """Wait for room for `tokens`, hold it for the body of the `async with`."""
        tokens = max(0, tokens)
        if not self._waiters and self._fits(tokens):
            self._take(tokens)
        else:
            wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            waiter: _Waiter = (priority, next(self._seq), tokens, wake)
            heapq.heappush(self._waiters, waiter)
            self.waiting_tokens += tokens
            try:
                await wake
            except BaseException:
                if wake.done() and not wake.cancelled():
                    self._release(tokens)  # admitted just as the caller gave up
                else:
                    self._waiters.remove(waiter)
                    heapq.heapify(self._waiters)
                    self.waiting_tokens -= tokens
                    self._admit_waiters()  # the head may have changed
                raise
        try:
            yield
        finally:
            self._release(tokens)
