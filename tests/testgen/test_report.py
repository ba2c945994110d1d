"""The CLI report shows kept tests with their evidence (markdown and JSON) and says why
nothing was generated when that is so."""

from __future__ import annotations

import json

from bot.formats import ReportInput, render
from bot.formats.schemas import review_validator
from reviewers.testgen import TestGenResult
from tests.testgen.shop import generation_result


def report(tests: TestGenResult | None) -> ReportInput:
    return ReportInput(repository="acme/shop", base_sha="a" * 40, head_sha="b" * 40,
                       tests=tests)


def test_markdown_shows_each_kept_test_with_its_evidence_and_the_rejected_ones() -> None:
    text = render(report(generation_result()), "markdown")
    section = text[text.index("## Generated tests"):]
    assert "2 of 3 candidate test(s) kept after sandboxed validation." in section
    assert "### `tests/test_discount.py`" in section
    assert "- passed 5/5 runs in the sandbox" in section
    assert "- changed lines covered: 1/4 -> 4/4" in section
    assert "- fails on the base revision: documents a behaviour change" in section
    assert "def test_discount_reduces_price():" in section
    assert "- `tests/test_flaky.py` (shop.pricing:apply_discount): flaky (not 5/5)" in section


def test_json_carries_the_tests_and_validates_against_the_schema() -> None:
    document = json.loads(render(report(generation_result()), "json"))
    assert list(review_validator().iter_errors(document)) == []
    tests = document["tests"]
    assert [k["path"] for k in tests["kept"]] == ["tests/test_discount.py",
                                                 "tests/test_discount_limits.py"]
    assert tests["fates"] == {"kept": 2, "failed_to_collect": 0, "failed": 0, "flaky": 1,
                              "no_assertions": 0, "no_coverage_gain": 0}
    assert tests["rejected"] == [{"path": "tests/test_flaky.py",
                                  "target": "shop.pricing:apply_discount", "fate": "flaky",
                                  "reason": "repeat: run 3/5: tests failed after 2 passes"}]


def test_a_skipped_generation_says_why_and_no_tests_asked_shows_nothing() -> None:
    skipped = TestGenResult(skipped_reason="sandbox unavailable: bwrap cannot create its "
                                           "namespaces")
    text = render(report(skipped), "markdown")
    assert "None: sandbox unavailable: bwrap cannot create its namespaces." in text
    assert "## Generated tests" not in render(report(None), "markdown")
    assert json.loads(render(report(None), "json"))["tests"] is None
