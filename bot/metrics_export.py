"""Exposing the metrics: the API's `/metrics`, queue depth read at scrape time, the worker
exporter.

Celery workers are separate processes (a prefork pool of children), so they run in
prometheus_client's *multiprocess mode*: `PROMETHEUS_MULTIPROC_DIR` names an empty, per-pod
directory (the worker clears it at start), and `serve_worker_metrics(port)` exposes the
children's merged values on a port of its own (`REVIEWBOT_METRICS_PORT`, scraped per worker
pod). Without that variable every process keeps its own values in memory, which is right
for the single-process API.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


# -- queue depth (collected at scrape time) ---------------------------------------------------

class ListLengths(Protocol):
    """What the queue-depth collector needs from a Redis client."""

    def llen(self, name: str) -> int: ...


# Celery's Redis transport keeps one list per queue and priority step; step 0 is the bare name.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold a Celery queue's messages."""
    return [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]


class QueueDepthCollector(Collector):
    """`reviewbot_queue_depth{queue}`: jobs waiting in each broker queue, read at scrape time.

    A broker that cannot be read yields no sample (and `reviewbot_queue_depth_up 0`), never
    an exception: the scrape of every other series must still succeed.
    """

    def __init__(self, redis: ListLengths, queues: Sequence[str]) -> None:
        self._redis = redis
        self._queues = tuple(queues)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily("reviewbot_queue_depth", "Jobs waiting in the broker queue.",
                                  labels=["queue"])
        up = GaugeMetricFamily("reviewbot_queue_depth_up",
                               "1 when the broker answered the queue-depth probe.")
        try:
            values = {q: sum(int(self._redis.llen(k)) for k in queue_keys(q))
                      for q in self._queues}
        except (RedisError, OSError) as exc:  # a scrape must not fail on the broker
            log.warning("metrics.queue_depth_failed", extra={"error_type": type(exc).__name__})
            up.add_metric([], 0)
        else:
            for queue, value in values.items():
                depth.add_metric([queue], value)
            up.add_metric([], 1)
        yield depth
        yield up


# -- exposition -------------------------------------------------------------------------------

def exposition_registry(extra: Sequence[Collector] = ()) -> CollectorRegistry:
    """The registry to render: the merged multiprocess files when the mode is on."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        if extra:
            registry = CollectorRegistry()
            registry.register(_Forward(REGISTRY))
            for collector in extra:
                registry.register(collector)
            return registry
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward(Collector):
    """Yields another registry's metrics, so extra collectors never touch the global one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        return self._source.collect()


def render(extra: Sequence[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition and its content type."""
    return generate_latest(exposition_registry(extra)), CONTENT_TYPE_LATEST


_exporter_lock = threading.Lock()
_exporter_started: set[int] = set()


def serve_worker_metrics(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped
    """Expose the worker's metrics on `port` (idempotent). Call once in the Celery *parent*.

    With `PROMETHEUS_MULTIPROC_DIR` set, the prefork children's values are merged.
    """
    with _exporter_lock:
        if port in _exporter_started:
            return
        try:
            start_http_server(port, addr=addr, registry=exposition_registry())
        except OSError as exc:  # the worker still reviews; only its metrics are missing
            log.error("metrics.exporter_failed", extra={"port": port, "error": str(exc)})
            return
        _exporter_started.add(port)


def mark_child_exited(pid: int) -> None:
    """Drop a dead prefork child's live gauges (Celery `worker_process_shutdown`)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def clear_multiprocess_dir() -> None:
    """Remove the value files a previous run left (an emptyDir survives container restarts)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)  # /tmp of a fresh container has no such directory
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def install_worker_metrics(port: int) -> None:
    """Celery signal handlers: the exporter in the worker's parent, dead children cleaned.

    Call before the worker starts (`taskqueue.worker.main`). With port 0 nothing is served.
    """
    from celery.signals import worker_init, worker_process_shutdown

    if port <= 0:
        return
    if not os.environ.get(MULTIPROC_ENV):
        log.warning("metrics.multiprocess_off", extra={
            "hint": f"set {MULTIPROC_ENV} to an empty directory, or the prefork children's "
                    "metrics are not exported"})

    def start(**_: object) -> None:
        clear_multiprocess_dir()
        serve_worker_metrics(port)

    def child_exited(pid: int | None = None, **_: object) -> None:
        mark_child_exited(pid if pid is not None else os.getpid())

    worker_init.connect(start, weak=False)
    worker_process_shutdown.connect(child_exited, weak=False)
