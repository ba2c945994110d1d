"""GitLab stand-in: projects, merge requests with diff versions, discussions, notes, statuses,
members, issues and git over HTTP, under /api/v4 with PRIVATE-TOKEN auth.

Discussion positions are checked against the MR's real diff the way GitLab does: new_line
only for an added line, old_line only for a removed one, both for a context line, and the
version SHAs must be those of a diff version; anything else is a 400.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.forgestandin.diffindex import DiffIndex, build_index, merge_base
from tests.forgestandin.githttp import basic_token, serve_git
from tests.forgestandin.server import Reply, Request, StandinServer

API = "/api/v4"


@dataclass
class MergeRequest:
    iid: int
    title: str
    author: str
    source_branch: str
    target_branch: str
    base_sha: str
    start_sha: str
    head_sha: str
    diff: DiffIndex


@dataclass
class Project:
    id: int
    path: str
    git_dir: Path
    default_branch: str = "main"
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level
    mrs: dict[int, MergeRequest] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    discussions: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    awards: list[dict[str, Any]] = field(default_factory=list)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)  # project webhooks by id


def _bad(message: str, status: int = 400) -> Reply:
    return Reply(status, {"message": message})


class GitLabStandin(StandinServer):
    def __init__(self, *, bot_username: str = "project_1_bot") -> None:
        super().__init__()
        self.token = f"glpat-{secrets.token_urlsafe(16)}"
        self.bot_username = bot_username
        self.users: dict[str, int] = {bot_username: 1}
        self.projects: dict[str, Project] = {}
        self.rate_limited_for: int | None = None
        self._ids = itertools.count(501)
        self._git_root = Path(tempfile.mkdtemp(prefix="gl-standin-"))
        from tests.forgestandin import gitlab_commits, gitlab_routes

        gitlab_routes.register(self)
        self.opened_mrs = gitlab_commits.register(self)  # generated-test follow-up MRs

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._git_root, ignore_errors=True)

    def next_id(self) -> int:
        return next(self._ids)

    def add_project(self, path: str, git_dir: Path, *, default_branch: str = "main") -> Project:
        link = self._git_root / f"{path}.git"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(git_dir / ".git")
        project = Project(len(self.projects) + 100, path, git_dir, default_branch)
        self.projects[path] = project
        return project

    def add_user(self, username: str, access_level: int | None, project: str) -> int:
        user_id = self.users.setdefault(username, len(self.users) + 10)
        if access_level is not None:
            self.projects[project].members[user_id] = access_level
        return user_id

    def award_as(self, username: str, path: str, note_id: int, name: str) -> None:
        """A person awarded an emoji on a note (what `POST .../award_emoji` does for them)."""
        self.projects[path].awards.append({
            "id": self.next_id(), "name": name, "note_id": note_id,
            "user": self.user_json(username), "awardable_type": "Note"})

    def add_merge_request(self, path: str, iid: int, *, source: str = "feature",
                          target: str = "main", title: str = "Change things",
                          author: str = "alice") -> MergeRequest:
        project = self.projects[path]
        start, head = (_git(project.git_dir, "rev-parse", ref) for ref in (target, source))
        base = merge_base(project.git_dir, start, head)
        _git(project.git_dir, "update-ref", f"refs/merge-requests/{iid}/head", head)
        mr = MergeRequest(iid, title, author, source, target, base, start, head,
                          build_index(project.git_dir, start, head))
        project.mrs[iid] = mr
        return mr

    def project_of(self, request: Request) -> Project | None:
        ident = unquote(request.params["id"])
        for project in self.projects.values():
            if ident in {project.path, str(project.id)}:
                return project
        return None

    def user_json(self, username: str) -> dict[str, Any]:
        return {"id": self.users.get(username, 0), "username": username, "name": username,
                "state": "active", "bot": username == self.bot_username}

    def before(self, request: Request) -> Reply | None:
        if ".git/" in request.path:
            if basic_token(request.headers) != self.token:
                return Reply(401, b"HTTP Basic: Access denied",
                             {"WWW-Authenticate": 'Basic realm="GitLab"'})
            return serve_git(request, self._git_root)
        if not request.path.startswith(API):
            return _bad("404 Not Found", 404)
        if self.rate_limited_for is not None:
            reset = int(time.time()) + self.rate_limited_for
            return Reply(429, b"Retry later", {
                "Retry-After": str(self.rate_limited_for), "RateLimit-Limit": "600",
                "RateLimit-Observed": "600", "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset)}, injected=True)
        supplied = request.headers.get("private-token") or request.headers.get(
            "authorization", "").removeprefix("Bearer ")
        if supplied != self.token:
            return _bad("401 Unauthorized", 401)
        return None

    def after(self, request: Request, reply: Reply) -> None:
        if ".git/" not in request.path:
            reply.headers.setdefault("RateLimit-Limit", "600")
            reply.headers.setdefault("RateLimit-Remaining", "599")


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=git_dir, capture_output=True,
                          check=True).stdout.decode().strip()
