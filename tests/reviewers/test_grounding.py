"""Grounding over diffs of real repositories: keep, move, drop, fingerprint and merge."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reviewers.diff import ReviewDiff
from reviewers.findings import Category, Finding, Severity
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import open_repository
from reviewers.grounding import DropReason, ground
from tests.gitbuilder import GitRepo

PADDING = "".join(f"# filler {i}\n" for i in range(30))
BASE_APP = (
    "import os\n"                    # 1
    "\n"                             # 2
    "def load(path):\n"              # 3
    "    with open(path) as fh:\n"   # 4
    "        return fh.read()\n"     # 5
    + PADDING                        # 6..35
    + "def tail():\n"                # 36
    "    return 1\n"                 # 37
)
HEAD_APP = (
    "import os\n"                    # 1
    "\n"                             # 2
    "def load(path):\n"              # 3
    "    with open(path) as fh:\n"   # 4
    "        data = fh.read()\n"     # 5  added
    "    return eval(data)\n"        # 6  added
    + PADDING                        # 7..36
    + "def tail():\n"                # 37
    "    value = eval(data)\n"       # 38 added
    "    return value\n"             # 39 added
)


def make_finding(path: str = "app.py", line: int = 6, *, end_line: int | None = None,
                 source: str = "llm", rule: str = "code-injection",
                 category: Category = Category.SECURITY, severity: Severity = Severity.MEDIUM,
                 cwe: str | None = None, message: str = "eval of untrusted data",
                 quote: str | None = None, suggestion: str | None = None,
                 confidence: float = 0.5) -> Finding:
    extra: dict[str, Any] = {} if quote is None else {"quote": quote}
    return Finding(path=path, line=line, end_line=line if end_line is None else end_line,
                   severity=severity, category=category, rule=rule, message=message,
                   source=source, cwe=cwe, suggestion=suggestion, confidence=confidence,
                   extra=extra)


def diff_between(git_repo: GitRepo, base: dict[str, str | bytes],
                 head: dict[str, str | bytes]) -> ReviewDiff:
    git_repo.commit("base", base)
    git_repo.branch("feature")
    git_repo.commit("feature", head)
    return load_diff(open_repository(git_repo.root), "main", "feature")


@pytest.fixture
def app_diff(git_repo: GitRepo) -> ReviewDiff:
    return diff_between(git_repo, {"app.py": BASE_APP, "other.py": "x = 1\n"},
                        {"app.py": HEAD_APP})


def test_only_findings_on_hunk_lines_are_kept(app_diff: ReviewDiff) -> None:
    on_added = make_finding(line=6)
    on_context = make_finding(line=3, rule="ctx")
    outside = make_finding(line=20, rule="far")
    elsewhere = make_finding(path="other.py", line=1)

    result = ground([on_added, on_context, outside, elsewhere], app_diff)

    assert [(f.line, f.rule) for f in result.kept] == [(3, "ctx"), (6, "code-injection")]
    assert result.dropped == [(outside, DropReason.LINE_NOT_IN_HUNK),
                              (elsewhere, DropReason.FILE_NOT_IN_DIFF)]
    assert result.dropped_by_reason() == {DropReason.LINE_NOT_IN_HUNK: 1,
                                          DropReason.FILE_NOT_IN_DIFF: 1}
    assert all(f.fingerprint for f in result.kept)


def test_off_line_with_a_correct_quote_moves_to_the_closest_match(app_diff: ReviewDiff) -> None:
    # The model says line 30 (unchanged filler); `eval(data)` is on 6 and 38; 38 is closer.
    near_tail = make_finding(line=30, quote="eval(data)")
    exact_far = make_finding(line=30, rule="r2", quote="return eval(data)")

    result = ground([near_tail], app_diff)
    assert [(f.line, f.end_line) for f in result.kept] == [(38, 38)]
    assert result.moved == 1
    assert result.kept[0].extra["claimed_line"] == 30

    result = ground([exact_far], app_diff)
    assert [f.line for f in result.kept] == [6]

    already_there = ground([make_finding(line=6, quote="eval(data)")], app_diff)
    assert ([f.line for f in already_there.kept], already_there.moved) == ([6], 0)


def test_short_quotes_must_equal_a_whole_line(app_diff: ReviewDiff) -> None:
    assert ground([make_finding(line=30, quote="data")], app_diff).kept == []
    assert [f.line for f in ground([make_finding(line=30, quote="return value")],
                                   app_diff).kept] == [39]


def test_exact_quote_match_wins_over_a_closer_substring_match(git_repo: GitRepo) -> None:
    head = BASE_APP.replace("        return fh.read()\n",
                            "        check(data)\n" + "        run(check(data) or x)\n")
    diff = diff_between(git_repo, {"app.py": BASE_APP}, {"app.py": head})
    result = ground([make_finding(line=9, quote="check(data)")], diff)
    assert [f.line for f in result.kept] == [5]  # line 6 only contains it


def test_multiline_quote_sets_the_span(app_diff: ReviewDiff) -> None:
    quote = "value = eval(data)\n    return value"
    result = ground([make_finding(line=2, quote=quote)], app_diff)
    assert [(f.line, f.end_line) for f in result.kept] == [(38, 39)]


def test_hallucinated_findings_are_dropped_and_counted(app_diff: ReviewDiff) -> None:
    invented_code = make_finding(line=20, quote="subprocess.call(cmd, shell=True)")
    invented_line = make_finding(line=200)
    removed_only = make_finding(line=25, quote="return fh.read()")  # only on a removed line

    result = ground([invented_code, invented_line, removed_only], app_diff)

    assert result.kept == []
    assert result.dropped_by_reason() == {DropReason.QUOTE_NOT_FOUND: 2,
                                          DropReason.LINE_NOT_IN_HUNK: 1}


def test_a_finding_on_a_hunk_line_stays_even_if_its_quote_is_not_found(
        app_diff: ReviewDiff) -> None:
    # Analyzers quote masked code (secrets); the line, inside a hunk, is what counts.
    masked = make_finding(line=6, source="secrets", quote="token = 'ab****'")
    masked = replace(masked, fingerprint="analyzer-own-fingerprint")

    [kept] = ground([masked], app_diff).kept

    assert (kept.line, kept.extra["quote_found"]) == (6, False)
    assert kept.fingerprint == "analyzer-own-fingerprint"


def test_a_moved_finding_gets_a_fingerprint_of_its_new_lines(app_diff: ReviewDiff) -> None:
    claimed = replace(make_finding(line=30, quote="eval(data)"), fingerprint="stale")
    [kept] = ground([claimed], app_diff).kept
    assert kept.line == 38
    assert kept.fingerprint == make_finding(line=38).with_fingerprint(
        "    value = eval(data)").fingerprint


def test_end_line_is_clamped_to_the_hunk_of_the_start_line(app_diff: ReviewDiff) -> None:
    hunk = app_diff.files[0].hunk_for(6)
    assert hunk is not None
    result = ground([make_finding(line=5, end_line=39)], app_diff)
    assert [(f.line, f.end_line) for f in result.kept] == [(5, hunk.new_end)]
    assert hunk.new_end < 38

    backwards = ground([make_finding(line=6, end_line=2)], app_diff)
    assert [(f.line, f.end_line) for f in backwards.kept] == [(6, 6)]


def test_fingerprint_is_unchanged_when_the_code_moves_down_the_file(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"app.py": BASE_APP})
    git_repo.branch("feature")
    git_repo.commit("first push", {"app.py": HEAD_APP})
    first = load_diff(open_repository(git_repo.root), "main", "feature")
    moved_down = "import sys\nimport json\n\n\ndef helper():\n    return 2\n\n" + HEAD_APP
    git_repo.commit("second push", {"app.py": moved_down})
    second = load_diff(open_repository(git_repo.root), "main", "feature")

    on_first = ground([make_finding(line=6, end_line=6)], first).kept
    on_second = ground([make_finding(line=13, end_line=13)], second).kept
    other_code = ground([make_finding(line=38)], first).kept

    assert [f.line for f in on_second] == [13]
    assert on_first[0].fingerprint == on_second[0].fingerprint
    assert other_code[0].fingerprint != on_first[0].fingerprint


def test_findings_follow_the_new_path_of_a_renamed_file(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"old/app.py": BASE_APP})
    git_repo.branch("feature")
    git_repo.move("old/app.py", "new/app.py")
    git_repo.commit("rename and edit", {"new/app.py": HEAD_APP})
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    result = ground([make_finding(path="new/app.py", line=6),
                     make_finding(path="old/app.py", line=6)], diff)
    assert [(f.path, f.line) for f in result.kept] == [("new/app.py", 6)]
    assert result.dropped_by_reason() == {DropReason.FILE_NOT_IN_DIFF: 1}


def test_findings_on_deleted_or_binary_files_are_dropped(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"gone.py": "x = 1\n", "img.png": b"\x00\x01"})
    git_repo.branch("feature")
    git_repo.remove("gone.py")
    git_repo.commit("feature", {"img.png": b"\x00\x02"})
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    result = ground([make_finding(path="gone.py", line=1),
                     make_finding(path="img.png", line=1)], diff)
    assert result.kept == []
    assert result.dropped_by_reason() == {DropReason.FILE_NOT_REVIEWABLE: 2}


def test_static_and_model_reports_of_one_problem_merge(app_diff: ReviewDiff) -> None:
    bandit = make_finding(line=6, source="bandit", rule="B307", cwe="CWE-78",
                          severity=Severity.MEDIUM, confidence=0.9,
                          message="Use of possibly insecure function - consider ast.literal_eval.")
    llm = make_finding(line=6, end_line=6, source="llm", rule="code-injection", cwe="CWE-078",
                       severity=Severity.HIGH, confidence=0.6,
                       message="eval() runs whatever the file contains.",
                       suggestion="return json.loads(data)")

    merged = ground([llm, bandit], app_diff)
    alone = ground([bandit], app_diff)

    assert merged.merged == 1
    [finding] = merged.kept
    assert finding.source == "bandit+llm"
    assert finding.extra["sources"] == ["bandit", "llm"]
    assert (finding.severity, finding.confidence) == (Severity.HIGH, 0.9)
    assert finding.suggestion == "return json.loads(data)"
    assert finding.rule == "B307"
    assert finding.message.startswith("eval() runs whatever the file contains.")
    assert "Also reported by bandit B307: Use of possibly insecure" in finding.message
    # The identity comes from the analyzer, so a push where the model stays silent matches.
    assert finding.fingerprint == alone.kept[0].fingerprint


def test_merge_without_cwe_needs_same_category_and_rule_or_similar_message(
        app_diff: ReviewDiff) -> None:
    a = make_finding(line=6, source="ruff", rule="S307", message="Use of possibly insecure eval")
    b = make_finding(line=5, end_line=6, source="llm", rule="x",
                     message="use of possibly insecure eval()")
    result = ground([a, b], app_diff)
    assert [f.source for f in result.kept] == ["llm+ruff"]


@pytest.mark.parametrize(("first", "second"), [
    ({"cwe": "CWE-78"}, {"cwe": "CWE-89", "rule": "code-injection"}),
    ({"line": 5}, {"line": 6}),
    ({"category": Category.BUG, "rule": "a", "message": "data may be None here"},
     {"category": Category.BUG, "rule": "b", "message": "slow loop over the file"}),
    ({"category": Category.BUG}, {"category": Category.PERFORMANCE}),
])
def test_different_problems_do_not_merge(app_diff: ReviewDiff, first: dict[str, Any],
                                         second: dict[str, Any]) -> None:
    result = ground([make_finding(**{"line": 6, **first}),
                     make_finding(**{"line": 6, "source": "bandit", **second})], app_diff)
    assert len(result.kept) == 2
    assert result.merged == 0


def test_grounding_does_not_touch_the_callers_findings(app_diff: ReviewDiff) -> None:
    original = make_finding(line=30, quote="eval(data)")
    assert ground([original], app_diff).kept[0].line == 38
    assert original.line == 30
    assert original.extra == {"quote": "eval(data)"}
    assert original.fingerprint == ""
