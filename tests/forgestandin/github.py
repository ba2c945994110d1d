"""GitHub stand-in: App auth, PRs, reviews, comments, check runs, issues and git over HTTP.

Every API request is checked against the official OpenAPI description; a request it does not
allow is answered 422 and recorded in `violations`. Review comments are checked against the
PR's real diff (built from a git repository) the way GitHub does: all or nothing.
"""

from __future__ import annotations

import base64
import itertools
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from tests.forgestandin.diffindex import DiffIndex, build_index
from tests.forgestandin.githttp import basic_token, serve_git
from tests.forgestandin.openapi import OpenAPISpec
from tests.forgestandin.server import Reply, Request, StandinServer

DOCS = "https://docs.github.com/rest"


@dataclass
class Pull:
    number: int
    title: str
    author: str
    base_ref: str
    head_ref: str
    base_sha: str
    head_sha: str
    diff: DiffIndex
    draft: bool = False
    closed_at: str | None = None  # set once closed; with merged_at when it was merged
    merged_at: str | None = None


@dataclass
class Repo:
    full_name: str
    git_dir: Path
    installation_id: int
    default_branch: str = "main"
    collaborators: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    issue_comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment
    review_comments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, message: str, errors: list[Any] | None = None) -> Reply:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors is not None:
        body["errors"] = errors
        body["status"] = str(status)
    return Reply(status, body)


class GitHubStandin(StandinServer):
    """State per repository; `tokens` maps issued installation tokens to (installation, expiry)."""

    def __init__(self, spec: OpenAPISpec, app_id: str, public_key_pem: str, *,
                 app_slug: str = "reviewbot-test", token_lifetime_s: int = 3600) -> None:
        super().__init__()
        self.spec = spec
        self.app_id = app_id
        self.app_slug = app_slug
        self._public_key = public_key_pem
        self.token_lifetime_s = token_lifetime_s
        self.tokens: dict[str, tuple[int, float]] = {}
        self.repos: dict[str, Repo] = {}
        self.violations: list[str] = []
        self.rate_limit: tuple[str, int] | None = None  # ("primary"|"secondary", seconds)
        self.remaining = 5000
        self._ids = itertools.count(1001)
        self._git_root = Path(tempfile.mkdtemp(prefix="gh-standin-"))
        self._register()

    @property
    def bot_login(self) -> str:
        return f"{self.app_slug}[bot]"

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._git_root, ignore_errors=True)

    # -- test set-up -------------------------------------------------------------------------

    def add_repo(self, full_name: str, git_dir: Path, *, installation_id: int = 7,
                 default_branch: str = "main") -> Repo:
        link = self._git_root / f"{full_name}.git"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(git_dir / ".git")
        repo = Repo(full_name, git_dir, installation_id, default_branch)
        self.repos[full_name] = repo
        return repo

    def react_to_review_comment(self, full_name: str, comment_id: int, content: str) -> None:
        """Someone (not the bot) reacted on a review comment: GitHub updates its rollup."""
        [comment] = [c for c in self.repos[full_name].review_comments if c["id"] == comment_id]
        comment["reactions"][content] += 1
        comment["reactions"]["total_count"] += 1

    def add_pull(self, full_name: str, number: int, *, base: str = "main", head: str = "feature",
                 title: str = "Change things", author: str = "octocat") -> Pull:
        repo = self.repos[full_name]
        base_sha, head_sha = (_git(repo.git_dir, "rev-parse", ref) for ref in (base, head))
        _git(repo.git_dir, "update-ref", f"refs/pull/{number}/head", head_sha)
        pull = Pull(number, title, author, base, head, base_sha, head_sha,
                    build_index(repo.git_dir, base_sha, head_sha))
        repo.pulls[number] = pull
        return pull

    def add_review_comment(self, full_name: str, number: int, author: str, body: str, *,
                           path: str, line: int) -> int:
        """A person commented on a line of the PR's diff (as the webhook announces it)."""
        pull = self.repos[full_name].pulls[number]
        comment_id = self.next_id()
        self.repos[full_name].review_comments.append({
            "id": comment_id, "pull_request_review_id": self.next_id(), "path": path,
            "line": line, "side": "RIGHT", "start_line": None, "start_side": None,
            "body": body, "commit_id": pull.head_sha, "user": self.user(author),
            "pull_number": number, "created_at": now_iso(), "reactions": reaction_rollup()})
        return comment_id

    def close_pull(self, full_name: str, number: int, *, merged: bool = False) -> None:
        """The PR is closed (merged or not), as a person would on GitHub."""
        pull = self.repos[full_name].pulls[number]
        pull.closed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        pull.merged_at = pull.closed_at if merged else None

    # -- auth, validation, rate limits ---------------------------------------------------------

    def before(self, request: Request) -> Reply | None:
        if ".git/" in request.path:
            installation = self._token_installation(basic_token(request.headers))
            if installation is None:
                return Reply(401, b"auth required", {"WWW-Authenticate": 'Basic realm="GitHub"'})
            return serve_git(request, self._git_root)
        op, problems = self.spec.violations(request)
        if problems:
            self.violations.extend(problems)
            return _error(404 if op is None else 422, "Invalid request.", problems)
        if self.rate_limit is not None:
            kind, seconds = self.rate_limit
            if kind == "primary":
                return Reply(403, {"message": "API rate limit exceeded for installation ID 7.",
                                   "documentation_url": DOCS},
                             {"x-ratelimit-remaining": "0",
                              "x-ratelimit-reset": str(int(time.time()) + seconds)},
                             injected=True)
            return Reply(429, {"message": "You have exceeded a secondary rate limit.",
                               "documentation_url": DOCS},
                         {"retry-after": str(seconds)}, injected=True)
        if request.path.startswith("/app"):
            return None if self._jwt_ok(request) else _error(401, "A JSON web token could not be "
                                                                  "decoded")
        if request.path.endswith("/installation"):
            return None if self._jwt_ok(request) else _error(401, "Bad credentials")
        auth = request.headers.get("authorization", "")
        installation = self._token_installation(auth[6:] if auth.startswith("token ") else None)
        if installation is None:
            return _error(401, "Bad credentials")
        parts = request.path.split("/")
        if parts[1] == "repos":
            repo = self.repos.get("/".join(parts[2:4]))
            if repo is None or repo.installation_id != installation:
                return _error(404, "Not Found")
        return None

    def after(self, request: Request, reply: Reply) -> None:
        if ".git/" in request.path:
            return
        self.remaining = max(self.remaining - 1, 0)
        reply.headers.setdefault("x-ratelimit-limit", "5000")
        reply.headers.setdefault("x-ratelimit-remaining", str(self.remaining))
        reply.headers.setdefault("x-ratelimit-reset", str(int(time.time()) + 3600))
        reply.headers.setdefault("x-ratelimit-resource", "core")
        op = self.spec.operation(request.method, request.path)
        if (op is not None and not reply.injected and reply.status != 401  # any call may 401
                and reply.status not in op.statuses):
            self.violations.append(f"stand-in answered undocumented {reply.status} "
                                   f"to {request.method} {op.template}")

    def _jwt_ok(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(auth[7:], self._public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]}, leeway=60)
        except jwt.PyJWTError:
            return False
        return str(claims["iss"]) == self.app_id and claims["exp"] - claims["iat"] <= 660

    def _token_installation(self, token: str | None) -> int | None:
        entry = self.tokens.get(token or "")
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    # -- routes ------------------------------------------------------------------------------

    def _register(self) -> None:
        from tests.forgestandin import github_gitdata, github_routes

        github_routes.register(self)
        self.opened_pulls = github_gitdata.register(self)  # generated-test follow-up PRs

    def repo_of(self, request: Request) -> Repo:
        return self.repos[f"{request.params['owner']}/{request.params['repo']}"]

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str) -> dict[str, Any]:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return {"login": login, "id": abs(hash(login)) % 10**6, "type": kind,
                "url": f"{self.base_url}/users/{login}"}

    def repo_json(self, repo: Repo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        return {
            "id": abs(hash(repo.full_name)) % 10**6, "name": name, "full_name": repo.full_name,
            "owner": self.user(owner), "private": True, "default_branch": repo.default_branch,
            "url": f"{self.base_url}/repos/{repo.full_name}",
            "html_url": f"https://github.example/{repo.full_name}",
            "clone_url": f"{self.base_url}/{repo.full_name}.git",
        }


REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def reaction_rollup() -> dict[str, Any]:
    """The `reactions` summary GitHub embeds in comment objects."""
    return {"url": "x", "total_count": 0, **dict.fromkeys(REACTIONS, 0)}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def blob_json(standin: GitHubStandin, repo: Repo, sha: str) -> dict[str, Any]:
    content = subprocess.run(["git", "cat-file", "blob", sha], cwd=repo.git_dir,
                             capture_output=True, check=True).stdout
    return {"sha": sha, "size": len(content), "encoding": "base64",
            "content": base64.b64encode(content).decode(),
            "url": f"{standin.base_url}/repos/{repo.full_name}/git/blobs/{sha}"}


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=git_dir, capture_output=True,
                          check=True).stdout.decode().strip()
