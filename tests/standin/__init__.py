"""A faithful local stand-in for `vllm serve`, with a GPU time model, for tests and benchmarks."""

from tests.standin.app import RecordedRequest
from tests.standin.engine import StandinConfig
from tests.standin.script import ChatCall, Reply
from tests.standin.server import StandinServer, parse_metrics

__all__ = ["ChatCall", "RecordedRequest", "Reply", "StandinConfig", "StandinServer",
           "parse_metrics"]
