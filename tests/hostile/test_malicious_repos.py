"""Malicious repositories: symlinks out of the checkout, huge files, git bombs, deep trees,
path-traversal names and hostile `.reviewbot.yml` files.

The repositories are real (built with git's plumbing where porcelain refuses). Reviews run
through the real CLI in a child process under an address-space limit and a generous
wall-clock guard, so "bounded memory and time" is enforced by the kernel, not measured.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from bot.checkout import Mirror
from bot.forges.base import GitRemote
from reviewers.errors import ConfigError, RepositoryError
from reviewers.repoconfig import parse_repo_config
from tests.conftest import REPO_ROOT
from tests.gitbuilder import GitRepo

MEMORY_LIMIT = 2 * 1024**3  # address space of the reviewing process
GUARD_S = 180  # a hang guard, not a performance bound

APP = "import os\n\n\ndef run(path):\n    return os.listdir(path)\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def review_cli(repo: Path, tmp_path: Path, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    """`reviewbot review --format json --engine none` in a child process under limits."""
    env = {**os.environ, "REVIEWBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'h.sqlite3'}",
           "CI": "1"}
    env.pop("REVIEWBOT_ENGINE_URLS", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "review", "--repo", str(repo), "--base", "main",
         "--head", "feature", "--format", "json", "--engine", "none", "--no-tests", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, timeout=GUARD_S, check=False,
        preexec_fn=_limit_memory)
    stderr = done.stderr.decode("utf-8", "replace")
    try:
        document = json.loads(done.stdout) if done.returncode in (0, 1) else {}
    except json.JSONDecodeError as exc:
        raise AssertionError(f"no JSON report (exit {done.returncode}): {stderr}") from exc
    return done.returncode, document, stderr


def _notes(document: dict) -> str:  # type: ignore[type-arg]
    return json.dumps(document.get("notes", []))


def _commit_tree(repo: GitRepo, entries: list[str], message: str) -> str:
    """Commit a tree made of `ls-tree` style lines on top of HEAD, on branch `feature`."""
    tree = repo.git("mktree", "--missing", input_bytes=("\n".join(entries) + "\n").encode())
    commit = repo.git("commit-tree", tree, "-p", "HEAD", "-m", message)
    repo.git("update-ref", "refs/heads/feature", commit)
    return commit


def _head_entries(repo: GitRepo) -> list[str]:
    return repo.git("ls-tree", "HEAD").splitlines()


def _git_bomb(repo: GitRepo, depth: int, width: int = 10) -> str:
    """A tree that lists width**depth files while storing only depth+1 objects."""
    blob = repo.git("hash-object", "-w", "--stdin", input_bytes=b"print('boom')\n")
    tree = repo.git("mktree", input_bytes="".join(
        f"100644 blob {blob}\tf{i}.py\n" for i in range(width)).encode())
    for _ in range(depth - 1):
        tree = repo.git("mktree", input_bytes="".join(
            f"040000 tree {tree}\td{i}\n" for i in range(width)).encode())
    return tree


@pytest.fixture
def victim(make_repo: object) -> GitRepo:
    repo: GitRepo = make_repo("victim")  # type: ignore[operator]
    repo.commit("base", {"app.py": APP})
    return repo


@pytest.mark.slow
def test_symlinks_out_of_the_checkout_are_never_read(victim: GitRepo, tmp_path: Path) -> None:
    canary = tmp_path / "outside" / "credentials.py"
    canary.parent.mkdir()
    canary.write_text('TOKEN = "CANARY-7d1f0c-outside-the-checkout"\n')
    victim.branch("feature")
    os.symlink(canary, victim.root / "settings_link.py")
    os.symlink("../outside/credentials.py", victim.root / "relative_link.py")
    os.symlink("/etc", victim.root / "etc_dir")
    victim.commit("links", {"app.py": APP + "\n\ndef more():\n    return 1\n"})

    code, document, stderr = review_cli(victim.root, tmp_path)

    assert code in (0, 1), stderr
    assert "CANARY" not in json.dumps(document) + stderr
    assert "symlink" in json.dumps(document)


@pytest.mark.slow
def test_a_huge_file_is_skipped_with_a_note(victim: GitRepo, tmp_path: Path) -> None:
    victim.branch("feature")
    victim.commit("data", {"dump.py": "x = 1\n" * 8_000_000,  # 48 MB of "code"
                           "app.py": APP + "\n\ndef more():\n    return 1\n"})

    code, document, stderr = review_cli(victim.root, tmp_path)

    assert code in (0, 1), stderr
    files = {f["path"]: f for f in document["files"]} if "files" in document else {}
    assert "dump.py" not in files or not files["dump.py"].get("reviewed", False)
    assert "binary" in _notes(document) or "binary" in json.dumps(document)


@pytest.mark.slow
def test_a_git_bomb_in_the_change_is_reviewed_in_part_with_a_note(
        victim: GitRepo, tmp_path: Path) -> None:
    bomb = _git_bomb(victim, depth=7)  # 10 million files in 7 tree objects
    _commit_tree(victim, [*_head_entries(victim), f"040000 tree {bomb}\tbomb"], "bomb")

    code, document, stderr = review_cli(victim.root, tmp_path)

    if code == 2:  # git could not even list the change within its memory cap
        assert "too large to review" in stderr, stderr
        assert "Traceback" not in stderr
    else:
        assert code in (0, 1), stderr
        assert "only its first" in _notes(document), _notes(document)


@pytest.mark.slow
def test_a_git_bomb_already_in_the_repository_does_not_stop_a_small_review(
        victim: GitRepo, tmp_path: Path) -> None:
    bomb = _git_bomb(victim, depth=7)
    base = _commit_tree(victim, [*_head_entries(victim), f"040000 tree {bomb}\tbomb"], "bomb")
    victim.git("update-ref", "refs/heads/main", base)
    victim.git("checkout", "-q", "--detach", base)  # the work tree is irrelevant here
    victim.git("branch", "-D", "feature")
    blob = victim.git("hash-object", "-w", "--stdin",
                      input_bytes=(APP + "\n\ndef more():\n    return eval(input())\n").encode())
    entries = [e for e in victim.git("ls-tree", base).splitlines() if not e.endswith("\tapp.py")]
    tree = victim.git("mktree", input_bytes=("\n".join(
        [*entries, f"100644 blob {blob}\tapp.py"]) + "\n").encode())
    victim.git("update-ref", "refs/heads/feature",
               victim.git("commit-tree", tree, "-p", base, "-m", "small change"))

    code, document, stderr = review_cli(victim.root, tmp_path)

    assert code in (0, 1), stderr
    assert document["stats"]["files"] == 1
    assert [f["path"] for f in document["findings"]] == ["app.py"]  # the eval() it added


@pytest.mark.slow
def test_a_very_deep_tree_and_path_traversal_names_stay_inside_the_scratch_space(
        victim: GitRepo, tmp_path: Path) -> None:
    blob = victim.git("hash-object", "-w", "--stdin",
                      input_bytes=b"import pickle\n\ndef load(b):\n    return pickle.loads(b)\n")
    deep = victim.git("mktree", input_bytes=f"100644 blob {blob}\tdeep.py\n".encode())
    for _ in range(1500):  # a 4,500-character path: longer than PATH_MAX on disk
        deep = victim.git("mktree", input_bytes=f"040000 tree {deep}\tdd\n".encode())
    # a tree entry named ".." (git's porcelain refuses it; the object format does not)
    raw = b"100644 evil.py\0" + bytes.fromhex(blob)
    dotdot = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                        input_bytes=raw)
    traversal = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                           input_bytes=b"40000 ..\0" + bytes.fromhex(dotdot))
    risky = victim.git("hash-object", "-w", "--stdin",
                       input_bytes=(APP + "\n\ndef more(x):\n    return eval(x)\n").encode())
    entries = [e for e in _head_entries(victim) if not e.endswith("\tapp.py")]
    _commit_tree(victim, [*entries, f"100644 blob {risky}\tapp.py",
                          f"040000 tree {deep}\tdeep", f"040000 tree {traversal}\tsafe"],
                 "deep and traversal")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    code, document, stderr = review_cli(victim.root, tmp_path, "--no-history")

    assert code in (0, 1), stderr
    assert not (tmp_path / "evil.py").exists()
    assert not (victim.root / "evil.py").exists()
    # the hostile names did not switch the analyzers off for the rest of the change
    assert ("app.py", "B307") in {(f["path"], f["rule"].split("/")[-1].split(":")[0])
                                  for f in document["findings"]}, document["findings"]


def test_checking_out_a_hostile_tree_fails_clearly_and_writes_nothing_outside(
        victim: GitRepo, tmp_path: Path) -> None:
    blob = victim.git("hash-object", "-w", "--stdin", input_bytes=b"#!/bin/sh\ntouch pwned\n")
    hook = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                      input_bytes=b"100755 post-checkout\0" + bytes.fromhex(blob))
    hooks = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                       input_bytes=b"40000 hooks\0" + bytes.fromhex(hook))
    dotgit = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                        input_bytes=b"40000 .git\0" + bytes.fromhex(hooks))
    escape = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                        input_bytes=b"100644 escaped.txt\0" + bytes.fromhex(blob))
    up = victim.git("hash-object", "-w", "-t", "tree", "--literally", "--stdin",
                    input_bytes=b"40000 ..\0" + bytes.fromhex(escape))
    head = _commit_tree(victim, [*_head_entries(victim), f"040000 tree {dotgit}\tsub",
                                 f"040000 tree {up}\tnested"], "hostile tree")
    mirror = Mirror(tmp_path / "mirrors", "github", "acme/victim", timeout_s=60)
    mirror.fetch(GitRemote(url=str(victim.root)), ["feature"])

    with pytest.raises(RepositoryError, match="worktree"), mirror.worktree(head):
        pass
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(tmp_path.rglob("pwned"))


@pytest.mark.parametrize(("text", "says"), [
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "aliases"),
    ("include: " + "[" * 20_000 + "]" * 20_000, "nests deeper"),
    ("{a: " * 5_000 + "1" + "}" * 5_000, "nests deeper"),
    ("x: " + "y" * 70_000, "larger than"),
    ("include: 5\nfail_on: extreme\n", "include: Input should be a valid list"),
    ("reviewers: [llm, rm -rf]\n", "reviewers.1"),
    ("- just\n- a list\n", "must be a mapping"),
    ("include: !!python/object/apply:os.system ['id']\n", "not valid YAML"),
    ("rules:\n  x: {severity: catastrophic}\n", "rules.x.severity"),
    ("instructions: 12\nunknown_key: 1\n", "unknown_key: unknown key"),
    (b"\xff\xfe\x00\x01 binary", "not valid YAML"),
])
def test_hostile_repo_config_is_one_clear_error(text: str | bytes, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_repo_config(text)
    assert says in str(caught.value)
    assert len(str(caught.value)) < 1000


@pytest.mark.slow
def test_a_hostile_base_config_falls_back_to_defaults_with_a_note(
        victim: GitRepo, tmp_path: Path) -> None:
    victim.commit("config", {".reviewbot.yml": "include: " + "[" * 20_000 + "]" * 20_000})
    victim.branch("feature")
    victim.commit("change", {"app.py": APP + "\n\ndef more():\n    return 1\n"})

    code, document, stderr = review_cli(victim.root, tmp_path)

    assert code in (0, 1), stderr
    assert "nests deeper" in stderr + _notes(document)
