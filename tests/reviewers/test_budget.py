"""Token estimates and prompt packing: diff first, context best first, splits with notes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from reviewers.budget import plan_prompts, render_context, render_diff
from reviewers.context import ContextItem, ContextPack, build_context
from reviewers.diff import ReviewDiff
from reviewers.errors import ConfigError
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import GitTree, LocalRepository, open_repository
from reviewers.tokens import EstimatingCounter, TokenCounter
from tests.gitbuilder import GitRepo


class WordCounter:
    """A different, exact-by-definition counter: whitespace-separated words plus lines."""

    def __init__(self) -> None:
        self.batches = 0

    async def count(self, text: str) -> int:
        return self.estimate(text)

    async def count_many(self, texts: Sequence[str]) -> list[int]:
        self.batches += 1
        return [self.estimate(t) for t in texts]

    def estimate(self, text: str) -> int:
        return len(text.split()) + text.count("\n")


Changed = Callable[[dict[str, str], dict[str, str]], tuple[ReviewDiff, ContextPack]]


@pytest.fixture
def changed(git_repo: GitRepo) -> Iterator[Changed]:
    """`changed(before, after)`: commit both in a real repository; its diff and context."""
    opened: list[LocalRepository | GitTree] = []

    def make(before: dict[str, str], after: dict[str, str]) -> tuple[ReviewDiff, ContextPack]:
        base = git_repo.commit("base", {**before})
        head = git_repo.commit("head", {**after})
        repository = open_repository(git_repo.root)
        tree = repository.tree(head)
        opened.extend((repository, tree))
        diff = load_diff(repository, base, head)
        return diff, build_context(tree, diff)

    yield make
    for thing in reversed(opened):
        thing.close()


def module(name: str, n: int = 12) -> str:
    return "".join(f"def {name}_{i}(x):\n    return x + {i}\n\n\n" for i in range(n))


def edited(text: str) -> str:
    return text.replace("return x + ", "return x - ")


# -- tokens --------------------------------------------------------------------------------

async def test_estimating_counter_is_conservative_and_batches() -> None:
    counter: TokenCounter = EstimatingCounter()
    code = "def area(self):\n    return self.side * self.side\n"
    assert counter.estimate("") == 0
    # about 3 characters per token plus a margin: never fewer tokens than len/4
    assert counter.estimate(code) >= len(code) / 3.0
    assert counter.estimate("1234567890") >= 10  # digits are one token each in BPE vocabularies
    assert counter.estimate("日本語のコード") >= 7  # so is each non-ASCII character
    assert await counter.count_many([code, "", "x"]) == [
        await counter.count(code), 0, counter.estimate("x")]


# -- rendering -----------------------------------------------------------------------------

def test_render_diff_numbers_head_lines(changed: Changed) -> None:
    before = "".join(f"line {i}\n" for i in range(1, 21))
    after = before.replace("line 10\n", "line ten\nline ten and a half\n").replace("line 2\n", "")
    diff, _ = changed({"a.txt": before}, {"a.txt": after})

    text = render_diff(diff.files)
    lines = text.splitlines()
    assert lines[0] == "## File: a.txt (modified)"
    assert " 9 +line ten" in lines
    assert "10 +line ten and a half" in lines
    assert "   -line 10" in lines
    assert "   -line 2" in lines
    assert "11  line 11" in lines  # context lines carry their head number too
    assert render_diff(diff.files) == text  # deterministic


def test_render_context_numbers_lines_and_marks_truncation() -> None:
    item = ContextItem(kind="definition", path="lib.py", start_line=9, end_line=10,
                       text="def f():\n    return 1", score=3.2, reason="`f` is used 1x",
                       symbol="f", truncated=True)
    conv = ContextItem(kind="convention", path=".editorconfig", start_line=1, end_line=1,
                       text="root = true", score=1.2, reason="repository convention")
    text = render_context([item, conv])
    assert text == (
        "## Context (definition) `f`: lib.py lines 9-10 - `f` is used 1x\n"
        " 9 def f():\n10     return 1\n[... truncated]\n\n"
        "## Context (convention): .editorconfig - repository convention\nroot = true")


# -- packing -------------------------------------------------------------------------------

async def test_whole_diff_then_all_context_when_it_fits(changed: Changed) -> None:
    files = {"lib.py": module("lib"),
             "app.py": "from lib import lib_1\n\n\ndef run():\n    return 0\n",
             "tests/test_app.py": "from app import run\n\n\ndef test_run():\n    assert run()\n"}
    after = files["app.py"].replace("return 0", "return lib_1(0)")
    diff, pack = changed(files, {"app.py": after})
    assert {i.kind for i in pack.items} == {"definition", "test"}

    plan = await plan_prompts(diff, pack, EstimatingCounter(), max_model_len=100_000,
                              answer_tokens=2_000, fixed_overhead_tokens=500)
    assert plan.budget_tokens == 97_500
    assert len(plan.groups) == 1
    assert not plan.split
    group = plan.groups[0]
    assert group.diff_text == render_diff(diff.files)
    assert group.context == pack.items
    assert plan.omitted_context == []
    assert plan.notes == []
    assert group.context_text == render_context(pack.items)
    assert group.diff_tokens + group.context_tokens <= plan.budget_tokens


async def test_context_fills_the_rest_best_first_and_omissions_are_recorded(
        changed: Changed) -> None:
    diff, _ = changed({"a.py": module("a", 3)}, {"a.py": edited(module("a", 3))})
    items = [ContextItem(kind="definition", path=f"d{i}.py", start_line=1, end_line=40,
                         text="word " * 200, score=3.9 - i / 10, reason="r", origins=("a.py",))
             for i in range(5)]
    counter = WordCounter()
    diff_tokens = counter.estimate(render_diff(diff.files))
    item_tokens = counter.estimate(render_context(items[:1]))
    budget = diff_tokens + 2 * item_tokens + 10  # room for two items, not three

    plan = await plan_prompts(diff, ContextPack(items=items), counter, max_model_len=budget,
                              answer_tokens=0, fixed_overhead_tokens=0)
    group = plan.groups[0]
    assert group.context == items[:2]  # the best two
    assert [o.item for o in plan.omitted_context] == items[2:]
    assert all("did not fit" in o.reason for o in plan.omitted_context)
    assert plan.omitted_context_count == 3
    assert "3 of 5 context items left out" in plan.notes[-1]
    assert counter.batches <= 3  # counted in batches, not one call per item


async def test_too_big_a_diff_is_split_by_directory_with_a_note(changed: Changed) -> None:
    before = {f"{d}/m{i}.py": module(f"{d}{i}") for d in ("api", "core", "web") for i in range(3)}
    before["api/uses.py"] = "from core.m0 import core0_1\n\n\ndef f():\n    return 0\n"
    after = {path: edited(text) for path, text in before.items()}
    after["api/uses.py"] = before["api/uses.py"].replace("return 0", "return core0_1(1)")
    diff, pack = changed(before, after)
    counter = EstimatingCounter()
    per_dir = max(counter.estimate(render_diff([f for f in diff.files if f.path.startswith(d)]))
                  for d in ("api/", "core/", "web/"))

    plan = await plan_prompts(diff, pack, counter, max_model_len=int(per_dir / 0.75) + 50,
                              answer_tokens=0, fixed_overhead_tokens=0)
    assert plan.split
    assert len(plan.groups) == 3
    assert plan.notes[0].startswith("diff split into 3 parts")
    assert [sorted({p.split("/")[0] for p in g.paths}) for g in plan.groups] == [
        ["api"], ["core"], ["web"]]
    all_paths = [p for g in plan.groups for p in g.paths]
    assert sorted(all_paths) == sorted(f.path for f in diff.files)  # each file exactly once
    for group in plan.groups:
        assert all(item.serves(group.paths) for item in group.context)
        assert group.diff_tokens + group.context_tokens <= plan.budget_tokens
    definition = next(i for i in pack.items if i.kind == "definition")
    assert definition in plan.groups[0].context  # api/uses.py's definition travels with it
    placed = {id(i) for g in plan.groups for i in g.context}
    assert placed | {id(o.item) for o in plan.omitted_context} == {id(i) for i in pack.items}


async def test_a_file_too_big_alone_is_split_by_hunks(changed: Changed) -> None:
    body = "".join(f"V{i} = {i}\n" for i in range(400))
    after = body
    for i in range(0, 400, 50):
        after = after.replace(f"V{i} = {i}\n", f"V{i} = -{i}\n")
    diff, pack = changed({"big.py": body}, {"big.py": after})
    assert len(diff.files[0].hunks) == 8
    counter = EstimatingCounter()
    one_hunk = counter.estimate(render_diff(diff.files)) // 8

    plan = await plan_prompts(diff, pack, counter, max_model_len=one_hunk * 4,
                              answer_tokens=0, fixed_overhead_tokens=0)
    assert plan.split
    hunks = [h.new_start for g in plan.groups for f in g.files for h in f.hunks]
    assert hunks == [h.new_start for h in diff.files[0].hunks]  # all of them, in order, once
    assert any("big.py: too large for one prompt, its hunks are split" in n for n in plan.notes)
    assert f"of {len(plan.groups)} of this file's hunks" in plan.groups[0].diff_text


async def test_a_hunk_bigger_than_the_budget_is_truncated_with_a_note(changed: Changed) -> None:
    after = "".join(f"NEW_{i} = {i}\n" for i in range(600))
    diff, pack = changed({"a.py": "A = 1\n"}, {"a.py": after})

    plan = await plan_prompts(diff, pack, EstimatingCounter(), max_model_len=1_000,
                              answer_tokens=100, fixed_overhead_tokens=100)
    shown = plan.groups[0].files[0].hunks[0]
    assert 1 < len(shown.lines) < 601
    assert plan.groups[0].diff_tokens <= plan.budget_tokens
    note = next(n for n in plan.notes if "alone exceeds the prompt budget" in n)
    assert f"only its first {len(shown.lines)} lines are reviewed" in note
    assert "[truncated]" in plan.groups[0].diff_text


async def test_no_room_for_a_prompt_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="leaves no room"):
        await plan_prompts(ReviewDiff("a", "b"), ContextPack(), EstimatingCounter(),
                           max_model_len=4_096, answer_tokens=4_000, fixed_overhead_tokens=200)


async def test_plans_are_byte_identical_across_runs(changed: Changed) -> None:
    files = {f"p{i}/m.py": module(f"p{i}") for i in range(4)}
    diff, pack = changed(files, {k: edited(v) for k, v in files.items()})
    plans = [await plan_prompts(diff, pack, EstimatingCounter(), max_model_len=600,
                                answer_tokens=0, fixed_overhead_tokens=0) for _ in range(2)]
    assert [(g.diff_text, g.context_text) for g in plans[0].groups] == [
        (g.diff_text, g.context_text) for g in plans[1].groups]
    assert plans[0].notes == plans[1].notes
