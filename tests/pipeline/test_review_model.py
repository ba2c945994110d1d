"""`reviewbot review --engine URL` against the vLLM stand-in: model findings, grounding,
triage, shared prefixes, split diffs and engine errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.gitbuilder import GitRepo
from tests.pipeline.conftest import CliResult
from tests.standin.script import Reply
from tests.standin.server import StandinServer

Run = Callable[..., CliResult]
Standin = Callable[..., StandinServer]

REVIEW = "Review the diff above"
SECURITY = "application security engineer"
TRIAGE = "Static analyzers flagged"
TESTGEN = "Write unit tests (pytest)"


def _review_answer(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"summary": "Adds an average helper and a command runner.",
            "findings": list(findings)}


def _item(line: int, quote: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"path": "app.py", "line": line, "end_line": line, "severity": "medium",
            "category": "bug", "rule": "zero-division", "quote": quote, "message": message,
            "suggestion": None, **extra}


def test_model_findings_are_grounded_moved_and_dropped(app_repo: GitRepo, run_cli: Run,
                                                       vllm_standin: Standin) -> None:
    engine = vllm_standin()
    engine.script(_review_answer(
        # right code, wrong line: moved to line 16 where the quoted code is
        _item(3, "return total(items) / len(items)", "Divides by zero for an empty list."),
        # invented: neither the line nor the quote is in the diff
        _item(400, "os.remove(path)", "Deletes files."),
    ), marker=REVIEW)
    engine.script({"findings": []}, marker=SECURITY)
    engine.script({"verdicts": []}, marker=TRIAGE)

    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url,
                     "--format", "json")

    assert result.code == 1, result.err
    document = result.json()
    llm = [f for f in document["findings"] if f["source"] == "llm"]
    assert [(f["line"], f["message"]) for f in llm] == [(16, "Divides by zero for an empty list.")]
    assert document["stats"]["dropped_findings"] == 1
    assert "model reviewers skipped" not in result.out


def test_calls_of_one_review_share_a_byte_identical_prefix(app_repo: GitRepo, run_cli: Run,
                                                           vllm_standin: Standin) -> None:
    engine = vllm_standin()
    run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url)

    chats = [r for r in engine.requests if "messages" in r.body]
    # review, security, triage of the bandit finding, then unit-test generation
    assert len(chats) == 4
    assert TESTGEN in chats[-1].body["messages"][-1]["content"]
    prefixes = {(r.body["messages"][0]["content"],
                 r.body["messages"][1]["content"].split("## Task")[0]) for r in chats}
    assert len(prefixes) == 1
    tasks = [r.body["messages"][-1]["content"].split("## Task")[1] for r in chats]
    assert REVIEW in tasks[0]  # the first call warms the cache, then the others
    assert all(r.body["response_format"]["type"] == "json_schema" for r in chats)
    assert not any(key.startswith("guided_") for r in chats for key in r.body)
    # the standin's prefix cache saw the shared prefix reused by the 2nd and 3rd calls
    assert all((r.cached_tokens or 0) > 0 for r in chats[1:])


def test_analyzer_and_model_findings_merge_and_triage_is_applied(
        app_repo: GitRepo, run_cli: Run, vllm_standin: Standin) -> None:
    engine = vllm_standin()
    engine.script(_review_answer(), marker=REVIEW)
    engine.script({"findings": [{
        "path": "app.py", "line": 20, "end_line": 20, "severity": "critical", "cwe": "CWE-78",
        "rule": "command-injection", "quote": 'subprocess.call("ls " + user_input, shell=True)',
        "message": "user_input reaches a shell.", "confidence": 0.95,
        "exploit": "Sending '; rm -rf ~' as user_input runs it.",
        "suggestion": '    return subprocess.call(["ls", user_input])'}]}, marker=SECURITY)
    engine.script({"verdicts": [{"id": 0, "true_positive": True, "severity": "critical",
                                 "reason": "user input is concatenated into a shell command"}]},
                  marker=TRIAGE)

    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url,
                     "--format", "json")

    on_20 = [f for f in result.json()["findings"] if f["line"] == 20]
    assert len(on_20) == 1
    merged = on_20[0]
    assert merged["source"] == "bandit+llm"
    assert merged["cwe"] == "CWE-78"
    assert merged["severity"] == "critical"
    assert merged["suggestion"] == '    return subprocess.call(["ls", user_input])'
    assert merged["triage"]["verdict"] == "true_positive"


def test_false_positive_is_recorded_not_reported(app_repo: GitRepo, run_cli: Run,
                                                 vllm_standin: Standin) -> None:
    engine = vllm_standin()
    engine.script(_review_answer(), marker=REVIEW)
    engine.script({"findings": []}, marker=SECURITY)
    engine.script({"verdicts": [{"id": 0, "true_positive": False, "severity": "low",
                                 "reason": "the argument is a constant in every caller"}]},
                  marker=TRIAGE)

    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url,
                     "--format", "json")

    assert result.code == 0
    assert not [f for f in result.json()["findings"] if f["rule"] == "B602"]
    assert any("not reported by policy" in n for n in result.json()["notes"])


def test_unparsable_answer_is_retried_once(app_repo: GitRepo, run_cli: Run,
                                           vllm_standin: Standin) -> None:
    engine = vllm_standin()
    engine.script(Reply(content='{"summary": "cut'), _review_answer(), marker=REVIEW)

    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url)

    assert result.code == 1, result.err
    reviews = [r for r in engine.requests if REVIEW in r.last_message]
    assert len(reviews) == 2


def test_unparsable_twice_is_an_engine_error(app_repo: GitRepo, run_cli: Run,
                                             vllm_standin: Standin) -> None:
    engine = vllm_standin()
    engine.script(Reply(content="not json"), Reply(content="still not json"), marker=REVIEW)

    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url)

    assert result.code == 2
    assert "unusable twice" in result.err
    assert "Traceback" not in result.err


def test_large_diff_is_split_and_the_summary_says_so(git_repo: GitRepo, run_cli: Run,
                                                     vllm_standin: Standin) -> None:
    git_repo.commit("base", {"README.md": "x\n"})
    git_repo.branch("feature")
    files = {f"pkg/mod{i}.py": "".join(f"def f{j}(x):\n    return x * {j}\n\n\n"
                                       for j in range(60)) for i in range(6)}
    git_repo.commit("many modules", files)
    engine = vllm_standin(max_model_len=8192)

    result = run_cli("review", "--repo", str(git_repo.root), "--engine", engine.url,
                     "--format", "json")

    assert result.code == 0, result.err
    parts = result.json()["stats"]["prompt_parts"]
    assert parts > 1
    assert any(f"diff split into {parts} parts" in n for n in result.json()["notes"])
    reviewed = "".join(r.last_message for r in engine.requests if REVIEW in r.last_message)
    assert all(f"pkg/mod{i}.py" in reviewed for i in range(6))  # nothing dropped
    assert all(r.prompt_tokens + 1024 <= 8192 for r in engine.requests if "messages" in r.body)


def test_token_counts_are_recorded(app_repo: GitRepo, run_cli: Run,
                                   vllm_standin: Standin) -> None:
    engine = vllm_standin()
    result = run_cli("review", "--repo", str(app_repo.root), "--engine", engine.url,
                     "--format", "json")
    stats = result.json()["stats"]
    served = [r for r in engine.requests if "messages" in r.body]
    assert stats["engine_calls"] == len(served) == 4  # the review's 3 and test generation
    assert stats["prompt_tokens"] == sum(r.prompt_tokens for r in served)
    assert stats["cached_tokens"] == sum(r.cached_tokens or 0 for r in served) > 0
