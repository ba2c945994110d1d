"""Run git on a local repository: resolve refs, find merge bases, read a revision's files fast."""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from reviewers.errors import RepositoryError, UsageError

log = logging.getLogger(__name__)

GIT_TIMEOUT_S = 300.0
MAX_BLOB_BYTES = 2 * 1024 * 1024  # larger files are skipped (read as None) and noted
BINARY_SNIFF_BYTES = 8000  # git's own heuristic: a NUL byte in the first 8000 bytes
REGULAR_MODES = frozenset({"100644", "100755", "100664"})
SYMLINK_MODE = "120000"
GITLINK_MODE = "160000"
_DEFAULT_BRANCH_NAMES = ("main", "master", "trunk")
STREAM_CHUNK_BYTES = 1 << 16
MAX_LISTING_BYTES = 64 * 1024 * 1024  # `ls-tree -r` of ~600k files; a git bomb lists more


def _git_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat"}


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return "no error message"


def _run_git(cwd: Path, args: Sequence[str], ok_codes: Sequence[int] = (0,)
             ) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=_git_env(), capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise UsageError("git is not installed or not on PATH; install git and retry") from exc
    except subprocess.TimeoutExpired as exc:
        raise RepositoryError(f"git {args[0]} took longer than {GIT_TIMEOUT_S:.0f} s") from exc
    if done.returncode not in ok_codes:
        message = _first_line(done.stderr)
        if "dubious ownership" in message:
            raise UsageError(f"git refuses to read {cwd} (owned by another user); run "
                             f"`git config --global --add safe.directory {cwd}` and retry")
        raise RepositoryError(f"git {args[0]} failed in {cwd}: {message}")
    return done


def _keep_tail(stream: IO[bytes], into: list[bytes], keep: int = STREAM_CHUNK_BYTES) -> None:
    """Read `stream` to its end, keeping only its first `keep` bytes (the useful error)."""
    kept = 0
    while chunk := stream.read(STREAM_CHUNK_BYTES):
        if kept < keep:
            into.append(chunk[:keep - kept])
            kept += len(into[-1])


def _memory_capped(limit: int | None) -> Callable[[], None] | None:
    """A child-process hook capping its address space (a plain syscall: fork-safe)."""
    if limit is None:
        return None

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def stream_git(cwd: Path, args: Sequence[str], *, max_bytes: int,
               timeout_s: float = GIT_TIMEOUT_S, max_memory: int | None = None,
               ) -> tuple[bytes, bytes, bool]:
    """Run git and keep at most `max_bytes` of its output: `(stdout, stderr, truncated)`.

    For listings a hostile repository can make explode (a tree that references one subtree
    ten times per level lists 10^depth files): git is killed once the cap is reached or the
    time is up, so memory and time stay bounded whatever the repository holds. Commands
    that collect everything before printing (`git diff` queues every changed file) also get
    `max_memory`: running out of it is reported as a change too large to review.
    """
    try:
        proc = subprocess.Popen(["git", *args], cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_memory_capped(max_memory))
    except FileNotFoundError as exc:
        raise UsageError("git is not installed or not on PATH; install git and retry") from exc
    assert proc.stdout is not None
    assert proc.stderr is not None
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout_s, expire)
    timer.start()
    # stderr drains on its own thread: git can warn once per path (megabytes for a hostile
    # tree), and a full stderr pipe would block it while we wait on stdout
    errors: list[bytes] = []
    drain = threading.Thread(target=_keep_tail, args=(proc.stderr, errors), daemon=True)
    drain.start()
    chunks: list[bytes] = []
    size, truncated = 0, False
    try:
        while chunk := proc.stdout.read(STREAM_CHUNK_BYTES):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                truncated = True
                proc.kill()
                break
        code = proc.wait()
        drain.join(timeout=5)
        stderr = b"".join(errors)
    finally:
        timer.cancel()
        proc.stdout.close()
        proc.stderr.close()
    if expired.is_set() and not truncated:
        raise RepositoryError(f"git {args[0]} took longer than {timeout_s:.0f} s")
    if code != 0 and not truncated and max_memory is not None and (
            b"out of memory" in stderr or code == -signal.SIGKILL):
        raise RepositoryError(
            f"the change is too large to review: git {args[0]} needed more than "
            f"{max_memory // (1024 * 1024)} MiB (a git bomb or a huge generated change)")
    if code != 0 and not truncated:
        raise RepositoryError(f"git {args[0]} failed in {cwd}: {_first_line(stderr)}")
    return b"".join(chunks)[:max_bytes], stderr, truncated


def open_repository(path: str | os.PathLike[str]) -> LocalRepository:
    """The repository containing `path` (a work tree or a bare repository)."""
    where = Path(path).expanduser().absolute()
    if not where.is_dir():
        raise UsageError(f"{where} is not a directory; pass --repo with the path of a git checkout")
    probe = _run_git(where, ["rev-parse", "--is-bare-repository", "--absolute-git-dir"],
                     ok_codes=(0, 128))
    if probe.returncode != 0:
        raise UsageError(f"{where} is not inside a git repository; run reviewbot in a "
                         "checkout or pass --repo PATH")
    bare, git_dir = probe.stdout.decode("utf-8", "surrogateescape").splitlines()[:2]
    if bare == "true":
        return LocalRepository(Path(git_dir))
    top = _run_git(where, ["rev-parse", "--show-toplevel"], ok_codes=(0, 128))
    if top.returncode != 0:  # e.g. inside the .git directory itself
        return LocalRepository(Path(git_dir))
    return LocalRepository(Path(os.fsdecode(top.stdout.rstrip(b"\n"))))


class LocalRepository:
    """A local repository (work tree or bare); every git call runs in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._trees: list[GitTree] = []

    def __repr__(self) -> str:
        return f"LocalRepository({str(self.root)!r})"

    def run_git(self, *args: str, ok_codes: Sequence[int] = (0,)
                ) -> subprocess.CompletedProcess[bytes]:
        """Run `git ARGS` here; exit codes outside `ok_codes` raise RepositoryError."""
        return _run_git(self.root, args, ok_codes)

    def resolve(self, ref: str) -> str:
        """The full commit sha `ref` names; UsageError when it names no commit."""
        if not ref or ref.startswith("-") or "\n" in ref:
            raise UsageError(f"{ref!r} is not a valid git revision")
        done = self.run_git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                            ok_codes=(0, 1, 128))
        sha = done.stdout.decode("ascii", "replace").strip()
        if done.returncode != 0 or not sha:
            raise UsageError(f"unknown revision {ref!r} in {self.root}: check the name with "
                             f"`git rev-parse {ref}` (fetch it first if it is a remote branch)")
        return sha

    def default_branch(self) -> str:
        """origin/HEAD if set, else main/master/trunk that exists, else the current branch."""
        origin_head = self.run_git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD",
                                   ok_codes=(0, 1, 128))
        if origin_head.returncode == 0:
            return origin_head.stdout.decode().strip().removeprefix("refs/remotes/")
        candidates = [f"refs/heads/{name}" for name in _DEFAULT_BRANCH_NAMES]
        candidates += [f"refs/remotes/origin/{name}" for name in _DEFAULT_BRANCH_NAMES]
        listed = self.run_git("for-each-ref", "--format=%(refname)", *candidates)
        existing = set(listed.stdout.decode("utf-8", "replace").split())
        for ref in candidates:
            if ref in existing:
                return ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
        current = self.run_git("symbolic-ref", "--quiet", "--short", "HEAD", ok_codes=(0, 1, 128))
        if current.returncode == 0:
            return current.stdout.decode("utf-8", "replace").strip()
        raise UsageError(f"cannot tell the default branch of {self.root} (no origin/HEAD, main, "
                         "master or trunk, and HEAD is detached); pass --base REF")

    def merge_base(self, a: str, b: str) -> str:
        """The best common ancestor of two revisions; UsageError when they share no history."""
        sha_a, sha_b = self.resolve(a), self.resolve(b)
        done = self.run_git("merge-base", sha_a, sha_b, ok_codes=(0, 1))
        sha = done.stdout.decode("ascii", "replace").strip()
        if done.returncode != 0 or not sha:
            raise UsageError(f"{a!r} and {b!r} have no common ancestor; pass a --base that "
                             f"shares history with {b!r}")
        return sha

    def tree(self, revision: str, *, max_blob_bytes: int = MAX_BLOB_BYTES) -> GitTree:
        """The files of `revision`; closed by `close()` of the tree or of this repository."""
        tree = GitTree(self.root, self.resolve(revision), max_blob_bytes=max_blob_bytes)
        self._trees.append(tree)
        return tree

    def close(self) -> None:
        """Stop the `git cat-file` processes of every tree handed out."""
        for tree in self._trees:
            tree.close()
        self._trees.clear()

    def __enter__(self) -> LocalRepository:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str  # "100644", "100755", "120000" (symlink), "160000" (submodule)...
    oid: str


class _CatFile:
    """One long-lived `git cat-file --batch` or `--batch-check` process."""

    def __init__(self, root: Path, option: str) -> None:
        try:
            self._proc = subprocess.Popen(
                ["git", "cat-file", option], cwd=root, env=_git_env(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError as exc:
            raise RepositoryError(f"cannot start git cat-file in {root}: {exc}") from exc
        if self._proc.stdin is None or self._proc.stdout is None:
            raise RepositoryError("git cat-file started without pipes")
        self._stdin: IO[bytes] = self._proc.stdin
        self._stdout: IO[bytes] = self._proc.stdout

    def ask(self, oid: str) -> tuple[str, int]:
        """Send one object id; the (type, size) header git answers (size -1 when missing)."""
        try:
            self._stdin.write(oid.encode("ascii") + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise RepositoryError("git cat-file stopped unexpectedly") from exc
        header = self._stdout.readline().split()
        if len(header) == 3:
            return header[1].decode("ascii"), int(header[2])
        if len(header) == 2 and header[1] == b"missing":
            return "missing", -1
        raise RepositoryError(f"git cat-file answered {b' '.join(header)!r} for {oid}")

    def read_body(self, size: int) -> bytes:
        data = self._stdout.read(size + 1)  # the content and git's trailing newline
        if len(data) != size + 1:
            raise RepositoryError("git cat-file stopped in the middle of an object")
        return data[:size]

    def close(self) -> None:
        self._stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stdout.close()


class GitTree:
    """`SourceTree` over one commit: blobs come from two long-lived `git cat-file` processes.

    Symlinks and submodules are not regular files (read as None, never followed); blobs over
    `max_blob_bytes` read as None; `skipped` records why a path read as None.
    """

    def __init__(self, root: Path, revision: str, *, max_blob_bytes: int = MAX_BLOB_BYTES) -> None:
        self.root = root
        self.revision = revision
        self.max_blob_bytes = max_blob_bytes
        self.skipped: dict[str, str] = {}
        self.max_listing_bytes = MAX_LISTING_BYTES
        self.truncated = False  # the listing hit `max_listing_bytes`: list_files is partial
        self._entries: dict[str, TreeEntry] | None = None
        self._check: _CatFile | None = None
        self._batch: _CatFile | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"GitTree({str(self.root)!r}, {self.revision[:12]!r})"

    def entries(self) -> dict[str, TreeEntry]:
        """Every blob and gitlink of the revision by path (one `git ls-tree -r -z`)."""
        if self._entries is None:
            listing, _, self.truncated = stream_git(
                self.root, ["ls-tree", "-r", "-z", "--full-tree", self.revision],
                max_bytes=self.max_listing_bytes)
            records = listing.split(b"\0")
            if self.truncated:
                records.pop()  # cut mid-record
                log.warning("tree listing truncated", extra={"revision": self.revision,
                                                             "bytes": self.max_listing_bytes})
            entries: dict[str, TreeEntry] = {}
            for record in records:
                meta, _, raw_path = record.partition(b"\t")
                fields = meta.split()
                if len(fields) == 3 and raw_path:
                    entries[raw_path.decode("utf-8", "surrogateescape")] = TreeEntry(
                        fields[0].decode("ascii"), fields[2].decode("ascii"))
            self._entries = entries
        return self._entries

    def _lookup(self, path: str) -> TreeEntry | None:
        """One path's entry; asks git directly for paths beyond a truncated listing."""
        entry = self.entries().get(path)
        if entry is not None or not self.truncated or not path:
            return entry
        done = _run_git(self.root, ["ls-tree", "-z", "--full-tree", self.revision, "--",
                                    f":(literal){path}"])
        meta, _, raw_path = done.stdout.rstrip(b"\0").partition(b"\t")
        fields = meta.split()
        if len(fields) != 3 or raw_path.decode("utf-8", "surrogateescape") != path:
            return None
        return TreeEntry(fields[0].decode("ascii"), fields[2].decode("ascii"))

    def list_files(self) -> list[str]:
        return sorted(path for path, entry in self.entries().items()
                      if entry.mode in REGULAR_MODES)

    def read_bytes(self, path: str) -> bytes | None:
        entry = self._lookup(path.removeprefix("./"))
        if entry is None:
            return None
        if entry.mode not in REGULAR_MODES:
            self.skipped[path] = "symlink" if entry.mode == SYMLINK_MODE else (
                "submodule" if entry.mode == GITLINK_MODE else f"not a regular file ({entry.mode})")
            return None
        with self._lock:
            if self._closed:
                raise RepositoryError(f"{self!r} is closed")
            if self._check is None:
                self._check = _CatFile(self.root, "--batch-check")
            kind, size = self._check.ask(entry.oid)
            if kind != "blob":
                raise RepositoryError(f"{path} at {self.revision[:12]} is a {kind}, not a blob")
            if size > self.max_blob_bytes:
                self.skipped[path] = f"larger than {self.max_blob_bytes} bytes ({size})"
                log.info("blob skipped", extra={"path": path, "size": size})
                return None
            if self._batch is None:
                self._batch = _CatFile(self.root, "--batch")
            kind, size = self._batch.ask(entry.oid)
            if kind != "blob":
                raise RepositoryError(f"{path} vanished from {self.revision[:12]} while reading")
            return self._batch.read_body(size)

    def read_text(self, path: str) -> str | None:
        data = self.read_bytes(path)
        if data is None:
            return None
        if b"\0" in data[:BINARY_SNIFF_BYTES]:
            self.skipped[path] = "binary"
            return None
        return data.decode("utf-8", "replace")

    def is_binary(self, path: str) -> bool:
        data = self.read_bytes(path)
        return data is not None and b"\0" in data[:BINARY_SNIFF_BYTES]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for proc in (self._check, self._batch):
                if proc is not None:
                    proc.close()
            self._check = self._batch = None

    def __enter__(self) -> GitTree:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
