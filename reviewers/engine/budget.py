"""Backpressure: a bound on prompt tokens in flight to one replica, admitted by priority."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TokenBudget:
    """Callers wait until their prompt fits under the limit and nobody more urgent is waiting.

    Waiters are admitted in (priority, arrival) order; a prompt larger than the whole limit
    is admitted alone when nothing else is in flight, so it cannot wait forever.
    """

    def __init__(self, limit_tokens: int) -> None:
        self.limit_tokens = limit_tokens
        self.inflight_tokens = 0
        self.inflight_requests = 0
        self.peak_inflight_tokens = 0
        self._cond = asyncio.Condition()
        self._waiters: list[tuple[int, int, int]] = []
        self._seq = itertools.count()

    @property
    def waiting_tokens(self) -> int:
        return sum(tokens for _, _, tokens in self._waiters)

    @property
    def waiting_requests(self) -> int:
        return len(self._waiters)

    def _admissible(self, ticket: tuple[int, int, int]) -> bool:
        if self._waiters[0] != ticket:
            return False
        tokens = ticket[2]
        return self.inflight_requests == 0 or self.inflight_tokens + tokens <= self.limit_tokens

    @asynccontextmanager
    async def hold(self, tokens: int, priority: int) -> AsyncIterator[None]:
        """Wait for room for `tokens`, hold it for the body of the `async with`."""
        ticket = (priority, next(self._seq), max(0, tokens))
        async with self._cond:
            heapq.heappush(self._waiters, ticket)
            try:
                await self._cond.wait_for(lambda: self._admissible(ticket))
            except BaseException:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._cond.notify_all()
                raise
            heapq.heappop(self._waiters)
            self.inflight_tokens += ticket[2]
            self.inflight_requests += 1
            self.peak_inflight_tokens = max(self.peak_inflight_tokens, self.inflight_tokens)
            self._cond.notify_all()
        try:
            yield
        finally:
            async with self._cond:
                self.inflight_tokens -= ticket[2]
                self.inflight_requests -= 1
                self._cond.notify_all()
