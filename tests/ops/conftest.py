"""Fixtures of the operations tests: a Redis database of their own, metrics read back."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

OPS_REDIS_URL = os.environ.get("REVIEWBOT_OPS_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def ops_redis() -> Iterator[redis.Redis]:
    """Redis database 13, flushed before and after (no other test suite uses it)."""
    client = redis.Redis.from_url(OPS_REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is required at {OPS_REDIS_URL}: {exc}")
    yield client
    client.flushdb()
    client.close()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition, keyed by name and sorted labels."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(exposition: str, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent (counters start absent)."""
    return samples(exposition).get((name, tuple(sorted(labels.items()))), 0.0)
