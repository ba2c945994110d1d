"""Pick a replica for a call: rendezvous hashing for prefix affinity, least-loaded spill."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from reviewers.engine.config import RoutingPolicy


class Candidate(Protocol):
    """What the router needs to know about a replica."""

    @property
    def url(self) -> str: ...

    def load_score(self) -> float: ...

    def backlog(self) -> float: ...


@dataclass(frozen=True)
class Route:
    """The chosen replica url, and whether it differs from the affinity choice."""

    url: str
    spilled: bool


def rendezvous_order(key: str, urls: Sequence[str]) -> list[str]:
    """Highest-random-weight order of `urls` for `key`: stable when other replicas come or go."""

    def weight(url: str) -> int:
        digest = hashlib.blake2b(f"{key}\x00{url}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return sorted(urls, key=weight, reverse=True)


class Router:
    """Routing policy over the replicas that are currently healthy."""

    def __init__(self, policy: RoutingPolicy, max_waiting: int) -> None:
        self.policy = policy
        self.max_waiting = max_waiting
        self._round_robin = itertools.count()

    def choose(self, key: str, all_urls: Sequence[str], healthy: Sequence[Candidate]) -> Route:
        """`healthy` must not be empty; `all_urls` decides the affinity replica."""
        if self.policy is RoutingPolicy.ROUND_ROBIN:
            index = next(self._round_robin) % len(healthy)
            return Route(healthy[index].url, spilled=False)
        least = min(healthy, key=lambda cand: cand.load_score())
        if self.policy is RoutingPolicy.LEAST_LOADED:
            return Route(least.url, spilled=False)
        preferred_url = rendezvous_order(key, all_urls)[0]
        by_url = {cand.url: cand for cand in healthy}
        preferred = by_url.get(preferred_url)
        if preferred is not None and preferred.backlog() <= self.max_waiting:
            return Route(preferred.url, spilled=False)
        if preferred is None:
            # Unhealthy: next in rendezvous order keeps keys spread and stable while it is down,
            # unless that one is overloaded too.
            for url in rendezvous_order(key, all_urls):
                cand = by_url.get(url)
                if cand is not None and cand.backlog() <= self.max_waiting:
                    return Route(url, spilled=True)
        return Route(least.url, spilled=least.url != preferred_url)
