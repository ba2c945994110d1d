"""Keep the installations table and each repository's installation current.

Plain functions over a caller-owned `Session` (add and flush, never commit), driven by the
GitHub `installation` and `installation_repositories` webhooks. Repositories are never
deleted: their review history outlives an uninstall; they are only detached.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.history.enums import Forge
from bot.history.models import Installation, Repository
from bot.history.store import get_or_create_installation, get_or_create_repository


def find_installation(session: Session, forge: Forge, external_id: str) -> Installation | None:
    return session.scalars(select(Installation).where(
        Installation.forge == Forge(forge),
        Installation.external_id == external_id)).one_or_none()


def attach_repositories(session: Session, installation: Installation,
                        repositories: Iterable[tuple[str, str]]) -> list[Repository]:
    """Attach `(external_id, full_name)` repositories to `installation` (created if new)."""
    return [
        get_or_create_repository(session, installation.forge, full_name,
                                 external_id=external_id, installation=installation)
        for external_id, full_name in repositories
    ]


def detach_repositories(session: Session, installation: Installation,
                        repositories: Iterable[tuple[str, str]]) -> int:
    """Detach the given repositories from `installation`; returns how many were attached."""
    detached = 0
    for external_id, full_name in repositories:
        repository = session.scalars(select(Repository).where(
            Repository.forge == installation.forge,
            (Repository.external_id == external_id) | (Repository.full_name == full_name),
        )).first()
        if repository is not None and repository.installation_id == installation.id:
            repository.installation = None
            detached += 1
    session.flush()
    return detached


def install(session: Session, forge: Forge, external_id: str, account: str,
            repositories: Iterable[tuple[str, str]] = (), *,
            suspended: bool | None = False) -> Installation:
    """Upsert an installation and attach repositories; `suspended=None` keeps its state."""
    installation = get_or_create_installation(session, forge, external_id, account,
                                              suspended=suspended)
    session.flush()
    attach_repositories(session, installation, repositories)
    return installation


def set_suspended(session: Session, forge: Forge, external_id: str, account: str,
                  suspended: bool) -> Installation:
    """Suspend or unsuspend an installation (created if this is the first we hear of it)."""
    installation = get_or_create_installation(session, forge, external_id, account,
                                              suspended=suspended)
    session.flush()
    return installation


def uninstall(session: Session, forge: Forge, external_id: str) -> bool:
    """Remove an installation; its repositories stay, detached. False if it was unknown."""
    installation = find_installation(session, forge, external_id)
    if installation is None:
        return False
    for repository in session.scalars(select(Repository).where(
            Repository.installation_id == installation.id)):
        repository.installation = None
    session.flush()
    session.delete(installation)
    session.flush()
    return True


def repositories_of(session: Session, forge: Forge, external_id: str) -> list[str]:
    """Full names of the repositories attached to an installation, sorted."""
    installation = find_installation(session, forge, external_id)
    if installation is None:
        return []
    return sorted(session.scalars(select(Repository.full_name).where(
        Repository.installation_id == installation.id)))
