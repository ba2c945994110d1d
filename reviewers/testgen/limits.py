"""Process-count caps for the sandbox: a pids cgroup when writable, else RLIMIT_NPROC."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

CGROUP_FS = Path("/sys/fs/cgroup")


@dataclass(frozen=True, slots=True)
class ProcessCap:
    """How the sandbox bounds the number of processes; "none" means it cannot."""

    kind: Literal["cgroup", "rlimit", "none"]
    detail: str
    cgroup: PidsCgroup | None = None


@dataclass(frozen=True, slots=True)
class PidsCgroup:
    """A writable pids cgroup directory under which one child cgroup per run is made."""

    parent: Path

    @classmethod
    def detect(cls, override: str | None = None) -> PidsCgroup | None:
        """The pids cgroup of this process if we may create children in it (v1 or v2)."""
        candidates = [Path(override)] if override else _own_pids_dirs()
        for parent in candidates:
            probe = parent / f"reviewbot-probe-{uuid.uuid4().hex[:8]}"
            try:
                probe.mkdir()
            except OSError:
                continue
            try:
                usable = (probe / "pids.max").exists() and (probe / "cgroup.procs").exists()
            finally:
                _rmdir(probe)
            if usable:
                return cls(parent)
        return None

    def create(self, max_processes: int) -> Path:
        """A fresh child cgroup allowing `max_processes` tasks; remove it with `remove`."""
        child = self.parent / f"reviewbot-{uuid.uuid4().hex[:12]}"
        child.mkdir()
        (child / "pids.max").write_text(f"{max_processes}\n")
        return child

    @staticmethod
    def remove(child: Path) -> None:
        """Kill whatever is left in the cgroup, then remove it (retries while it drains)."""
        for _ in range(50):
            try:
                pids = [int(p) for p in (child / "cgroup.procs").read_text().split()]
            except FileNotFoundError:
                return
            except OSError:
                pids = []
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if _rmdir(child):
                return
            time.sleep(0.02)
        log.warning("could not remove a sandbox cgroup", extra={"cgroup": str(child)})


def _own_pids_dirs() -> list[Path]:
    """This process's cgroup directory in the pids hierarchy (v1) and the unified one (v2)."""
    found: list[Path] = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if "pids" in controllers.split(","):
            found.append(CGROUP_FS / "pids" / relative)
        elif controllers == "" and (CGROUP_FS / "cgroup.controllers").exists():
            found.append(CGROUP_FS / relative)
    return found


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def count_user_tasks(uid: int) -> int:
    """Threads owned by `uid` now: RLIMIT_NPROC counts them all, so the cap sits above."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        real_uid = threads = None
        for line in status.splitlines():
            if line.startswith("Uid:"):
                real_uid = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real_uid == uid and threads is not None:
            total += threads
    return total
