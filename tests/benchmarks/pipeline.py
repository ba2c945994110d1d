"""Benchmark: diff + context + packing of a 10,000-changed-line diff over 200 files.

Run as `python -m tests.benchmarks.pipeline [--files N] [--lines-per-file M]`. Builds a real
git repository (realistic Python packages importing each other, tests, lint config), then
times `load_diff` + `build_context` + `plan_prompts` (no engine), and reports peak memory.
The last line is `pipeline_s=<seconds> peak_mb=<megabytes>`. Targets: < 2 s, < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from reviewers.budget import PromptPlan, plan_prompts
from reviewers.context import ContextPack, build_context
from reviewers.diff import ReviewDiff
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import open_repository
from tests.gitbuilder import GitRepo

PACKAGES = 20
MAX_MODEL_LEN = 131_072
ANSWER_TOKENS = 4_096
OVERHEAD_TOKENS = 1_500


def module_source(pkg: int, mod: int, files_per_pkg: int, functions: int, edited: bool) -> str:
    """A module that imports two neighbours and defines a class and `functions` functions.

    The edited version rewrites the body line of every function: each function gives one
    removed and one added line, i.e. two changed lines.
    """
    other_pkg, other_mod = (pkg + 1) % PACKAGES, (mod + 1) % files_per_pkg
    lines = [
        f'"""Module {mod} of package {pkg}."""',
        "",
        "from __future__ import annotations",
        "",
        "import logging",
        "",
        f"from app.pkg{other_pkg}.mod{mod} import helper_{other_pkg}_{mod}_0",
        f"from .mod{other_mod} import Record{other_mod}",
        "",
        "log = logging.getLogger(__name__)",
        "",
        "",
        f"class Record{mod}:",
        f'    """A record of module {mod}."""',
        "",
        "    def __init__(self, value: int) -> None:",
        "        self.value = value",
        "",
        "    def doubled(self) -> int:",
        "        return self.value * 2",
        "",
    ]
    for i in range(functions):
        lines += [
            "",
            f"def helper_{pkg}_{mod}_{i}(value: int) -> int:",
            f'    """Helper {i}."""',
            "    total = value",
            "    for step in range(3):",
            "        total += step",
            (f"    return helper_{other_pkg}_{mod}_0(total) + Record{other_mod}(total).doubled()"
             if edited else f"    return total + {i}"),
            "",
        ]
    return "\n".join(lines) + "\n"


def build_repository(root: Path, files: int, changed_per_file: int) -> tuple[GitRepo, str, str]:
    files_per_pkg = max(files // PACKAGES, 1)
    functions = changed_per_file // 2
    repo = GitRepo(root)
    base: dict[str, str | bytes] = {
        "pyproject.toml": ('[project]\nname = "app"\n\n[tool.ruff]\nline-length = 100\n\n'
                           '[tool.ruff.lint]\nselect = ["E", "F", "B"]\n'),
        "CONTRIBUTING.md": "# Contributing\n\nType every function. Log with constant messages.\n",
        ".editorconfig": "root = true\n\n[*.py]\nindent_style = space\nindent_size = 4\n",
        "app/__init__.py": "",
    }
    head: dict[str, str | bytes] = {}
    for pkg in range(PACKAGES):
        base[f"app/pkg{pkg}/__init__.py"] = ""
        for mod in range(files_per_pkg):
            path = f"app/pkg{pkg}/mod{mod}.py"
            base[path] = module_source(pkg, mod, files_per_pkg, functions, edited=False)
            head[path] = module_source(pkg, mod, files_per_pkg, functions, edited=True)
            if mod % 2 == 0:
                base[f"tests/pkg{pkg}/test_mod{mod}.py"] = (
                    f"from app.pkg{pkg}.mod{mod} import helper_{pkg}_{mod}_1\n\n\n"
                    f"def test_helper() -> None:\n    assert helper_{pkg}_{mod}_1(1) == 4\n")
    base_sha = repo.commit("base", base)
    head_sha = repo.commit("head", head)
    return repo, base_sha, head_sha


async def run_pipeline(root: Path, base: str, head: str,
                       ) -> tuple[ReviewDiff, ContextPack, PromptPlan, dict[str, float]]:
    from reviewers.tokens import EstimatingCounter

    timings: dict[str, float] = {}
    cpu_start = time.process_time()
    children_start = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open_repository(root) as repository, repository.tree(head) as tree:
        diff = load_diff(repository, base, head)
        timings["diff"] = time.perf_counter() - start
        mark = time.perf_counter()
        context = build_context(tree, diff)
        timings["context"] = time.perf_counter() - mark
        mark = time.perf_counter()
        plan = await plan_prompts(diff, context, EstimatingCounter(),
                                  max_model_len=MAX_MODEL_LEN, answer_tokens=ANSWER_TOKENS,
                                  fixed_overhead_tokens=OVERHEAD_TOKENS)
        timings["packing"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    # CPU seconds are steadier than wall time on a shared machine: ours plus git's
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    timings["cpu"] = time.process_time() - cpu_start
    timings["git_cpu"] = (children.ru_utime + children.ru_stime
                          - children_start.ru_utime - children_start.ru_stime)
    return diff, context, plan, timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--lines-per-file", type=int, default=50,
                        help="changed lines per file (removed + added)")
    parser.add_argument("--trace", action="store_true",
                        help="also measure the Python heap peak with tracemalloc (slow)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        started = time.perf_counter()
        repo, base, head = build_repository(Path(tmp) / "repo", args.files, args.lines_per_file)
        print(f"built repository in {time.perf_counter() - started:.1f} s")

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        diff, context, plan, timings = asyncio.run(run_pipeline(repo.root, base, head))
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        traced_peak = 0
        if args.trace:  # a second run, traced: the Python heap peak (tracing is slow)
            tracemalloc.start()
            asyncio.run(run_pipeline(repo.root, base, head))
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

    kinds: dict[str, int] = {}
    for item in context.items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    print(f"files={len(diff.files)} changed_lines={diff.changed_line_count}")
    print(f"context_items={len(context.items)} by_kind={dict(sorted(kinds.items()))}")
    print(f"prompts={len(plan.groups)} omitted_context={plan.omitted_context_count} "
          f"diff_tokens={sum(g.diff_tokens for g in plan.groups)} "
          f"context_tokens={sum(g.context_tokens for g in plan.groups)}")
    for note in plan.notes:
        print(f"note: {note}")
    print(" ".join(f"{name}_s={value:.3f}" for name, value in timings.items()))
    # the whole process's peak resident set (interpreter and imports included) is the
    # honest upper bound; the growth during the run and the traced heap are printed too
    peak_mb = rss_after
    print(f"rss_before_mb={rss_before:.1f} rss_growth_mb={rss_after - rss_before:.1f}"
          + (f" traced_heap_peak_mb={traced_peak / 2**20:.1f}" if args.trace else ""))
    print(f"pipeline_s={timings['total']:.3f} peak_mb={peak_mb:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
