"""`reviewbot review` generates unit tests when an engine is configured: the kept test and
its evidence are in the report, every candidate's fate is in the history; `--no-tests` and
`.reviewbot.yml` `tests.enabled: false` turn it off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.formats.schemas import review_validator
from tests.pipeline.conftest import CliResult
from tests.standin.server import StandinServer
from tests.testgen import shop

Run = Callable[..., CliResult]
Standin = Callable[..., StandinServer]
TESTGEN = "Write unit tests (pytest)"
REPAIR = "were run in a sandbox and rejected"


@pytest.mark.slow  # ~10 s of sandboxed runs; the fates themselves are in tests/testgen
def test_review_reports_the_kept_test_with_its_evidence_and_records_every_fate(
        tmp_path: Path, run_cli: Run, vllm_standin: Standin, isolated_env: Path) -> None:
    repo, base, _ = shop.build_shop(tmp_path / "shop")
    engine = vllm_standin()
    engine.script({"candidates": [
        shop.candidate(shop.GOOD, "tests/test_discount.py", behaviour="rejects bad percents"),
        shop.candidate(shop.NO_ASSERTIONS, "tests/test_discount_runs.py"),
    ]}, marker=TESTGEN)
    engine.script({"repairs": []}, marker=REPAIR)

    result = run_cli("review", "--repo", str(repo.root), "--base", base, "--engine", engine.url,
                     "--format", "json")

    assert result.code == 0, result.err
    document = result.json()
    assert list(review_validator().iter_errors(document)) == []
    tests = document["tests"]
    assert tests["candidates"] == 2
    assert tests["fates"]["kept"] == 1
    assert tests["fates"]["no_assertions"] == 1
    [kept] = tests["kept"]
    assert kept["path"] == "tests/test_discount.py"
    assert kept["targets"] == [shop.TARGET]
    assert (kept["passes"], kept["runs"]) == (5, 5)
    assert (kept["coverage_before"], kept["coverage_after"]) == ([1, 4], [4, 4])
    assert kept["behaviour_change"] is True
    assert kept["content"] == shop.GOOD
    assert tests["rejected"][0]["fate"] == "no_assertions"
    assert document["stats"]["durations"]["tests"] > 0
    # test generation appended its task to the review's prompt prefix
    chats = [r.body["messages"] for r in engine.requests if "messages" in r.body]
    testgen = next(m for m in chats if TESTGEN in m[-1]["content"])
    review = chats[0]
    assert testgen[0] == review[0]
    assert testgen[1]["content"].split("## Task")[0] == review[1]["content"].split("## Task")[0]

    history = sa.create_engine(f"sqlite:///{isolated_env}")
    try:
        with history.connect() as conn:
            rows = conn.execute(sa.text("SELECT path, fate FROM generated_tests ORDER BY path"))
            assert [tuple(r) for r in rows] == [("tests/test_discount.py", "kept"),
                                                ("tests/test_discount_runs.py", "no_assertions")]
    finally:
        history.dispose()


def test_no_tests_flag_and_repo_config_turn_test_generation_off(
        tmp_path: Path, run_cli: Run, vllm_standin: Standin) -> None:
    repo, base, _ = shop.build_shop(tmp_path / "shop")
    engine = vllm_standin()

    flagged = run_cli("review", "--repo", str(repo.root), "--base", base, "--engine",
                      engine.url, "--format", "json", "--no-tests")
    assert flagged.code == 0, flagged.err
    assert flagged.json()["tests"] is None

    # the base revision's config counts: a change cannot switch its own tests on or off
    config = repo.commit("config", {".reviewbot.yml": "tests:\n  enabled: false\n"})
    repo.commit("noop", {"shop/pricing.py": shop.PRICING_HEAD + "\n\ndef noop():\n"
                                            "    return 0\n"})
    configured = run_cli("review", "--repo", str(repo.root), "--base", config, "--engine",
                         engine.url, "--format", "markdown")
    assert configured.code == 0, configured.err
    assert "## Generated tests" not in configured.out
    assert not any(TESTGEN in str(r.body) for r in engine.requests)
