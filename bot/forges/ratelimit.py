"""Reading forge rate-limit headers into a retry delay, and pacing content-creating calls."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping

DEFAULT_SECONDARY_WAIT_S = 60.0
MIN_WAIT_S = 1.0


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def is_rate_limited(status: int, headers: Mapping[str, str] | None, message: str = "") -> bool:
    """429, or a 403 that GitHub/GitLab marks as a rate limit (headers or message)."""
    if status == 429:
        return True
    if status != 403:
        return False
    low = _lower(headers)
    if "retry-after" in low:
        return True
    if low.get("x-ratelimit-remaining") == "0" or low.get("ratelimit-remaining") == "0":
        return True
    return "rate limit" in message.lower()


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float:
    """Seconds to wait: `Retry-After`, else the reset epoch of an exhausted limit, else 60 s."""
    low = _lower(headers)
    current = time.time() if now is None else now
    retry_after = low.get("retry-after")
    if retry_after is not None:
        delay = _parse_retry_after(retry_after, current)
        if delay is not None:
            return max(delay, MIN_WAIT_S)
    for remaining_key, reset_key in (
        ("x-ratelimit-remaining", "x-ratelimit-reset"),
        ("ratelimit-remaining", "ratelimit-reset"),
    ):
        if low.get(remaining_key) == "0" and reset_key in low:
            try:
                return max(float(low[reset_key]) - current, MIN_WAIT_S)
            except ValueError:
                continue
    return DEFAULT_SECONDARY_WAIT_S


def _parse_retry_after(value: str, now: float) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now


class WritePacer:
    """Keeps content-creating calls at least `min_interval_s` apart (secondary rate limits)."""

    def __init__(
        self,
        min_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = max(min_interval_s, 0.0)
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if self._last is not None and self._interval:
                delay = self._last + self._interval - now
                if delay > 0:
                    self._sleep(delay)
                    now = self._clock()
            self._last = now
