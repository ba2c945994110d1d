"""Rate-limit headers into retry delays, write pacing, markers and comment rendering."""

from __future__ import annotations

from email.utils import formatdate

from bot.forges.base import InlineComment
from bot.forges.markers import find_fingerprints, fingerprint_marker
from bot.forges.ratelimit import WritePacer, is_rate_limited, retry_after_seconds
from bot.forges.render import MAX_BODY_CHARS, comment_body

NOW = 1_700_000_000.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds({"Retry-After": "42"}, NOW) == 42
    assert retry_after_seconds({"retry-after": formatdate(NOW + 90, usegmt=True)}, NOW) == 90


def test_reset_headers_of_an_exhausted_limit() -> None:
    github = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 300)}
    gitlab = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW) + 12)}
    assert retry_after_seconds(github, NOW) == 300
    assert retry_after_seconds(gitlab, NOW) == 12
    # a limit that is not exhausted says nothing: fall back to GitHub's advice of one minute
    assert retry_after_seconds({"X-RateLimit-Remaining": "10"}, NOW) == 60


def test_which_answers_are_rate_limits() -> None:
    assert is_rate_limited(429, {})
    assert is_rate_limited(403, {"x-ratelimit-remaining": "0"})
    assert is_rate_limited(403, {}, "You have exceeded a secondary rate limit")
    assert not is_rate_limited(403, {"x-ratelimit-remaining": "4999"}, "Resource not accessible")


def test_pacer_spaces_writes() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = WritePacer(0.75, clock=lambda: clock[0], sleep=sleep)
    pacer.wait()
    clock[0] += 0.25
    pacer.wait()
    clock[0] += 2.0
    pacer.wait()
    assert slept == [0.5]


def test_markers_round_trip_and_bodies_stay_under_the_limit() -> None:
    body = comment_body(InlineComment("a.py", 3, "x" * 70_000, fingerprint="abc:1"), "github")
    assert len(body) <= MAX_BODY_CHARS
    assert find_fingerprints(body) == {"abc:1"}
    assert find_fingerprints("<!-- reviewbot:fp=evil --> text") == {"evil"}
    assert fingerprint_marker("f1") == "<!-- reviewbot:fp=f1 -->"
