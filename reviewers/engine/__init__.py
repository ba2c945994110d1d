"""Engine client: an `EnginePool` over OpenAI-compatible vLLM replicas, with prefix affinity."""

from reviewers.engine.calls import (
    CallRecord,
    ChatRequest,
    ChatResult,
    Message,
    ReplicaDescription,
)
from reviewers.engine.config import EngineConfig, Priority, RoutingPolicy
from reviewers.engine.pool import EnginePool
from reviewers.engine.tokens import EngineTokenCounter

__all__ = [
    "CallRecord",
    "ChatRequest",
    "ChatResult",
    "EngineConfig",
    "EnginePool",
    "EngineTokenCounter",
    "Message",
    "Priority",
    "ReplicaDescription",
    "RoutingPolicy",
]
