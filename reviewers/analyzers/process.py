"""Runs an analyzer tool as a subprocess: argv only (no shell), a time limit, a clean env."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from reviewers.analyzers.base import AnalyzerError

_ENV_KEEP = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SYSTEMROOT")


@dataclass(frozen=True, slots=True)
class ToolOutput:
    returncode: int
    stdout: bytes
    stderr: bytes

    def stderr_tail(self, limit: int = 300) -> str:
        text = " ".join(self.stderr.decode("utf-8", "replace").split())
        return text[-limit:]


def python_module(module: str) -> list[str]:
    """argv prefix running `module` with the interpreter running us (works inside a venv)."""
    return [sys.executable, "-m", module]


def find_executable(name: str) -> str | None:
    """`name` next to the running interpreter (a venv's bin/) first, then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run_tool(argv: list[str], *, cwd: Path, timeout: float, label: str) -> ToolOutput:
    """Run `argv` in `cwd`; the whole process group is killed when `timeout` passes.

    Raises `AnalyzerError` on a timeout or when the program cannot be started; a non-zero
    exit status is returned, since analyzers use it to say "found something".
    """
    env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    env.update(PYTHONUTF8="1", PYTHONIOENCODING="utf-8", NO_COLOR="1")
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
    except OSError as exc:
        raise AnalyzerError(f"{label} could not start: {exc.strerror or exc}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise AnalyzerError(f"{label} timed out after {timeout:g} s") from exc
    return ToolOutput(proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it exited just before the kill
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
