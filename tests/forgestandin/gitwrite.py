"""Writes git objects into a stand-in's repository the way the forges' commit APIs do."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path


def git(git_dir: Path, *args: str, data: bytes | None = None,
        env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=git_dir, input=data, capture_output=True,
                          check=True, env={**os.environ, **(env or {})})
    return done.stdout.decode().strip()


def tree_with(git_dir: Path, base_tree: str | None, files: Mapping[str, str]) -> str:
    """A tree: `base_tree` (or empty) with `files` written as regular blobs."""
    with tempfile.TemporaryDirectory(prefix="standin-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        if base_tree:
            git(git_dir, "read-tree", base_tree, env=env)
        for path, content in files.items():
            blob = git(git_dir, "hash-object", "-w", "--stdin", data=content.encode())
            git(git_dir, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}",
                env=env)
        return git(git_dir, "write-tree", env=env)


def commit_tree(git_dir: Path, tree: str, parents: list[str], message: str) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(git_dir, *args, data=message.encode(), env={
        "GIT_AUTHOR_NAME": "reviewbot", "GIT_AUTHOR_EMAIL": "bot@example.com",
        "GIT_COMMITTER_NAME": "reviewbot", "GIT_COMMITTER_EMAIL": "bot@example.com"})


def commit_info(git_dir: Path, sha: str) -> tuple[str, list[str], str] | None:
    """(tree, parents, message) of a commit, or None when there is no such commit."""
    done = subprocess.run(["git", "cat-file", "-t", sha], cwd=git_dir, capture_output=True,
                          check=False)
    if done.returncode != 0 or done.stdout.strip() != b"commit":
        return None
    tree = git(git_dir, "rev-parse", f"{sha}^{{tree}}")
    parents = git(git_dir, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    message = git(git_dir, "log", "-1", "--format=%B", sha)
    return tree, parents, message


def exists(git_dir: Path, rev: str) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "-q", rev], cwd=git_dir,
                          capture_output=True, check=False).returncode == 0
