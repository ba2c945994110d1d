"""Which forge publishes a scope's tracking issue: the adapter of the repository's forge.

Adapters are built from the settings on first use, one per forge, and closed together
when the `ForgePublishers` context ends. A forge that is not configured (no App id or
token) publishes nothing: the digest is still stored and sent to chat.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.deliver import IssuePublisher
from bot.errors import ForgeError
from bot.forges.github import GitHubForge
from bot.forges.gitlab import GitLabForge
from bot.history.db import session_scope
from bot.history.enums import Forge
from bot.history.models import Repository
from bot.settings import Settings

log = logging.getLogger(__name__)


class _ClosablePublisher(IssuePublisher, Protocol):
    def close(self) -> None: ...


_FACTORIES: dict[Forge, Callable[[Settings], _ClosablePublisher]] = {
    Forge.GITHUB: GitHubForge.from_settings,
    Forge.GITLAB: GitLabForge.from_settings,
}


class ForgePublishers(AbstractContextManager["ForgePublishers"]):
    """`publisher_for(scope)`: the adapter for a repository scope, None for anything else."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._built: dict[Forge, _ClosablePublisher | None] = {}

    def forge_of(self, scope: str) -> Forge | None:
        """The forge of the repository called `scope` (None for an organisation)."""
        with session_scope(self._sessions) as session:
            forges = set(session.scalars(select(Repository.forge).where(
                Repository.full_name == scope.strip("/"))))
        return forges.pop() if len(forges) == 1 else None

    def publisher_for(self, scope: str) -> IssuePublisher | None:
        forge = self.forge_of(scope)
        if forge is None or forge not in _FACTORIES:
            return None
        if forge not in self._built:
            try:
                self._built[forge] = _FACTORIES[forge](self._settings)
            except ForgeError as exc:
                log.warning("digest issue not published: forge not configured",
                            extra={"forge": forge.value, "reason": str(exc)})
                self._built[forge] = None
        return self._built[forge]

    def close(self) -> None:
        for publisher in self._built.values():
            if publisher is not None:
                publisher.close()
        self._built.clear()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
