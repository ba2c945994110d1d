"""GitHub adapter: the `Forge` protocol over PyGithub, authenticated as a GitHub App."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubIntegration

from bot.errors import ForgeError, ForgeRateLimited, ForgeUnavailable
from bot.forges.base import (
    MAX_INLINE_COMMENTS,
    Annotation,
    CheckConclusion,
    CommentFeedback,
    GitRemote,
    InlineComment,
    IssueRef,
    Permission,
    PostedReview,
    PullRequest,
    Reaction,
)
from bot.forges.markers import find_fingerprints
from bot.forges.ratelimit import is_rate_limited, retry_after_seconds
from bot.forges.render import MAX_BODY_CHARS, comment_body, review_body, split_inline
from bot.metrics import forge_call
from bot.settings import Settings

ANNOTATIONS_PER_REQUEST = 50
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)  # installation tokens live one hour
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PERMISSIONS: dict[str, Permission] = {"admin": "admin", "write": "write", "read": "read"}


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """One GitHub API call: errors translated, then counted (`bot.metrics`)."""
    with forge_call("github"), _translate_errors(action):
        yield


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    """Re-raise PyGithub and requests errors as the bot's `ForgeError` family."""
    try:
        yield
    except GithubException as exc:
        headers = dict(exc.headers or {})
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or exc.message or "")
        detail = f"GitHub {action}: {exc.status} {message}"
        if data.get("errors"):
            detail += f" {data['errors']}"
        if is_rate_limited(exc.status, headers, message):
            raise ForgeRateLimited(detail, retry_after_seconds(headers), exc.status) from exc
        if exc.status >= 500:
            raise ForgeUnavailable(detail, exc.status) from exc
        raise ForgeError(detail, exc.status) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ForgeUnavailable(f"GitHub {action}: {type(exc).__name__}") from exc


@dataclass(frozen=True, slots=True)
class _Installation:
    client: Github
    token: str
    expires_at: datetime


class GitHubForge:
    """One GitHub App; an installation client per repository owner, built on first use."""

    name = "github"

    def __init__(
        self,
        app_id: str,
        private_key: str,
        api_url: str = "https://api.github.com",
        *,
        write_interval_s: float = 0.8,
        timeout_s: int = 30,
    ) -> None:
        self._app_auth = Auth.AppAuth(app_id, private_key)
        self._options: dict[str, Any] = {
            "base_url": api_url.rstrip("/"),
            "timeout": timeout_s,
            "retry": None,  # re-queue through Celery instead of sleeping inside a worker
            "seconds_between_requests": None,
            "seconds_between_writes": write_interval_s or None,
            "lazy": True,
        }
        self._integration = GithubIntegration(auth=self._app_auth, **self._options)
        self._installations: dict[str, int] = {}
        self._clients: dict[int, _Installation] = {}
        self._retired: list[Github] = []
        self._login: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubForge:
        if not settings.github_app_id:
            raise ForgeError("REVIEWBOT_GITHUB_APP_ID is not set")
        if settings.github_private_key is not None:
            key = settings.github_private_key.get_secret_value()
        elif settings.github_private_key_path is not None:
            try:
                key = settings.github_private_key_path.read_text(encoding="ascii")
            except OSError as exc:
                raise ForgeError(f"cannot read the GitHub App private key: {exc}") from exc
        else:
            raise ForgeError("set REVIEWBOT_GITHUB_PRIVATE_KEY or ..._PATH")
        return cls(settings.github_app_id, key, settings.github_api_url)

    def close(self) -> None:
        """Close the HTTP connection pools (the composition root calls this on shutdown)."""
        with self._lock:
            clients = [entry.client for entry in self._clients.values()] + self._retired
            self._clients.clear()
            self._retired = []
        for client in clients:
            client.close()
        self._integration.close()

    # -- clients -----------------------------------------------------------------------------

    def _client(self, repo: str) -> tuple[Github, str]:
        """The installation's client and token; a new token shortly before the old expires."""
        if not _REPO.match(repo):
            raise ForgeError(f"not an owner/name repository: {repo!r}")
        with self._lock:
            installation_id = self._installations.get(repo)
            if installation_id is None:
                owner, name = repo.split("/")
                with translate_errors("installation lookup"):
                    installation = self._integration.get_repo_installation(owner, name)
                installation_id = self._installations[repo] = int(installation.id)
            entry = self._clients.get(installation_id)
            if entry is None or entry.expires_at - TOKEN_REFRESH_MARGIN <= datetime.now(UTC):
                with translate_errors("installation token"):
                    grant = self._integration.get_access_token(installation_id)
                client = Github(auth=Auth.Token(grant.token), **self._options)
                if entry is not None:  # idle by now: the one retired an hour ago is closed
                    for old in self._retired:
                        old.close()
                    self._retired = [entry.client]
                entry = self._clients[installation_id] = _Installation(
                    client, grant.token, grant.expires_at)
            return entry.client, entry.token

    def _request(self, repo: str, verb: str, path: str, body: dict[str, Any] | None = None,
                 action: str = "") -> dict[str, Any]:
        client, _ = self._client(repo)
        with translate_errors(action or f"{verb} {path}"):
            _, data = client.requester.requestJsonAndCheck(verb, f"/repos/{repo}{path}", input=body)
        return data if isinstance(data, dict) else {}

    # -- Forge -------------------------------------------------------------------------------

    def bot_login(self) -> str:
        if self._login is None:
            with translate_errors("GET /app"):
                self._login = f"{self._integration.get_app().slug}[bot]"
        return self._login

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        data = self._request(repo, "GET", f"/pulls/{int(number)}", action="get pull request")
        state = "merged" if data.get("merged") else str(data["state"])
        return PullRequest(
            number=int(data["number"]), title=str(data["title"]), body=str(data.get("body") or ""),
            author=str(data["user"]["login"]), state=state, draft=bool(data.get("draft")),
            head_sha=str(data["head"]["sha"]), base_sha=str(data["base"]["sha"]),
            base_ref=str(data["base"]["ref"]), head_ref=str(data["head"]["ref"]),
            default_branch=str(data["base"]["repo"]["default_branch"]),
            url=str(data.get("html_url") or ""),
        )

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        client, _ = self._client(repo)
        try:
            with translate_errors("read file"):
                found = client.get_repo(repo).get_contents(path, ref=ref)
                if isinstance(found, list) or found.type != "file":
                    return None
                if found.encoding == "base64" and found.content:
                    return base64.b64decode(found.content)
                blob = client.get_repo(repo).get_git_blob(found.sha)  # > 1 MB
                return base64.b64decode(blob.content)
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise

    def git_remote(self, repo: str) -> GitRemote:
        data = self._request(repo, "GET", "", action="get repository")
        _, token = self._client(repo)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
        return GitRemote(url=str(data["clone_url"]), auth_header=f"Authorization: Basic {basic}")

    def post_review(
        self,
        repo: str,
        number: int,
        head_sha: str,
        body: str,
        comments: list[InlineComment],
        *,
        max_inline: int = MAX_INLINE_COMMENTS,
    ) -> PostedReview:
        inline, overflow = split_inline(comments, max_inline)
        payload = {
            "commit_id": head_sha,
            "body": review_body(body or "Review by reviewbot.", overflow),
            "event": "COMMENT",
            "comments": [_review_comment(c) for c in inline],
        }
        data = self._request(repo, "POST", f"/pulls/{int(number)}/reviews", payload, "post review")
        return PostedReview(str(data["id"]), str(data.get("html_url") or ""), inline, overflow)

    def list_bot_markers(self, repo: str, number: int) -> set[str]:
        login = self.bot_login()
        client, _ = self._client(repo)
        found: set[str] = set()
        with translate_errors("list comments"):
            gh_repo = client.get_repo(repo)
            pull = gh_repo.get_pull(int(number))
            sources: list[Any] = [
                pull.get_review_comments(), pull.get_reviews(),
                gh_repo.get_issue(int(number)).get_comments(),
            ]
            for listing in sources:
                for item in listing:
                    if item.user is not None and item.user.login == login:
                        found |= find_fingerprints(item.body or "")
        return found

    def comment_feedback(self, repo: str, number: int) -> list[CommentFeedback]:
        login = self.bot_login()
        client, _ = self._client(repo)
        found: list[CommentFeedback] = []
        with translate_errors("list review comments"):
            for item in client.get_repo(repo).get_pull(int(number)).get_review_comments():
                if item.user is None or item.user.login != login:
                    continue
                rollup = item.reactions or {}
                for fingerprint in find_fingerprints(item.body or ""):
                    found.append(CommentFeedback(fingerprint, int(rollup.get("+1", 0)),
                                                 int(rollup.get("-1", 0))))
        return found

    def upsert_summary(self, repo: str, number: int, marker: str, body: str) -> int:
        text = body if marker in body else f"{body}\n\n{marker}"
        login = self.bot_login()
        client, _ = self._client(repo)
        with translate_errors("upsert summary"):
            issue = client.get_repo(repo).get_issue(int(number))
            for comment in issue.get_comments():
                if comment.user is not None and comment.user.login == login \
                        and marker in (comment.body or ""):
                    comment.edit(text[:MAX_BODY_CHARS])
                    return int(comment.id)
            return int(issue.create_comment(text[:MAX_BODY_CHARS]).id)

    def start_check(self, repo: str, head_sha: str, name: str) -> str:
        payload = {"name": name, "head_sha": head_sha, "status": "in_progress",
                   "started_at": _now()}
        return str(self._request(repo, "POST", "/check-runs", payload, "create check run")["id"])

    def complete_check(
        self,
        repo: str,
        check_id: str,
        head_sha: str,
        conclusion: CheckConclusion,
        title: str,
        summary: str,
        annotations: list[Annotation],
    ) -> None:
        batches = [annotations[i:i + ANNOTATIONS_PER_REQUEST]
                   for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)] or [[]]
        output = {"title": title[:255], "summary": summary[:MAX_BODY_CHARS]}
        path = f"/check-runs/{int(check_id)}"
        first = {"status": "completed", "conclusion": conclusion, "completed_at": _now(),
                 "output": {**output, "annotations": [_annotation(a) for a in batches[0]]}}
        self._request(repo, "PATCH", path, first, "complete check run")
        for batch in batches[1:]:  # later PATCHes append to the annotations
            more = {"output": {**output, "annotations": [_annotation(a) for a in batch]}}
            self._request(repo, "PATCH", path, more, "add check annotations")

    def permission(self, repo: str, user: str) -> Permission:
        try:
            data = self._request(repo, "GET", f"/collaborators/{_segment(user)}/permission",
                                 action="get permission")
        except ForgeError as exc:
            if exc.status == 404:
                return "none"
            raise
        return _PERMISSIONS.get(str(data.get("permission")), "none")

    def react(self, repo: str, number: int, comment_id: int, content: Reaction, *,
              inline: bool = False) -> None:
        kind = "pulls" if inline else "issues"
        self._request(repo, "POST", f"/{kind}/comments/{int(comment_id)}/reactions",
                      {"content": content}, "add reaction")

    def post_comment(self, repo: str, number: int, body: str) -> int:
        data = self._request(repo, "POST", f"/issues/{int(number)}/comments",
                             {"body": body[:MAX_BODY_CHARS]}, "post comment")
        return int(data["id"])

    def upsert_issue(self, repo: str, title: str, body: str, label: str) -> IssueRef:
        client, _ = self._client(repo)
        with translate_errors("upsert issue"):
            gh_repo = client.get_repo(repo)
            for issue in gh_repo.get_issues(state="open", labels=[label]):
                if "/pull/" not in issue.html_url and issue.title == title:  # skip PRs
                    issue.edit(body=body[:MAX_BODY_CHARS])
                    return IssueRef(int(issue.number), str(issue.html_url))
            created = gh_repo.create_issue(title=title, body=body[:MAX_BODY_CHARS], labels=[label])
            return IssueRef(int(created.number), str(created.html_url))


    # -- generated tests on a branch ---------------------------------------------------------

    def push_files(self, repo: str, branch: str, parent_sha: str, files: Mapping[str, str],
                   message: str) -> str:
        parent = self._request(repo, "GET", f"/git/commits/{_sha(parent_sha)}",
                               action="get commit")
        tree = self._request(repo, "POST", "/git/trees", {
            "base_tree": parent["tree"]["sha"],
            "tree": [{"path": path, "mode": "100644", "type": "blob", "content": content}
                     for path, content in sorted(files.items())]}, "create tree")
        current = self._branch_commit(repo, branch)
        if current is not None and current["tree"]["sha"] == tree["sha"] \
                and [p["sha"] for p in current["parents"]] == [parent_sha]:
            return str(current["sha"])  # already delivered: no new commit
        commit = self._request(repo, "POST", "/git/commits", {
            "message": message, "tree": tree["sha"], "parents": [parent_sha]}, "create commit")
        ref = f"heads/{_branch(branch)}"
        if current is None:
            self._request(repo, "POST", "/git/refs", {"ref": f"refs/{ref}",
                                                      "sha": commit["sha"]}, "create branch")
        else:
            self._request(repo, "PATCH", f"/git/refs/{ref}", {"sha": commit["sha"],
                                                              "force": True}, "move branch")
        return str(commit["sha"])

    def _branch_commit(self, repo: str, branch: str) -> dict[str, Any] | None:
        try:
            ref = self._request(repo, "GET", f"/git/ref/heads/{_branch(branch)}",
                                action="get branch")
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise
        return self._request(repo, "GET", f"/git/commits/{_sha(str(ref['object']['sha']))}",
                             action="get commit")

    def open_pull_request(self, repo: str, head: str, base: str, title: str,
                          body: str) -> IssueRef:
        owner = repo.split("/", 1)[0]
        client, _ = self._client(repo)
        with translate_errors("list pull requests"):
            _, found = client.requester.requestJsonAndCheck(
                "GET", f"/repos/{repo}/pulls",
                parameters={"state": "open", "head": f"{owner}:{head}", "base": base})
        for pull in found if isinstance(found, list) else []:
            self._request(repo, "PATCH", f"/pulls/{int(pull['number'])}",
                          {"body": body[:MAX_BODY_CHARS]}, "update pull request")
            return IssueRef(int(pull["number"]), str(pull.get("html_url") or ""))
        data = self._request(repo, "POST", "/pulls", {"title": title, "head": head, "base": base,
                                                      "body": body[:MAX_BODY_CHARS]},
                             "open pull request")
        return IssueRef(int(data["number"]), str(data.get("html_url") or ""))


def _sha(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{40}", value):
        raise ForgeError(f"not a commit sha: {value!r}")
    return value


def _branch(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", value) or ".." in value:
        raise ForgeError(f"not a branch name the bot writes: {value!r}")
    return value


def _review_comment(comment: InlineComment) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": comment.path, "body": comment_body(comment, "github"),
                             "line": comment.line, "side": comment.side}
    if comment.start_line is not None and comment.start_line < comment.line:
        entry["start_line"] = comment.start_line
        entry["start_side"] = comment.side
    return entry


def _annotation(annotation: Annotation) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": annotation.path, "start_line": annotation.start_line,
        "end_line": max(annotation.end_line, annotation.start_line),
        "annotation_level": annotation.level, "message": annotation.message[:MAX_BODY_CHARS],
    }
    if annotation.title:
        entry["title"] = annotation.title[:255]
    return entry


def _segment(value: str) -> str:
    if not re.match(r"^[A-Za-z0-9_.\[\]-]+$", value):
        raise ForgeError(f"not a GitHub login: {value!r}")
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
