"""The fixed small change the real-engine tests and benchmark review.

A little inventory package (the repository context) and one commit on a branch that adds
a function running a shell command built from its argument: bandit flags it, so one
review makes all three model calls (review, security, triage) over the same prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.gitbuilder import GitRepo

STORE = '''\
"""Stock levels per warehouse, kept in memory and written to CSV reports."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    reorder_level: int = 5


@dataclass
class Warehouse:
    code: str
    items: dict[str, Item] = field(default_factory=dict)

    def add(self, item: Item) -> None:
        if item.sku in self.items:
            raise ValueError(f"duplicate sku {item.sku}")
        self.items[item.sku] = item

    def receive(self, sku: str, quantity: int) -> int:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        item = self.items[sku]
        item.quantity += quantity
        return item.quantity

    def ship(self, sku: str, quantity: int) -> int:
        item = self.items[sku]
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity
        return item.quantity

    def to_reorder(self) -> list[Item]:
        return sorted((i for i in self.items.values() if i.quantity <= i.reorder_level),
                      key=lambda i: i.quantity)


def write_report(warehouse: Warehouse, path: Path) -> int:
    """Write one CSV row per item; returns the number of rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "quantity", "reorder"])
        for item in warehouse.items.values():
            writer.writerow([item.sku, item.name, item.quantity,
                             item.quantity <= item.reorder_level])
    return len(warehouse.items)
'''

REPORTS = '''\
"""Nightly stock reports for every warehouse."""

from __future__ import annotations

from pathlib import Path

from inventory.store import Warehouse, write_report


def nightly(warehouses: list[Warehouse], folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for warehouse in warehouses:
        rows[warehouse.code] = write_report(warehouse, folder / f"{warehouse.code}.csv")
    return rows
'''

ARCHIVE = '''\
"""Archive the nightly reports of one warehouse and restock from the archive's totals."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from inventory.reports import nightly
from inventory.store import Item, Warehouse, write_report


@dataclass
class ArchiveResult:
    path: str
    rows: int
    restocked: list[str]


def archive_reports(folder: Path, warehouse_code: str) -> str:
    """Pack the warehouse's CSV reports into a tarball; returns the archive path."""
    target = f"/tmp/{warehouse_code}-reports.tar.gz"
    command = f"tar czf {target} {folder}/{warehouse_code}*.csv"
    subprocess.run(command, shell=True, check=True)
    return target


def total_rows(counts: dict[str, int]) -> int:
    total = 0
    for code in counts:
        total += counts[code]
    return total


def restock(warehouse: Warehouse, batch: int) -> list[str]:
    """Receive `batch` units of every item at or below its reorder level."""
    restocked = []
    for item in warehouse.to_reorder():
        warehouse.receive(item.sku, batch)
        restocked.append(item.sku)
    return restocked


def move_stock(source: Warehouse, target: Warehouse, sku: str, quantity: int) -> None:
    """Ship from one warehouse and receive in the other, creating the item if needed."""
    source.ship(sku, quantity)
    if sku not in target.items:
        item = source.items[sku]
        target.add(Item(item.sku, item.name, 0, item.reorder_level))
    target.receive(sku, quantity)


def nightly_archive(warehouses: list[Warehouse], folder: Path, batch: int = 10
                    ) -> dict[str, ArchiveResult]:
    """Write every report, archive each warehouse's reports, then restock it."""
    counts = nightly(warehouses, folder)
    results = {}
    for warehouse in warehouses:
        extra = folder / f"{warehouse.code}-late.csv"
        rows = counts[warehouse.code] + write_report(warehouse, extra)
        path = archive_reports(folder, warehouse.code)
        results[warehouse.code] = ArchiveResult(path, rows, restock(warehouse, batch))
    return results


def summary_line(results: dict[str, ArchiveResult]) -> str:
    rows = total_rows({code: result.rows for code, result in results.items()})
    restocked = sum(len(result.restocked) for result in results.values())
    return f"{len(results)} warehouses, {rows} rows archived, {restocked} items restocked"
'''


@dataclass(frozen=True)
class SmallChange:
    repo: GitRepo
    base: str
    head: str


def build_small_change(repo: GitRepo) -> SmallChange:
    """`main` holds the store and reports; branch `archive` adds inventory/archive.py."""
    base = repo.commit("inventory store and reports", {
        "inventory/__init__.py": "", "inventory/store.py": STORE,
        "inventory/reports.py": REPORTS})
    repo.branch("archive")
    head = repo.commit("archive nightly reports", {"inventory/archive.py": ARCHIVE})
    return SmallChange(repo, base, head)
