"""One writer thread that records deliveries in batches for the event loop.

Recording a delivery costs a few database round trips and a synchronous commit; done per
request on the server's thread pool, that (not the signature check or the broker) bounds
how many deliveries a second the edge takes. Here the receivers hand their routed
deliveries to a single thread, which takes whatever arrived while it was busy as its next
batch (up to `max_batch`): one INSERT and one commit record them all, one UPDATE marks
them enqueued. A lone delivery is recorded at once, so batching adds no wait when the
edge is quiet, and the web process holds one database connection instead of one per
thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from bot.errors import HistoryError
from bot.webhooks.intake import Accepted, Delivery, DeliveryIntake, IntakeResult

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 64
IDLE_EXIT_S = 30.0  # an idle writer thread ends; the next delivery starts another


class IntakeClosed(HistoryError):
    """The server is shutting down; the delivery was not recorded (the edge answers 503)."""


@dataclass(frozen=True)
class _Pending:
    delivery: Delivery
    future: Future[IntakeResult]


class BatchingIntake:
    """`await accept(delivery)` from the event loop; a writer thread does the recording."""

    def __init__(self, intake: DeliveryIntake, *, max_batch: int = DEFAULT_MAX_BATCH,
                 idle_exit_s: float = IDLE_EXIT_S) -> None:
        self._intake = intake
        self._max_batch = max_batch
        self._idle_exit_s = idle_exit_s
        self._pending: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    async def accept(self, delivery: Delivery) -> IntakeResult:
        """Record and enqueue; raises QueueUnavailable or HistoryError (the edge says 503)."""
        future: Future[IntakeResult] = Future()
        with self._lock:
            if self._closed:
                raise IntakeClosed("the server is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="delivery-intake",
                                                daemon=True)
                self._thread.start()
            self._pending.put(_Pending(delivery, future))
        return await asyncio.wrap_future(future)

    @property
    def waiting(self) -> int:
        """Deliveries handed over but not yet taken into a batch."""
        return self._pending.qsize()

    def close(self, timeout: float = 10.0) -> None:
        """Record what is queued, then stop the writer; later deliveries are refused."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._pending.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                first = self._pending.get(timeout=self._idle_exit_s)
            except queue.Empty:
                with self._lock:  # receivers enqueue under this lock: none can slip in now
                    if self._pending.empty():
                        self._thread = None
                        return
                continue
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._record(batch)
            if stop:
                return

    def _record(self, batch: list[_Pending]) -> None:
        # A receiver whose client went away before its turn cancelled its future: skip it.
        live = [item for item in batch if item.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results: list[Accepted] = self._intake.accept_batch([i.delivery for i in live])
        except Exception as exc:  # every waiting receiver must get an answer
            log.exception("webhook.intake_crashed")
            for item in live:
                item.future.set_exception(exc)
            return
        for item, result in zip(live, results, strict=True):
            if isinstance(result, IntakeResult):
                item.future.set_result(result)
            else:
                item.future.set_exception(result)
