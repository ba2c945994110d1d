"""The Python a repository's tests run with: the bot's own, or a cached per-repository venv.

`SharedEnvironment` reuses the running interpreter's environment read-only (pytest and
coverage are installed there): right for pure-Python repositories and for CI. The hook
for real dependencies is `CachedVenvProvider`: one virtualenv per repository and
dependency-file digest, created with `--system-site-packages` from the bot's interpreter and
filled by `pip install -r <requirements>` inside the sandbox with the network still on,
before any test runs with the network cut.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reviewers.errors import RepositoryError
from reviewers.testgen.sandbox import Sandbox

log = logging.getLogger(__name__)

DEPENDENCY_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt",
                    "test-requirements.txt", "dev-requirements.txt")


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    """An interpreter that has pytest and coverage, plus paths to expose read-only."""

    python: str
    readonly: tuple[Path, ...] = ()


class EnvironmentProvider(Protocol):
    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment: ...


class SharedEnvironment:
    """The bot's own interpreter (read-only inside the sandbox)."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment:
        return PythonEnvironment(self.python)


class CachedVenvProvider:
    """One venv per (repository, dependency files) under `cache_dir`, built before tests run."""

    def __init__(self, cache_dir: Path, *, install_timeout_s: float = 900.0) -> None:
        self.cache_dir = cache_dir
        self.install_timeout_s = install_timeout_s

    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment:
        digest = hashlib.sha256(repo_key.encode())
        requirements = [name for name in DEPENDENCY_FILES if (checkout / name).is_file()]
        for name in requirements:
            digest.update(name.encode() + b"\0" + (checkout / name).read_bytes())
        venv = self.cache_dir / digest.hexdigest()[:24]
        python = venv / "bin" / "python"
        if (venv / ".complete").exists():
            return PythonEnvironment(str(python), (venv,))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                           check=True, capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RepositoryError(f"cannot create a virtualenv in {venv}: {exc}") from exc
        for name in requirements:
            # pip runs the dependencies' build code: it runs sandboxed, network allowed.
            done = await sandbox.run([str(python), "-m", "pip", "install", "-q", "-r",
                                      str(checkout / name)], writable=venv, cwd=checkout,
                                     readonly=(checkout,), network=True,
                                     timeout_s=self.install_timeout_s)
            if not done.ok:
                raise RepositoryError(f"installing {name} failed: {done.output[-500:]}")
        (venv / ".complete").write_text("ok\n")
        return PythonEnvironment(str(python), (venv,))
