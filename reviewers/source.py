"""`SourceTree`: read-only access to the files of one revision of a repository."""

from __future__ import annotations

from typing import Protocol


class SourceTree(Protocol):
    """The head (or base) revision as the reviewers see it.

    Implementations read from git objects (`reviewers.gitrepo.GitTree`) or a directory;
    paths are repository-relative with forward slashes.
    """

    revision: str

    def read_bytes(self, path: str) -> bytes | None:
        """The file's content, or None when it does not exist at this revision."""
        ...

    def read_text(self, path: str) -> str | None:
        """Decoded content (UTF-8, undecodable bytes replaced), None if missing or binary."""
        ...

    def list_files(self) -> list[str]:
        """Every regular file path at this revision."""
        ...
