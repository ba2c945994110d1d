"""Throwaway copies of one revision: exported once with `git archive`, copied per candidate."""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from reviewers.errors import RepositoryError
from reviewers.gitrepo import LocalRepository

log = logging.getLogger(__name__)


def export_revision(repo: LocalRepository, revision: str, destination: Path) -> Path:
    """Write the files of `revision` (no .git) into `destination`; returns it."""
    done = repo.run_git("archive", "--format=tar", revision)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
            archive.extractall(destination, filter="data")  # no links out, no devices
    except (tarfile.TarError, OSError) as exc:
        raise RepositoryError(f"cannot export {revision[:12]} into {destination}: {exc}") from exc
    return destination


@dataclass(frozen=True, slots=True)
class Workspace:
    """One candidate's writable directory: `repo` is the checkout, `out` holds run data."""

    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def place(self, relative: str, content: str) -> Path:
        """Write a file inside the checkout (the path was validated by the caller)."""
        target = self.repo / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        return target

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def new_workspace(pristine: Path, root: Path) -> Workspace:
    """Copy the pristine export into `root/repo` and make `root/out`."""
    space = Workspace(root)
    try:
        shutil.copytree(pristine, space.repo, symlinks=True)
        space.out.mkdir()
    except OSError as exc:
        raise RepositoryError(f"cannot copy the checkout into {root}: {exc}") from exc
    return space
