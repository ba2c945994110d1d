"""Run repository and generated code inside bubblewrap: no network, no secrets, bounded, killable.

Every run gets a read-only view of the system, a fresh tmpfs on /tmp, tmpfs over the home
and secret directories, one writable directory (the throwaway checkout), an empty
environment plus a few safe variables, all capabilities dropped, and limits: CPU seconds,
address space, file size and open files through `prlimit`; process count through a pids
cgroup when one is writable, else RLIMIT_NPROC (which the kernel ignores for root, so
root without a writable cgroup has no process cap and the sandbox refuses to run); wall
time enforced here by killing the whole tree (its own pid namespace dies with bwrap).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewers.errors import ReviewbotError
from reviewers.testgen.limits import PidsCgroup, ProcessCap, count_user_tasks

log = logging.getLogger(__name__)

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_TMP = "/tmp"  # noqa: S108 - inside the sandbox: a private, fresh tmpfs
DEFAULT_HIDDEN = ("/root", "/home", "/etc/ssh", "/run/secrets", "/var/run/secrets",
                  "/var/lib/postgresql", "/var/lib/redis")


class SandboxUnavailable(ReviewbotError):
    """Code cannot be run safely here (no bubblewrap, no namespaces, no process cap)."""


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Limits and escape hatches of the sandbox; the bot builds it from its settings."""

    bwrap: str = "bwrap"
    prlimit: str = "prlimit"
    allow_unsandboxed: bool = False  # operator's explicit choice: run code without bwrap
    cpu_seconds: int = 120
    memory_bytes: int = 2 * 1024**3  # RLIMIT_AS per process
    max_processes: int = 64
    max_file_bytes: int = 256 * 1024**2
    max_open_files: int = 1024
    wall_timeout_s: float = 120.0
    output_limit: int = 200_000  # bytes of combined stdout/stderr kept (the tail)
    hidden_paths: tuple[str, ...] = DEFAULT_HIDDEN
    extra_hidden: tuple[str, ...] = ()  # e.g. the bot's data directory
    work_root: str | None = None  # where throwaway directories go (default: system temp)
    cgroup_root: str | None = None  # override the detected pids cgroup directory


@dataclass(frozen=True, slots=True)
class SandboxResult:
    returncode: int
    output: str  # combined stdout and stderr, tail-clipped
    seconds: float
    timed_out: bool = False
    sandboxed: bool = True

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(slots=True)
class _Probe:
    reason: str | None  # None: bwrap works
    cap: ProcessCap
    checked: bool = True
    notes: list[str] = field(default_factory=list)


class Sandbox:
    """Runs argv lists under bwrap with limits; `probe()` first says whether it can."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._probe: _Probe | None = None

    # --- availability -------------------------------------------------------------
    def probe(self) -> str | None:
        """Why code cannot run sandboxed here, or None when it can (checked once)."""
        if self._probe is None:
            self._probe = self._run_probe()
        return self._probe.reason

    @property
    def process_cap(self) -> ProcessCap:
        self.probe()
        assert self._probe is not None
        return self._probe.cap

    def ensure_usable(self) -> bool:
        """True to run sandboxed, False to run unsandboxed (allowed); else SandboxUnavailable."""
        reason = self.probe()
        if reason is None:
            return True
        if self.config.allow_unsandboxed:
            log.warning("running code WITHOUT a sandbox (allowed by the operator)",
                        extra={"reason": reason})
            return False
        raise SandboxUnavailable(f"sandbox unavailable: {reason}")

    def _run_probe(self) -> _Probe:
        cap = self._choose_cap()
        if shutil.which(self.config.bwrap) is None:
            return _Probe("bubblewrap (bwrap) is not installed; run scripts/setup-sandbox", cap)
        if shutil.which(self.config.prlimit) is None:
            return _Probe("prlimit (util-linux) is not installed", cap)
        if cap.kind == "none":
            return _Probe(cap.detail, cap)
        import subprocess  # local: only the probe runs synchronously

        work = Path(self.make_workdir("probe-"))
        try:
            argv = self._bwrap_argv(["true"], work, work, {}, (), network=False)
            done = subprocess.run(argv, capture_output=True, timeout=30, check=False,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return _Probe(f"bwrap could not start: {exc}", cap)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return _Probe("bwrap cannot create its namespaces: "
                          + (message[-1] if message else f"exit {done.returncode}"), cap)
        return _Probe(None, cap)

    def _choose_cap(self) -> ProcessCap:
        cgroup = PidsCgroup.detect(self.config.cgroup_root)
        if cgroup is not None:
            return ProcessCap("cgroup", f"pids cgroup under {cgroup.parent}", cgroup)
        if os.geteuid() != 0:
            return ProcessCap("rlimit", "RLIMIT_NPROC above the user's current task count")
        return ProcessCap("none", "running as root without a writable pids cgroup: the "
                                  "process count of generated code cannot be capped")

    # --- directories -------------------------------------------------------------
    def make_workdir(self, prefix: str = "rb-") -> str:
        """A fresh private directory for one throwaway checkout (caller removes it)."""
        import tempfile

        root = self.config.work_root or tempfile.gettempdir()
        Path(root).mkdir(parents=True, exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=root)

    # --- running -----------------------------------------------------------------
    async def run(self, argv: Sequence[str], *, writable: Path, cwd: Path,
                  env: Mapping[str, str] | None = None, readonly: Sequence[Path] = (),
                  network: bool = False, timeout_s: float | None = None) -> SandboxResult:
        """Run `argv` with `writable` as the only writable host directory.

        `readonly` re-exposes paths under hidden directories (e.g. an interpreter in /root).
        `network=True` is only for installing dependencies before tests run.
        """
        sandboxed = self.ensure_usable()
        timeout = timeout_s if timeout_s is not None else self.config.wall_timeout_s
        safe_env = self._environment(env or {})
        cgroup = None
        cap = self.process_cap
        if sandboxed:
            argv = self._bwrap_argv(argv, writable, cwd, safe_env, readonly, network=network)
            if cap.kind == "cgroup" and cap.cgroup is not None:
                cgroup = cap.cgroup.create(self.config.max_processes)
                argv = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                        str(cgroup / "cgroup.procs"), *argv]
        argv = [*self._prlimit_argv(cap), *argv]
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=str(cwd), env=safe_env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
        except OSError as exc:
            if cgroup is not None:
                PidsCgroup.remove(cgroup)
            raise SandboxUnavailable(f"sandbox unavailable: cannot start {argv[0]}: "
                                     f"{exc}") from exc
        assert proc.stdout is not None
        reader = asyncio.create_task(_read_tail(proc.stdout, self.config.output_limit))
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            timed_out = True
        finally:
            _kill_tree(proc.pid)
            if proc.returncode is None:
                await proc.wait()
            if cgroup is not None:
                await asyncio.to_thread(PidsCgroup.remove, cgroup)
        output = await reader
        if timed_out:
            output += f"\n[reviewbot] killed after the {timeout:.0f} s time limit\n"
        returncode = proc.returncode if proc.returncode is not None else -9
        return SandboxResult(returncode, output, time.monotonic() - started, timed_out,
                             sandboxed)

    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {"PATH": SAFE_PATH, "HOME": SANDBOX_TMP, "TMPDIR": SANDBOX_TMP, "LANG": "C.UTF-8",
               "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
               "PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.update(extra)
        return env

    def _prlimit_argv(self, cap: ProcessCap) -> list[str]:
        c = self.config
        argv = [c.prlimit, f"--cpu={c.cpu_seconds}", f"--as={c.memory_bytes}",
                f"--fsize={c.max_file_bytes}", f"--nofile={c.max_open_files}", "--core=0"]
        if cap.kind == "rlimit":
            argv.append(f"--nproc={count_user_tasks(os.getuid()) + c.max_processes}")
        return [*argv, "--"]

    def _bwrap_argv(self, argv: Sequence[str], writable: Path, cwd: Path,
                    env: Mapping[str, str], readonly: Sequence[Path], *,
                    network: bool) -> list[str]:
        c = self.config
        out = [c.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", SANDBOX_TMP]
        for hidden in (*c.hidden_paths, *c.extra_hidden):
            if os.path.isdir(hidden):
                out += ["--tmpfs", hidden]
        hidden_all = [*c.hidden_paths, *c.extra_hidden, SANDBOX_TMP]
        for path in (*readonly, *_interpreter_paths()):
            text = str(path)
            if os.path.exists(text) and any(_under(text, h) for h in hidden_all):
                out += ["--ro-bind", text, text]
        out += ["--bind", str(writable), str(writable), "--unshare-all"]
        if network:
            out.append("--share-net")
        out += ["--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv",
                "--cap-drop", "ALL"]
        for key, value in env.items():
            out += ["--setenv", key, value]
        out += ["--chdir", str(cwd), "--", *argv]
        return out


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _interpreter_paths() -> list[str]:
    """The running interpreter's prefixes: re-exposed when they live in a hidden directory."""
    return sorted({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})


def _kill_tree(pid: int) -> None:
    """Kill the process group started for one run (bwrap's pid namespace dies with it)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        log.warning("cannot kill the sandbox process group", extra={"pid": pid})


async def _read_tail(stream: asyncio.StreamReader, limit: int) -> str:
    kept = bytearray()
    dropped = 0
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > limit:
            dropped += len(kept) - limit
            del kept[: len(kept) - limit]
    text = kept.decode("utf-8", "replace")
    return f"[... {dropped} bytes cut ...]\n{text}" if dropped else text
