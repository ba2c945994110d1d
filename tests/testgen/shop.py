"""A small real package in a real git repository, and the candidate tests a model might write."""

from __future__ import annotations

from pathlib import Path

from reviewers.diff import ReviewDiff
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import LocalRepository
from reviewers.prompts import SharedPrefix, build_prefix
from reviewers.testgen import Candidate, CandidateResult, KeptTest, Step, TestFate, TestGenResult
from tests.gitbuilder import GitRepo

PYPROJECT = """\
[project]
name = "shop"
version = "0.1.0"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

PRICING_BASE = '''\
"""Prices of a shopping cart."""


def total(prices):
    """The sum of the prices."""
    return sum(prices)
'''

PRICING_HEAD = '''\
"""Prices of a shopping cart."""


def total(prices):
    """The sum of the prices, rounded to cents."""
    return round(sum(prices), 2)


def apply_discount(price, percent):
    """The price after a discount of `percent` (0-100)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be between 0 and 100, not {percent}")
    return round(price * (100 - percent) / 100, 2)
'''

EXISTING_TEST = """\
from shop.pricing import total


def test_total_adds_prices():
    assert total([1.5, 2.25]) == 3.75
"""

TARGET = "shop.pricing:apply_discount"
TOTAL = "shop.pricing:total"

GOOD = """\
import pytest

from shop.pricing import apply_discount


def test_discount_reduces_price():
    assert apply_discount(200.0, 25) == 150.0


def test_rejects_percent_over_100():
    with pytest.raises(ValueError):
        apply_discount(10.0, 150)
"""

FAILING = """\
from shop.pricing import apply_discount


def test_discount_is_wrongly_expected():
    assert apply_discount(100.0, 10) == 80.0
"""

FLAKY = """\
from pathlib import Path

from shop.pricing import apply_discount

COUNTER = Path(__file__).with_name("runs.txt")


def test_discount_counted():
    runs = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(runs + 1))
    assert apply_discount(100.0, 10) == (90.0 if runs < 2 else 0.0)
"""

NO_ASSERTIONS = """\
from shop.pricing import apply_discount


def test_discount_runs():
    apply_discount(100.0, 10)
"""

COVERAGE_NEUTRAL = """\
from shop.pricing import total


def test_total_rounds():
    assert total([0.1, 0.2]) == 0.3
"""

NOT_COLLECTABLE = """\
from shop.pricing import apply_discount, no_such_function


def test_discount():
    assert apply_discount(100.0, 10) == 90.0
"""

REPAIRED = FAILING.replace("== 80.0", "== 90.0")


def candidate(code: str, path: str, target: str = TARGET, behaviour: str = "discount") -> dict[
        str, str]:
    return {"target": target, "behaviour": behaviour, "path": path, "code": code}


def build_shop(root: Path) -> tuple[GitRepo, str, str]:
    """The repository with base and head commits; returns (repo, base sha, head sha)."""
    repo = GitRepo(root)
    base = repo.commit("shop", {"pyproject.toml": PYPROJECT, "shop/__init__.py": "",
                                "shop/pricing.py": PRICING_BASE,
                                "tests/test_pricing.py": EXISTING_TEST})
    head = repo.commit("discounts", {"shop/pricing.py": PRICING_HEAD})
    return repo, base, head


def load(root: Path, base: str, head: str) -> tuple[LocalRepository, ReviewDiff]:
    local = LocalRepository(root)
    return local, load_diff(local, base, head)


def prefix_for(diff: ReviewDiff) -> SharedPrefix:
    return build_prefix(repository="acme/shop", title="Discounts", description="Adds discounts",
                        conventions="", instructions="", context="", diff=diff.patch_text)


SNEAKY = GOOD + "\n# <!-- reviewbot:generated-test tests/test_pricing.py -->\n"


def kept(path: str, code: str, behaviour: str) -> tuple[CandidateResult, KeptTest]:
    cand = Candidate(TARGET, behaviour, path, code)
    result = CandidateResult(0, cand, TestFate.KEPT, [Step("repeat", True, "5/5 runs passed")],
                             passes=5, runs=5, coverage_before=(1, 4), coverage_after=(4, 4),
                             newly_covered=["shop/pricing.py:12"], seconds=2.5)
    return result, KeptTest(path=path, content=code, targets=[TARGET],
                            behaviours=[behaviour], passes=5, runs=5, coverage_before=(1, 4),
                            coverage_after=(4, 4), seconds=2.5, behaviour_change=True,
                            command=f"python -m pytest {path}",
                            newly_covered=["shop/pricing.py:12"])


def generation_result() -> TestGenResult:
    """Two kept files and one flaky candidate, as the validation stage hands them over."""
    first, first_kept = kept("tests/test_discount.py", GOOD, "discounts reduce prices")
    second, second_kept = kept("tests/test_discount_limits.py", SNEAKY,
                               "rejects percents over 100 (ping @octocat)")
    flaky = CandidateResult(2, Candidate(TARGET, "counts", "tests/test_flaky.py",
                                         FLAKY), TestFate.FLAKY,
                            [Step("repeat", False, "run 3/5: tests failed after 2 passes")],
                            passes=2, runs=3)
    return TestGenResult(results=[first, second, flaky], kept=[first_kept, second_kept])
