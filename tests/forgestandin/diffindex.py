"""Which lines of a PR's diff can carry a review comment, computed from the real git repo."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from unidiff.patch import PatchSet


@dataclass
class DiffIndex:
    """`right`/`left`: (path, line) -> hunk number; `context`: (path, old, new) triples."""

    right: dict[tuple[str, int], int] = field(default_factory=dict)
    left: dict[tuple[str, int], int] = field(default_factory=dict)
    context: set[tuple[str, int, int]] = field(default_factory=set)
    added: set[tuple[str, int]] = field(default_factory=set)
    removed: set[tuple[str, int]] = field(default_factory=set)
    paths: dict[str, str] = field(default_factory=dict)  # new path -> old path

    def hunk(self, path: str, line: int, side: str) -> int | None:
        return (self.right if side == "RIGHT" else self.left).get((path, line))


def merge_base(git_dir: Path, base: str, head: str) -> str:
    return _git(git_dir, "merge-base", base, head).strip()


def build_index(git_dir: Path, base: str, head: str) -> DiffIndex:
    """Index `base...head` (the three-dot diff both forges show for a PR)."""
    text = _git(git_dir, "diff", "--no-color", "--no-ext-diff", "-M", f"{base}...{head}")
    index = DiffIndex()
    hunk_no = 0
    for patched in PatchSet(text):
        new_path = _strip(patched.target_file) or _strip(patched.source_file)
        old_path = _strip(patched.source_file) or new_path
        index.paths[new_path] = old_path
        for hunk in patched:
            hunk_no += 1
            for line in hunk:
                old, new = line.source_line_no or 0, line.target_line_no or 0
                if line.is_added:
                    index.right[(new_path, new)] = hunk_no
                    index.added.add((new_path, new))
                elif line.is_removed:
                    index.left[(new_path, old)] = hunk_no
                    index.removed.add((new_path, old))
                elif line.is_context:
                    index.right[(new_path, new)] = hunk_no
                    index.left[(new_path, old)] = hunk_no
                    index.context.add((new_path, old, new))
    return index


def _strip(name: str) -> str:
    if name == "/dev/null":
        return ""
    return name[2:] if name.startswith(("a/", "b/")) else name


def _git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=git_dir, capture_output=True, check=True)
    return done.stdout.decode("utf-8", "replace")
