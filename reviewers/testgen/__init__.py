"""Generated unit tests that have been run: targets, generation, sandboxed validation, delivery.

Entry point: `await generate_tests(engine, prefix, repo_root, diff, head_tree, options=...)`.
"""

from reviewers.testgen.delivery import comment_marker, render_test_comment
from reviewers.testgen.model import (
    Candidate,
    CandidateResult,
    KeptTest,
    Step,
    Target,
    TestFate,
    TestGenOptions,
    TestGenResult,
)
from reviewers.testgen.pipeline import TestGenSetup, generate_tests
from reviewers.testgen.sandbox import Sandbox, SandboxConfig, SandboxResult, SandboxUnavailable

__all__ = [
    "Candidate",
    "CandidateResult",
    "KeptTest",
    "Sandbox",
    "SandboxConfig",
    "SandboxResult",
    "SandboxUnavailable",
    "Step",
    "Target",
    "TestFate",
    "TestGenOptions",
    "TestGenResult",
    "TestGenSetup",
    "comment_marker",
    "generate_tests",
    "render_test_comment",
]
