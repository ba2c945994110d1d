"""The closed vocabularies of the history tables, as string enums stored by value."""

from __future__ import annotations

from enum import StrEnum


class Forge(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    LOCAL = "local"


class PullRequestState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class RunTrigger(StrEnum):
    """Why a review ran. Stored without a CHECK constraint so new triggers need no migration."""

    CLI = "cli"
    OPENED = "opened"
    REOPENED = "reopened"
    SYNCHRONIZE = "synchronize"
    READY_FOR_REVIEW = "ready_for_review"
    COMMAND = "command"
    RERUN = "rerun"
    REREQUESTED = "rerequested"
    REQUESTED_ACTION = "requested_action"
    CLOSED = "closed"  # the PR/MR closed or merged: collect the last feedback, no review


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NEUTRAL = "neutral"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class FindingState(StrEnum):
    OPEN = "open"
    POSTED = "posted"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"
    OUTDATED = "outdated"


# A new sighting of one of these fingerprints is the same finding, not a new one.
LIVE_FINDING_STATES = (FindingState.OPEN, FindingState.POSTED, FindingState.DISMISSED)


class TestFate(StrEnum):
    __test__ = False  # not a pytest test class

    KEPT = "kept"
    FAILED_TO_COLLECT = "failed_to_collect"
    FAILED = "failed"
    FLAKY = "flaky"
    NO_ASSERTIONS = "no_assertions"
    NO_COVERAGE_GAIN = "no_coverage_gain"


class DeliveryStatus(StrEnum):
    ACCEPTED = "accepted"
    ENQUEUED = "enqueued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DUPLICATE = "duplicate"
