"""`load_diff` and the git runner over real repositories built in the tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewers.diff import FileDiff, FileStatus, LineKind, ReviewDiff
from reviewers.errors import UsageError
from reviewers.gitdiff import load_diff
from reviewers.gitrepo import LocalRepository, open_repository
from reviewers.languages import language_for
from tests.gitbuilder import GitRepo


def numbered(count: int, prefix: str = "line") -> str:
    return "".join(f"{prefix}{i}\n" for i in range(1, count + 1))


@pytest.fixture
def repo_of(git_repo: GitRepo) -> Iterator[LocalRepository]:
    repository = open_repository(git_repo.root)
    yield repository
    repository.close()


def branch_diff(git_repo: GitRepo, base_files: dict[str, str | bytes],
                head_files: dict[str, str | bytes]) -> ReviewDiff:
    git_repo.commit("base", base_files)
    git_repo.branch("feature")
    git_repo.commit("feature", head_files)
    return load_diff(open_repository(git_repo.root), "main", "feature")


def only_file(diff: ReviewDiff) -> FileDiff:
    assert len(diff.files) == 1, [f.path for f in diff.files]
    return diff.files[0]


def test_multi_hunk_edit_has_line_numbers_on_both_sides(git_repo: GitRepo) -> None:
    lines = numbered(40).splitlines(keepends=True)
    lines[4] = "changed5\n"
    lines.insert(30, "inserted\n")
    diff = branch_diff(git_repo, {"app.py": numbered(40)}, {"app.py": "".join(lines)})

    app = only_file(diff)
    assert app.status is FileStatus.MODIFIED
    assert app.language == "python"
    assert len(app.hunks) == 2
    first, second = app.hunks
    removed = [ln for ln in first.lines if ln.kind is LineKind.REMOVED]
    assert [(ln.text, ln.old_lineno, ln.new_lineno) for ln in removed] == [("line5", 5, None)]
    assert app.added_lines() == {5, 31}
    inserted = next(ln for ln in second.lines if ln.kind is LineKind.ADDED)
    assert (inserted.text, inserted.new_lineno) == ("inserted", 31)
    after = second.lines[second.lines.index(inserted) + 1]
    assert (after.text, after.old_lineno, after.new_lineno) == ("line31", 31, 32)
    assert diff.changed_line_count == 3


def test_merge_base_semantics_ignore_later_changes_on_the_base_branch(
        git_repo: GitRepo) -> None:
    git_repo.commit("base", {"a.py": "a = 1\n", "b.py": "b = 1\n"})
    git_repo.branch("feature")
    head = git_repo.commit("feature", {"a.py": "a = 2\n"})
    git_repo.checkout("main")
    git_repo.commit("main moves on", {"b.py": "b = 2\n"})

    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    assert [f.path for f in diff.files] == ["a.py"]
    assert diff.head_sha == head
    assert diff.base_sha == git_repo.git("merge-base", "main", "feature")


def test_added_and_deleted_files(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"old.py": "x = 1\ny = 2\n"})
    git_repo.branch("feature")
    git_repo.remove("old.py")
    git_repo.commit("swap", {"new.go": "package main\n"})
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    added, deleted = diff.file("new.go"), diff.file("old.py")
    assert added is not None
    assert deleted is not None
    assert (added.status, added.old_path, added.language) == (FileStatus.ADDED, None, "go")
    assert added.added_lines() == {1}
    assert (deleted.status, deleted.old_path) == (FileStatus.DELETED, "old.py")
    assert not deleted.reviewable
    assert [ln.old_lineno for ln in deleted.hunks[0].lines] == [1, 2]


def test_pure_rename_is_noted_and_has_nothing_to_review(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"pkg/util.py": numbered(20)})
    git_repo.branch("feature")
    git_repo.move("pkg/util.py", "pkg/helpers.py")
    git_repo.commit("rename")
    renamed = only_file(load_diff(open_repository(git_repo.root), "main", "feature"))

    assert (renamed.status, renamed.path, renamed.old_path) == (
        FileStatus.RENAMED, "pkg/helpers.py", "pkg/util.py")
    assert renamed.hunks == []
    assert not renamed.reviewable
    assert "renamed from pkg/util.py (without changes)" in renamed.notes


def test_rename_with_edits_numbers_old_side_by_old_file_and_new_side_by_new(
        git_repo: GitRepo) -> None:
    git_repo.commit("base", {"pkg/util.py": numbered(30)})
    git_repo.branch("feature")
    git_repo.move("pkg/util.py", "pkg/helpers.py")
    lines = numbered(30).splitlines(keepends=True)
    lines[0:0] = ["import os\n", "import sys\n"]
    lines[21] = "edited20\n"  # was line20, now at head line 22
    git_repo.commit("rename and edit", {"pkg/helpers.py": "".join(lines)})
    renamed = only_file(load_diff(open_repository(git_repo.root), "main", "feature"))

    assert (renamed.status, renamed.old_path) == (FileStatus.RENAMED, "pkg/util.py")
    assert renamed.added_lines() == {1, 2, 22}
    removed = [ln for h in renamed.hunks for ln in h.lines if ln.kind is LineKind.REMOVED]
    assert [(ln.text, ln.old_lineno) for ln in removed] == [("line20", 20)]
    assert any(note.startswith("renamed from pkg/util.py (similarity") for note in renamed.notes)


def test_copy_is_detected_from_a_modified_source(git_repo: GitRepo) -> None:
    source = numbered(40, "original")
    git_repo.commit("base", {"src.py": source})
    git_repo.branch("feature")
    git_repo.commit("copy", {"src.py": source + "extra\n", "copy.py": source + "tail\n"})
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    copied = diff.file("copy.py")
    assert copied is not None
    assert (copied.status, copied.old_path) == (FileStatus.COPIED, "src.py")
    assert copied.added_lines() == {41}


def test_binary_mode_only_and_symlink_changes_are_noted(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"logo.png": b"\x89PNG\x00\x01", "run.sh": "echo hi\n",
                             "link": "plain file\n"})
    git_repo.branch("feature")
    git_repo.write("logo.png", b"\x89PNG\x00\x02")
    os.chmod(git_repo.root / "run.sh", 0o755)
    os.remove(git_repo.root / "link")
    os.symlink("../../etc/passwd", git_repo.root / "link")
    git_repo.commit("odd changes")
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    logo, script, link = diff.file("logo.png"), diff.file("run.sh"), diff.file("link")
    assert logo is not None
    assert script is not None
    assert link is not None
    assert logo.is_binary
    assert not logo.reviewable
    assert "binary file; not reviewed" in logo.notes
    assert script.mode_only
    assert (script.old_mode, script.new_mode) == ("100644", "100755")
    assert "mode changed 100644 -> 100755" in script.notes
    assert [f.path for f in diff.files].count("link") == 1  # git's delete+add joined
    assert (link.status, link.old_mode, link.new_mode) == (FileStatus.MODIFIED, "100644", "120000")
    assert "type changed: mode 100644 -> 120000" in link.notes


def test_submodule_change_is_noted_and_not_reviewable(git_repo: GitRepo) -> None:
    inner = GitRepo(git_repo.root / "vendor" / "lib")
    first = inner.commit("one", {"lib.py": "v = 1\n"})
    git_repo.commit("base", {"main.py": "x = 1\n"})
    git_repo.branch("feature")
    second = inner.commit("two", {"lib.py": "v = 2\n"})
    git_repo.commit("bump submodule")
    diff = load_diff(open_repository(git_repo.root), "main", "feature")

    sub = only_file(diff)
    assert sub.path == "vendor/lib"
    assert sub.is_submodule
    assert not sub.reviewable
    assert sub.hunks == []
    assert f"submodule: {first[:12]} -> {second[:12]}; not reviewed" in sub.notes


def test_missing_final_newline_crlf_and_latin1_content(git_repo: GitRepo) -> None:
    diff = branch_diff(
        git_repo,
        {"end.txt": "a\nb\n", "win.txt": "one\r\ntwo\r\n",
         "legacy.py": "name = 'caf\xe9'\n".encode("latin-1")},
        {"end.txt": "a\nb\nc", "win.txt": "one\r\nTWO\r\n",
         "legacy.py": "name = 'cr\xe8me br\xfbl\xe9e'\n".encode("latin-1")},
    )
    end, win, legacy = diff.file("end.txt"), diff.file("win.txt"), diff.file("legacy.py")
    assert end is not None
    assert win is not None
    assert legacy is not None

    assert [ln.text for ln in end.hunks[0].lines] == ["a", "b", "c"]
    assert "no newline at end of file (head version)" in end.notes
    assert end.added_lines() == {3}

    assert [(ln.kind, ln.text) for ln in win.hunks[0].lines] == [
        (LineKind.CONTEXT, "one"), (LineKind.REMOVED, "two"), (LineKind.ADDED, "TWO")]
    assert any(note.startswith("CRLF line endings") for note in win.notes)

    added = [ln.text for ln in legacy.hunks[0].lines if ln.kind is LineKind.ADDED]
    assert added == ["name = 'crème brûlée'"]
    assert "not valid UTF-8: shown decoded as Latin-1" in legacy.notes
    assert "crème" in diff.patch_text


def test_paths_with_spaces_unicode_and_quotes(git_repo: GitRepo) -> None:
    names = ["docs/my notes b/ü.md", "src/naïve café.py", 'odd"quote\tname.js']
    # Empty files have no ---/+++ lines: their path comes from the `diff --git` line alone.
    empty = ["empty a/b b/c.txt", 'empty "quoted\\" ü.txt']
    diff = branch_diff(git_repo, {"keep.txt": "k\n"},
                       {**{name: "content\n" for name in names}, **dict.fromkeys(empty, "")})

    assert sorted(f.path for f in diff.files) == sorted(names + empty)
    for f in diff.files:
        assert f.status is FileStatus.ADDED
        assert f.added_lines() == (set() if f.path in empty else {1})
    cafe = diff.file("src/naïve café.py")
    assert cafe is not None
    assert cafe.language == "python"
    assert diff.file("empty a/b b/c.txt") is not None


def test_empty_diff_has_no_files_and_says_so(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"a.py": "a = 1\n"})
    diff = load_diff(open_repository(git_repo.root), "main", "HEAD")

    assert diff.files == []
    assert diff.changed_line_count == 0
    assert diff.notes == ["no changes between main and HEAD"]


@pytest.mark.parametrize(("path", "language"), [
    ("a/b.py", "python"), ("web/app.tsx", "typescript"), ("web/app.mjs", "javascript"),
    ("cmd/main.go", "go"), ("src/Main.java", "java"), ("Dockerfile", "dockerfile"),
    ("README", None), ("data.bin", None),
])
def test_language_for(path: str, language: str | None) -> None:
    assert language_for(path) == language


def test_not_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not inside a git repository"):
        open_repository(tmp_path)
    with pytest.raises(UsageError, match="is not a directory"):
        open_repository(tmp_path / "missing")


def test_unknown_ref_is_a_usage_error(git_repo: GitRepo, repo_of: LocalRepository) -> None:
    git_repo.commit("base", {"a.py": "a = 1\n"})
    with pytest.raises(UsageError, match=r"unknown revision 'no-such-branch'.*git rev-parse"):
        load_diff(repo_of, "no-such-branch", "HEAD")
    with pytest.raises(UsageError, match="not a valid git revision"):
        repo_of.resolve("--output=/tmp/x")


def test_unrelated_histories_are_a_usage_error(git_repo: GitRepo,
                                               repo_of: LocalRepository) -> None:
    git_repo.commit("base", {"a.py": "a = 1\n"})
    git_repo.git("checkout", "-q", "--orphan", "other")
    git_repo.commit("unrelated", {"b.py": "b = 1\n"})
    with pytest.raises(UsageError, match="no common ancestor"):
        load_diff(repo_of, "main", "other")


def test_open_repository_finds_the_top_level_and_default_branch(git_repo: GitRepo) -> None:
    git_repo.commit("base", {"pkg/deep/a.py": "a = 1\n"})
    git_repo.branch("feature")
    repository = open_repository(git_repo.root / "pkg" / "deep")
    assert repository.root == git_repo.root.resolve()
    assert repository.default_branch() == "main"
    git_repo.git("branch", "-m", "main", "trunk")
    assert repository.default_branch() == "trunk"
    git_repo.git("update-ref", "refs/remotes/origin/develop", "HEAD")
    git_repo.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop")
    assert repository.default_branch() == "origin/develop"


def test_git_tree_reads_regular_files_only(git_repo: GitRepo, repo_of: LocalRepository) -> None:
    git_repo.write("big.txt", "x" * 2048)
    git_repo.write("blob.bin", b"abc\x00def")
    git_repo.write("src/app.py", "print('hi')\n")
    os.symlink("../../../etc/passwd", git_repo.root / "src" / "escape")
    GitRepo(git_repo.root / "vendor").commit("inner", {"v.py": "v = 1\n"})
    head = git_repo.commit("tree")

    with repo_of.tree(head, max_blob_bytes=1024) as tree:
        assert tree.revision == head
        assert tree.list_files() == ["big.txt", "blob.bin", "src/app.py"]
        assert tree.read_text("src/app.py") == "print('hi')\n"
        assert tree.read_bytes("src/escape") is None
        assert tree.skipped["src/escape"] == "symlink"
        assert tree.read_bytes("vendor") is None
        assert tree.skipped["vendor"] == "submodule"
        assert tree.read_bytes("big.txt") is None
        assert tree.skipped["big.txt"].startswith("larger than 1024 bytes")
        assert tree.read_bytes("blob.bin") == b"abc\x00def"
        assert tree.read_text("blob.bin") is None
        assert tree.read_bytes("nope.py") is None


def test_git_tree_reads_a_revision_not_the_work_tree(git_repo: GitRepo,
                                                     repo_of: LocalRepository) -> None:
    first = git_repo.commit("one", {"a.py": "old\n"})
    git_repo.commit("two", {"a.py": "new\n"})
    git_repo.write("a.py", "uncommitted\n")
    with repo_of.tree(first) as old, repo_of.tree("HEAD") as new:
        assert old.read_text("a.py") == "old\n"
        assert new.read_text("a.py") == "new\n"


def test_two_hundred_file_diff_loads_quickly(git_repo: GitRepo) -> None:
    body = "".join(f"def f{j}(x):\n    return x + {j}\n\n" for j in range(20))
    files = {f"pkg{i % 10}/mod{i}.py": body for i in range(200)}
    changed = {path: text.replace("return x", "return  x") for path, text in files.items()}
    diff = branch_diff(git_repo, dict(files), dict(changed))  # 200 files, 8000 changed lines
    started = time.perf_counter()
    diff = load_diff(open_repository(git_repo.root), "main", "feature")
    elapsed = time.perf_counter() - started

    assert len(diff.files) == 200
    assert diff.changed_line_count == 200 * 40
    assert elapsed < 2.0, f"load_diff took {elapsed:.2f} s"
    with open_repository(git_repo.root) as repository:
        tree = repository.tree("feature")
        started = time.perf_counter()
        texts = [tree.read_text(f.path) for f in diff.files]
        assert time.perf_counter() - started < 1.0
    assert all(text is not None and "return  x" in text for text in texts)
