"""Read the few vLLM Prometheus gauges the router needs from `/metrics` text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(?P<value>\S+)")


@dataclass(frozen=True)
class LoadSnapshot:
    """Load of one replica as its metrics reported it (summed over engines/models)."""

    waiting: float
    running: float
    kv_cache_usage: float


def parse_samples(text: str) -> dict[str, float]:
    """Sum of samples per metric name (labels dropped); comments and bad lines ignored."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        sums[match["name"]] = sums.get(match["name"], 0.0) + value
    return sums


def load_from_metrics(text: str) -> LoadSnapshot:
    samples = parse_samples(text)
    return LoadSnapshot(
        waiting=samples.get("vllm:num_requests_waiting", 0.0),
        running=samples.get("vllm:num_requests_running", 0.0),
        kv_cache_usage=samples.get("vllm:kv_cache_usage_perc", 0.0),
    )
