"""Render a kept test as one PR comment with its evidence and a hidden marker for idempotency.

The marker names the file, so a re-run finds and edits its own comment instead of posting
a second copy; the digest tells whether the content changed. The branch / follow-up PR
delivery is the service's job: it needs only `KeptTest.path` and `KeptTest.content`.
"""

from __future__ import annotations

import hashlib

from reviewers.testgen.model import KeptTest

MARKER_PREFIX = "<!-- reviewbot:generated-test "


def comment_marker(path: str) -> str:
    """The hidden first line identifying the comment for one test file."""
    safe = path.replace("--", "-\u2010")  # cannot end the HTML comment early
    return f"{MARKER_PREFIX}{safe} -->"


def content_digest(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]


def _percent(pair: tuple[int, int]) -> str:
    covered, total = pair
    return f"{covered}/{total}" + (f" ({100 * covered // total}%)" if total else "")


def render_test_comment(test: KeptTest) -> str:
    """Markdown for one test file: what it tests, the proof it ran, the code, how to run it."""
    fence = "````" if "```" in test.content else "```"
    targets = ", ".join(f"`{t}`" for t in sorted(set(test.targets)))
    behaviours = "\n".join(f"- {b}" for b in test.behaviours if b)
    lines = [
        comment_marker(test.path),
        f"### Generated test: `{test.path}`",
        "",
        f"Tests {targets}." + (f"\n\n{behaviours}" if behaviours else ""),
        "",
        "| evidence | |",
        "|---|---|",
        f"| runs in a sandbox (no network, no secrets) | {test.passes}/{test.runs} passed |",
        f"| changed lines covered | {_percent(test.coverage_before)} → "
        f"{_percent(test.coverage_after)} |",
        f"| validation time | {test.seconds:.1f} s |",
    ]
    if test.behaviour_change:
        lines.append("| on the base revision | fails: this test documents a behaviour change |")
    if test.newly_covered:
        shown = ", ".join(test.newly_covered[:12])
        more = f" and {len(test.newly_covered) - 12} more" if len(test.newly_covered) > 12 else ""
        lines.append(f"| lines first covered | {shown}{more} |")
    lines += [
        "",
        "<details><summary>Test code</summary>",
        "",
        f"{fence}python",
        test.content.rstrip("\n"),
        fence,
        "",
        "</details>",
        "",
        f"Run it with `{test.command}`. Content digest `{content_digest(test.content)}`.",
    ]
    return "\n".join(lines) + "\n"
