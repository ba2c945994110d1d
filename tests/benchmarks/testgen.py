"""Benchmark: sandbox start-up overhead and time per validated generated test.

Run as `python -m tests.benchmarks.testgen [--candidates N] [--repeat R]`. Builds a small
real-world-style package in a real git repository (an `inventory` package: models, pricing
with a discount change, a CSV importer, existing pytest tests and a pyproject), then:

1. sandbox overhead: median wall time of `python -c pass` under bubblewrap with all limits
   minus the same command run directly (R runs each);
2. validation: `generate_tests` end to end with the vLLM stand-in scripted to return N
   candidates (good ones plus failing, flaky, assertion-free and coverage-neutral ones),
   validated one at a time: wall time per candidate, split by fate.

The last line is `sandbox_overhead_ms=<x> validate_ms_per_candidate=<y>`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reviewers.gitdiff import load_diff
from reviewers.gitrepo import LocalRepository
from reviewers.prompts import build_prefix
from reviewers.testgen import Sandbox, SandboxConfig, TestGenOptions, TestGenResult, generate_tests
from tests.engine.helpers import pool_for
from tests.gitbuilder import GitRepo
from tests.standin.engine import StandinConfig
from tests.standin.server import StandinServer

MODELS = '''\
"""Stock items."""

from dataclasses import dataclass


@dataclass
class Item:
    sku: str
    price: float
    quantity: int = 0

    def value(self):
        return self.price * self.quantity
'''

PRICING_BASE = '''\
"""Prices."""


def line_total(price, quantity):
    return price * quantity
'''

PRICING_HEAD = '''\
"""Prices."""


def line_total(price, quantity):
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    return round(price * quantity, 2)


def bulk_discount(total, quantity):
    """10 % off from 10 items, 20 % from 100."""
    if quantity >= 100:
        return round(total * 0.8, 2)
    if quantity >= 10:
        return round(total * 0.9, 2)
    return total
'''

IMPORTER_BASE = '''\
"""Read items from CSV text."""

import csv
import io

from inventory.models import Item


def parse(text):
    rows = csv.DictReader(io.StringIO(text))
    return [Item(r["sku"], float(r["price"]), int(r["quantity"])) for r in rows]
'''

IMPORTER_HEAD = IMPORTER_BASE + '''

def total_value(items):
    """The stock value of `items`, skipping items without a SKU."""
    return sum(item.value() for item in items if item.sku)
'''

EXISTING_TESTS = {
    "tests/test_models.py": "from inventory.models import Item\n\n\ndef test_value():\n"
                            "    assert Item('a', 2.0, 3).value() == 6.0\n",
    "tests/test_pricing.py": "from inventory.pricing import line_total\n\n\n"
                             "def test_line_total():\n    assert line_total(2.5, 2) == 5.0\n",
}

PYPROJECT = """\
[project]
name = "inventory"
version = "1.0.0"
requires-python = ">=3.10"

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--strict-markers"
"""

GOOD = [
    ("inventory.pricing:bulk_discount", "from inventory.pricing import bulk_discount\n\n\n"
     "def test_ten_items_get_ten_percent():\n    assert bulk_discount(100.0, 10) == 90.0\n\n\n"
     "def test_hundred_items_get_twenty_percent():\n    assert bulk_discount(100.0, 100) == 80.0\n"
     "\n\ndef test_few_items_pay_full_price():\n    assert bulk_discount(100.0, 9) == 100.0\n"),
    ("inventory.pricing:line_total", "import pytest\n\nfrom inventory.pricing import line_total"
     "\n\n\ndef test_negative_quantity_is_refused():\n    with pytest.raises(ValueError):\n"
     "        line_total(1.0, -1)\n"),
    ("inventory.importer:total_value", "from inventory.importer import parse, total_value\n\n\n"
     "def test_items_without_sku_do_not_count():\n    items = parse('sku,price,quantity\\n"
     "a,2.0,3\\n,5.0,1\\n')\n    assert total_value(items) == 6.0\n"),
]
FAILING = ("inventory.pricing:bulk_discount", "from inventory.pricing import bulk_discount\n\n\n"
           "def test_wrong():\n    assert bulk_discount(100.0, 10) == 95.0\n")
FLAKY = ("inventory.pricing:bulk_discount", "from pathlib import Path\n\n"
         "from inventory.pricing import bulk_discount\n\nSEEN = Path(__file__).with_name('seen')"
         "\n\n\ndef test_flaky():\n    runs = int(SEEN.read_text()) if SEEN.exists() else 0\n"
         "    SEEN.write_text(str(runs + 1))\n    assert bulk_discount(100.0, 10) == "
         "(90.0 if runs < 3 else 1.0)\n")
NO_ASSERT = ("inventory.pricing:bulk_discount", "from inventory.pricing import bulk_discount"
             "\n\n\ndef test_runs():\n    bulk_discount(1.0, 1)\n")
NEUTRAL = ("inventory.pricing:line_total", "from inventory.pricing import line_total\n\n\n"
           "def test_again():\n    assert line_total(2.5, 2) == 5.0\n")


def build_package(root: Path) -> tuple[GitRepo, str, str]:
    repo = GitRepo(root)
    base = repo.commit("inventory", {
        "pyproject.toml": PYPROJECT, "README.md": "# inventory\n", "inventory/__init__.py": "",
        "inventory/models.py": MODELS, "inventory/pricing.py": PRICING_BASE,
        "inventory/importer.py": IMPORTER_BASE, **EXISTING_TESTS})
    head = repo.commit("bulk discounts", {"inventory/pricing.py": PRICING_HEAD,
                                          "inventory/importer.py": IMPORTER_HEAD})
    return repo, base, head


def candidates(count: int) -> list[dict[str, Any]]:
    pool = [*GOOD, FAILING, FLAKY, NO_ASSERT, NEUTRAL]
    return [{"target": pool[i % len(pool)][0], "behaviour": f"candidate {i}",
             "path": f"tests/test_generated_{i}.py", "code": pool[i % len(pool)][1]}
            for i in range(count)]


async def sandbox_overhead_ms(box: Sandbox, work: Path, repeat: int) -> tuple[float, float]:
    """(median sandboxed ms, median direct ms) of `python -c pass`."""
    argv = [sys.executable, "-c", "pass"]
    sandboxed, direct = [], []
    for _ in range(repeat):
        done = await box.run(argv, writable=work, cwd=work)
        if not done.ok:
            raise SystemExit(f"sandboxed run failed: {done.output}")
        sandboxed.append(done.seconds * 1000)
        started = time.monotonic()
        subprocess.run(argv, cwd=work, check=True)
        direct.append((time.monotonic() - started) * 1000)
    return statistics.median(sandboxed), statistics.median(direct)


async def validate(root: Path, box: Sandbox, count: int) -> TestGenResult:
    repo, base, head = build_package(root / "inventory")
    local = LocalRepository(repo.root)
    diff = load_diff(local, base, head)
    prefix = build_prefix(repository="acme/inventory", title="Bulk discounts",
                          description="", conventions="", instructions="", context="",
                          diff=diff.patch_text)
    server = StandinServer(StandinConfig(time_scale=0.0)).start()
    server.script({"candidates": candidates(count)}, marker="Write unit tests (pytest)")
    pool = pool_for(server.url)
    try:
        return await generate_tests(
            pool, prefix, local, diff, local.tree(head), sandbox=box,
            options=TestGenOptions(max_candidates=count, parallel=1, repair=False),
            affinity_key="acme/inventory")
    finally:
        await pool.aclose()
        server.stop()
        local.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    box = Sandbox(SandboxConfig())
    reason = box.probe()
    if reason is not None:
        raise SystemExit(f"cannot benchmark: sandbox unavailable: {reason}")
    with tempfile.TemporaryDirectory(prefix="bench-testgen-") as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        boxed_ms, direct_ms = asyncio.run(sandbox_overhead_ms(box, work, args.repeat))
        print(f"python -c pass: sandboxed {boxed_ms:.0f} ms, direct {direct_ms:.0f} ms "
              f"(median of {args.repeat}; process cap: {box.process_cap.kind})")
        started = time.monotonic()
        result = asyncio.run(validate(root, box, args.candidates))
        total = time.monotonic() - started
    per_fate: dict[str, list[float]] = {}
    for r in result.results:
        per_fate.setdefault(r.fate.value, []).append(r.seconds * 1000)
    for fate, times in sorted(per_fate.items()):
        print(f"{fate:18} {len(times):3} candidates, {statistics.mean(times):7.0f} ms each")
    print(f"targets {len(result.targets)}, kept {len(result.kept)} of {len(result.results)}; "
          f"baseline: {result.notes[0] if result.notes else '-'}; whole run {total:.1f} s")
    per_candidate = statistics.mean(r.seconds * 1000 for r in result.results)
    print(f"sandbox_overhead_ms={boxed_ms - direct_ms:.0f} "
          f"validate_ms_per_candidate={per_candidate:.0f}")


if __name__ == "__main__":
    main()
