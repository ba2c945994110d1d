"""The Python a repository's tests run with: the bot's own, or a cached per-repository venv.

`SharedEnvironment` reuses the running interpreter's environment read-only (pytest and
coverage are installed there) with pytest's plugin auto-loading off, so the bot's own
plugins neither slow down nor change the repository's tests: right for pure-Python
repositories and for CI. `CachedVenvProvider` builds one virtualenv per repository and
dependency digest: created from the base interpreter, then filled by `pip install` (the
bot's own pytest and coverage versions plus the repository's declared test dependencies)
inside the sandbox with the network still on — before any test runs with the network cut.
A finished venv is marked complete and reused; a half-built one is never used.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

from reviewers.errors import RepositoryError
from reviewers.testgen.sandbox import Sandbox

log = logging.getLogger(__name__)

DEPENDENCY_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt",
                    "test-requirements.txt", "dev-requirements.txt", "requirements/test.txt",
                    "requirements/dev.txt")
TEST_EXTRAS = ("test", "tests", "testing", "dev")
TOOLS = ("pytest", "coverage")
COMPLETE = ".complete"


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    """An interpreter that has pytest and coverage, paths to expose read-only, extra env."""

    python: str
    readonly: tuple[Path, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


class EnvironmentProvider(Protocol):
    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment: ...


class SharedEnvironment:
    """The bot's own interpreter (read-only inside the sandbox), without plugin auto-loading."""

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment:
        return PythonEnvironment(self.python, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})


def tool_requirements() -> list[str]:
    """pytest and coverage pinned to the versions the bot itself runs (known to work)."""
    pins = []
    for name in TOOLS:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def declared_requirements(checkout: Path) -> list[str]:
    """Requirement lines the repository declares for running its tests.

    From requirements files and pyproject's `[project] dependencies` plus the test/dev
    extras. Editable and local-path lines are left out: the checkout is not installed
    (it is on PYTHONPATH) and must stay read-only while dependencies are built.
    """
    lines: list[str] = []
    for name in DEPENDENCY_FILES:
        path = checkout / name
        if path.is_file():
            for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
                line = raw.split(" #", 1)[0].strip()
                if not line or line.startswith(("#", "-e", "--editable", ".", "/", "-r",
                                                 "-c", "--")):
                    continue
                lines.append(line)
    own = ""
    pyproject = checkout / "pyproject.toml"
    if pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            project = {}
        own = str(project.get("name", "")).lower()
        lines += [str(d) for d in project.get("dependencies", []) if isinstance(d, str)]
        extras = project.get("optional-dependencies", {})
        if isinstance(extras, dict):
            for extra in TEST_EXTRAS:
                lines += [str(d) for d in extras.get(extra, []) if isinstance(d, str)]
    # "name[test]" style self-references would install the project itself
    return sorted({line for line in lines
                   if not own or re.split(r"[\s\[<>=!~;]", line.lower(), maxsplit=1)[0] != own})


class CachedVenvProvider:
    """One venv per (repository, declared dependencies) under `cache_dir`, built before tests.

    `pip_env` carries the operator's index settings (PIP_INDEX_URL, PIP_FIND_LINKS...) into
    the build sandbox, whose environment is otherwise empty.
    """

    def __init__(self, cache_dir: Path, *, install_timeout_s: float = 900.0,
                 pip_env: Mapping[str, str] | None = None,
                 base_python: str | None = None) -> None:
        self.cache_dir = cache_dir
        self.install_timeout_s = install_timeout_s
        self.pip_env = dict(pip_env or {})
        self.base_python: str = (base_python or getattr(sys, "_base_executable", None)
                                 or sys.executable)
        self._locks: dict[str, asyncio.Lock] = {}

    def venv_path(self, repo_key: str, requirements: list[str]) -> Path:
        digest = hashlib.sha256(repo_key.encode())
        digest.update(f"{sys.version_info[:2]}\0{self.base_python}".encode())
        for line in [*tool_requirements(), *requirements]:
            digest.update(line.encode() + b"\0")
        return self.cache_dir / digest.hexdigest()[:24]

    async def prepare(self, repo_key: str, checkout: Path, sandbox: Sandbox
                      ) -> PythonEnvironment:
        requirements = declared_requirements(checkout)
        venv = self.venv_path(repo_key, requirements)
        ready = PythonEnvironment(str(venv / "bin" / "python"), (venv,))
        async with self._locks.setdefault(str(venv), asyncio.Lock()):
            if (venv / COMPLETE).exists():
                return ready
            await self._build(venv, requirements, checkout, sandbox)
        return ready

    async def _build(self, venv: Path, requirements: list[str], checkout: Path,
                     sandbox: Sandbox) -> None:
        """Create the venv in a fresh directory, fill it, then mark it complete."""
        shutil.rmtree(venv, ignore_errors=True)  # a half-built leftover of a crash
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        started = asyncio.get_running_loop().time()
        try:
            await asyncio.to_thread(_make_venv, self.base_python, venv)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RepositoryError(f"cannot create a virtualenv in {venv}: {exc}") from exc
        wanted = venv / "reviewbot-requirements.txt"
        wanted.write_text("\n".join([*tool_requirements(), *requirements]) + "\n")
        # pip runs the dependencies' build code: sandboxed, only the venv writable, network on.
        done = await sandbox.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                  "--no-input", "-r", str(wanted)], writable=venv,
                                 cwd=checkout, readonly=(checkout,), network=True,
                                 env=self.pip_env, timeout_s=self.install_timeout_s)
        if not done.ok:
            shutil.rmtree(venv, ignore_errors=True)
            raise RepositoryError("installing the repository's test dependencies failed: "
                                  + done.output.strip()[-500:])
        (venv / COMPLETE).write_text("ok\n")
        log.info("test venv built", extra={"venv": str(venv), "requirements": len(requirements),
                                           "seconds": round(
                                               asyncio.get_running_loop().time() - started, 1)})


def _make_venv(python: str, venv: Path) -> None:
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True,
                   timeout=120)
