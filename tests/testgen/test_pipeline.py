"""Test generation end to end: scripted engine answers, a real repository, the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewers.testgen import (
    Sandbox,
    SandboxConfig,
    TestFate,
    TestGenOptions,
    generate_tests,
    render_test_comment,
)
from tests.engine.helpers import pool_for
from tests.standin.fixtures import StandinFactory
from tests.testgen import shop

TESTGEN_MARKER = "Write unit tests (pytest)"
REPAIR_MARKER = "were run in a sandbox and rejected"
OPTIONS = TestGenOptions(run_timeout_s=30.0)


@pytest.fixture(scope="module")
def shop_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One shop repository for the module: generation never changes it."""
    repo, base, head = shop.build_shop(tmp_path_factory.mktemp("testgen") / "shop")
    return repo.root, base, head


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(SandboxConfig(cpu_seconds=30, wall_timeout_s=30.0))
    reason = box.probe()
    if reason is not None:
        pytest.fail(f"these tests need bubblewrap: {reason} (run scripts/setup-sandbox)")
    return box


async def test_only_the_good_candidate_is_kept_each_fate_is_right_and_repair_works(
        shop_repo: tuple[Path, str, str], vllm_standin: StandinFactory,
        sandbox: Sandbox) -> None:
    root, base, head = shop_repo
    local, diff = shop.load(root, base, head)
    server = vllm_standin(time_scale=0.0)
    server.script({"candidates": [
        shop.candidate(shop.GOOD, "tests/test_discount.py"),
        shop.candidate(shop.FAILING, "tests/test_discount.py"),
        shop.candidate(shop.FLAKY, "tests/test_discount_flaky.py"),
        shop.candidate(shop.NO_ASSERTIONS, "tests/test_discount_runs.py"),
        shop.candidate(shop.COVERAGE_NEUTRAL, "tests/test_pricing.py", target=shop.TOTAL),
        shop.candidate(shop.NOT_COLLECTABLE, "tests/test_discount_import.py"),
    ]}, marker=TESTGEN_MARKER)
    # the model repairs the failing candidate (id 1) and gives up on the others
    server.script({"repairs": [{"id": 1, **shop.candidate(shop.REPAIRED,
                                                          "tests/test_discount.py")}]},
                  marker=REPAIR_MARKER)
    pool = pool_for(server.url)
    try:
        result = await generate_tests(pool, shop.prefix_for(diff), local, diff,
                                      local.tree(head), sandbox=sandbox, options=OPTIONS,
                                      affinity_key="acme/shop")
    finally:
        await pool.aclose()
        local.close()

    assert {t.name for t in result.targets} == {shop.TARGET, shop.TOTAL}
    assert result.command is not None
    assert result.command.source == "pyproject.toml"
    first_round, repairs = result.results[:6], result.results[6:]
    fates = {r.candidate.code: r.fate for r in first_round}
    assert fates == {
        shop.GOOD: TestFate.KEPT,
        shop.FAILING: TestFate.FAILED,
        shop.FLAKY: TestFate.FLAKY,
        shop.NO_ASSERTIONS: TestFate.NO_ASSERTIONS,
        shop.COVERAGE_NEUTRAL: TestFate.NO_COVERAGE_GAIN,
        shop.NOT_COLLECTABLE: TestFate.FAILED_TO_COLLECT,
    }
    by_fate = {r.fate: r for r in first_round}
    good = by_fate[TestFate.KEPT]
    assert (good.passes, good.runs) == (5, 5)
    assert [(s.name, s.ok) for s in good.steps] == [
        ("syntax", True), ("assertions", True), ("collect", True), ("run", True),
        ("coverage", True), ("repeat", True), ("base", True)]
    # total's changed line was already covered by the existing test; apply_discount's 3 were not
    assert good.coverage_before == (1, 4)
    assert good.coverage_after == (4, 4)
    assert good.behaviour_change  # apply_discount does not exist on the base revision
    flaky = by_fate[TestFate.FLAKY]
    assert (flaky.passes, flaky.runs) == (2, 3)
    assert "after 2 passes" in flaky.steps[-1].detail
    assert "assert 90.0 == 80.0" in by_fate[TestFate.FAILED].failure_output()
    assert "no_such_function" in by_fate[TestFate.FAILED_TO_COLLECT].failure_output()
    assert "1/4 -> 1/4" in by_fate[TestFate.NO_COVERAGE_GAIN].steps[-1].detail
    # two candidates asked for the same file and the existing test file: none is overwritten
    paths = [r.candidate.path for r in first_round]
    assert len(set(paths)) == len(paths)
    assert "tests/test_pricing.py" not in paths

    # the repair round: the rejected failing test came back fixed and passed every step
    [repaired] = repairs
    assert repaired.candidate.repair_of == by_fate[TestFate.FAILED].index
    assert repaired.candidate.target == shop.TARGET
    assert repaired.fate is TestFate.KEPT
    assert (repaired.passes, repaired.runs) == (5, 5)
    assert [k.content for k in result.kept] == [shop.GOOD, shop.REPAIRED]
    # the repair replaces its own rejected file, never the kept GOOD one
    assert repaired.candidate.path == by_fate[TestFate.FAILED].candidate.path
    assert len({k.path for k in result.kept}) == 2
    comment = render_test_comment(result.kept[0])
    assert comment.startswith(f"<!-- reviewbot:generated-test {good.candidate.path} -->")
    assert "5/5 passed" in comment
    assert "1/4 (25%) → 4/4 (100%)" in comment
    records = result.history_records()
    assert sorted({r["fate"] for r in records}) == sorted(f.value for f in TestFate)
    assert len(records) == 7
    # every rejected candidate went back to the model once, with its failure output
    repair = next(r for r in server.requests if REPAIR_MARKER in str(r.body))
    repair_text = str(repair.body["messages"][-1]["content"])
    assert repair_text.count("### id ") == 5
    assert "assert 90.0 == 80.0" in repair_text
    # the test-generation call shares the review prefix and appends its own task
    first = server.requests[0].body["messages"]
    assert first[0] == shop.prefix_for(diff).messages("x")[0]
    assert first[1]["content"].startswith(shop.prefix_for(diff).body)
    assert TESTGEN_MARKER in first[1]["content"]
    assert shop.EXISTING_TEST in first[1]["content"]


async def test_nothing_is_generated_or_run_without_a_sandbox(
        tmp_path: Path, shop_repo: tuple[Path, str, str], vllm_standin: StandinFactory
) -> None:
    root, base, head = shop_repo
    local, diff = shop.load(root, base, head)
    server = vllm_standin(time_scale=0.0)
    pool = pool_for(server.url)
    box = Sandbox(SandboxConfig(bwrap=str(tmp_path / "no-bwrap")))
    try:
        result = await generate_tests(pool, shop.prefix_for(diff), local, diff,
                                      local.tree(head), sandbox=box, affinity_key="acme/shop")
    finally:
        await pool.aclose()
        local.close()
    assert result.skipped_reason is not None
    assert result.skipped_reason.startswith("sandbox unavailable: bubblewrap")
    assert result.results == []
    assert server.requests == []

