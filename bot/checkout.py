"""Code checkout for review jobs: a cached bare mirror per repository, throwaway worktrees.

The forge token reaches git only through the environment of the one `git fetch` process
(`http.extraHeader` via GIT_CONFIG_COUNT/KEY/VALUE): never in a URL, the mirror's config,
or a log line. An fcntl lock file serialises workers that share the cache directory.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.errors import FetchUnavailable
from bot.forges.base import GitRemote
from reviewers.errors import RepositoryError

log = logging.getLogger(__name__)

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_TRANSIENT = (
    "could not resolve host", "connection refused", "connection timed out", "timed out",
    "failed to connect", "the remote end hung up", "early eof", "rpc failed",
    "returned error: 5", "http 5", "operation too slow", "couldn't connect",
)


class Mirror:
    """The bare mirror of one repository of one forge, under `root/<forge>/<owner>/<name>.git`."""

    def __init__(self, root: Path, forge: str, repo: str, *, timeout_s: float = 900.0) -> None:
        parts = repo.split("/")
        if not all(_REF.match(part) and part not in {".", ".."} for part in [forge, *parts]):
            raise RepositoryError(f"unusable repository name for a mirror: {forge}:{repo}")
        self.path = root.joinpath(forge, *parts[:-1], f"{parts[-1]}.git")
        self._worktrees = self.path.with_name(f"{parts[-1]}.worktrees")
        self._lock_path = self.path.with_name(f"{parts[-1]}.lock")
        self._timeout_s = timeout_s

    def fetch(self, remote: GitRemote, refs: Sequence[str]) -> None:
        """Fetch branches, full ref names or commit shas from `remote` into the mirror."""
        refspecs = [_refspec(ref) for ref in refs]
        with self._locked():
            if not (self.path / "HEAD").exists():
                self.path.mkdir(parents=True, exist_ok=True)
                self._git("init", "--bare", "-q", str(self.path), cwd=self.path.parent)
            self._git("worktree", "prune")
            log.info("mirror fetch", extra={"mirror": str(self.path), "url": _redact(remote.url),
                                            "refs": len(refspecs)})
            self._git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--",
                      remote.url, *refspecs, env=remote.git_env(), network=True)

    def has_commit(self, sha: str) -> bool:
        if not _SHA.match(sha) or not (self.path / "HEAD").exists():
            return False
        done = subprocess.run(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=self.path, env=_base_env(),
            capture_output=True, timeout=self._timeout_s, check=False,
        )
        return done.returncode == 0

    @contextmanager
    def worktree(self, sha: str) -> Iterator[Path]:
        """A detached worktree at `sha`, removed when the block ends."""
        if not _SHA.match(sha):
            raise RepositoryError(f"not a full commit sha: {sha!r}")
        if not self.has_commit(sha):
            raise RepositoryError(f"commit {sha} is not in the mirror {self.path}; fetch it first")
        target = self._worktrees / uuid.uuid4().hex
        with self._locked():
            self._worktrees.mkdir(parents=True, exist_ok=True)
            self._git("worktree", "add", "--quiet", "--detach", str(target), sha)
        try:
            yield target
        finally:
            with self._locked():
                try:
                    self._git("worktree", "remove", "--force", str(target))
                except RepositoryError:
                    shutil.rmtree(target, ignore_errors=True)
                    self._git("worktree", "prune")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _git(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             network: bool = False) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd or self.path, env={**_base_env(), **(env or {})},
                capture_output=True, timeout=self._timeout_s, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise FetchUnavailable(f"git {args[0]} timed out after {self._timeout_s:.0f}s") from exc
        except OSError as exc:
            raise RepositoryError(f"cannot run git: {exc}") from exc
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()[-2000:]
            message = f"git {args[0]} failed ({done.returncode}): {stderr}"
            if network and any(marker in stderr.lower() for marker in _TRANSIENT):
                raise FetchUnavailable(message)
            raise RepositoryError(message)
        return done.stdout.decode("utf-8", "replace")


def _refspec(ref: str) -> str:
    if _SHA.match(ref):
        return f"{ref}:refs/reviewbot/commits/{ref}"
    if not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/")):
        raise RepositoryError(f"not a fetchable ref: {ref!r}")
    name = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    return f"+{name}:{name}"


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
           and k not in {"GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"}}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "",
                "LC_ALL": "C"})
    return env


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit(parts._replace(netloc=netloc))
    return url
