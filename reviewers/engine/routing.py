"""Pick a replica for a call: rendezvous hashing for prefix affinity, bounded-load spill."""

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
        return self._affinity(key, all_urls, healthy)

    def _affinity(self, key: str, all_urls: Sequence[str], healthy: Sequence[Candidate]) -> Route:
        """First replica in the key's rendezvous order that is healthy and within the bound.

        Walking the key's own order (rather than jumping to the least-loaded replica) sends a
        repository's overflow to the same second replica each time, so the prefix warms there
        too and a spill costs one cold prefill, not one per call. When every healthy replica
        is over the bound the fleet is saturated: moving a call would only add a cold prefill
        somewhere equally busy, so it stays with its cache unless its replica has more than
        twice the backlog of the least busy one.
        """
        order = rendezvous_order(key, all_urls)
        by_url = {cand.url: cand for cand in healthy}
        ranked = [by_url[url] for url in order if url in by_url]
        for cand in ranked:
            if cand.backlog() <= self.max_waiting:
                return Route(cand.url, spilled=cand.url != order[0])
        first = ranked[0]
        calmest = min(ranked, key=lambda cand: cand.backlog())
        chosen = calmest if first.backlog() > 2 * calmest.backlog() else first
        return Route(chosen.url, spilled=chosen.url != order[0])
