"""GitLab adapter: the `Forge` protocol over python-gitlab with a project/group access token."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import gitlab
import requests
from gitlab.exceptions import GitlabError

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
from bot.forges.ratelimit import WritePacer, is_rate_limited, retry_after_seconds
from bot.forges.render import MAX_BODY_CHARS, comment_body, review_body, split_inline
from bot.metrics import forge_call
from bot.settings import Settings

log = logging.getLogger(__name__)

DEVELOPER = 30
_STATES: dict[str, str] = {
    "success": "success", "skipped": "skipped", "failure": "failed", "action_required": "failed",
    "neutral": "canceled", "cancelled": "canceled", "timed_out": "canceled",
}
_EMOJI: dict[str, str] = {
    "+1": "thumbsup", "-1": "thumbsdown", "laugh": "laughing", "confused": "confused",
    "heart": "heart", "hooray": "tada", "rocket": "rocket", "eyes": "eyes",
}


def _raise_on_rate_limit(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests hook: turn 429 into ForgeRateLimited before python-gitlab sleeps on it."""
    if is_rate_limited(response.status_code, response.headers, ""):
        response.close()  # raising here skips requests' own release of the connection
        raise ForgeRateLimited(
            f"GitLab rate limit on {response.request.method} {response.request.path_url}",
            retry_after_seconds(response.headers), response.status_code,
        )


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """One GitLab API call: errors translated, then counted (`bot.metrics`)."""
    with forge_call("gitlab"), _translate_errors(action):
        yield


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    """Re-raise python-gitlab and requests errors as the bot's `ForgeError` family."""
    try:
        yield
    except GitlabError as exc:
        status = exc.response_code
        detail = f"GitLab {action}: {status} {exc.error_message}"
        if status is not None and status >= 500:
            raise ForgeUnavailable(detail, status) from exc
        raise ForgeError(detail, status) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ForgeUnavailable(f"GitLab {action}: {type(exc).__name__}") from exc


class GitLabForge:
    """A GitLab instance reached with one access token (project, group or personal)."""

    name = "gitlab"

    def __init__(
        self, url: str, token: str, *, write_interval_s: float = 0.8, timeout_s: float = 30.0
    ) -> None:
        session = requests.Session()
        session.hooks["response"].append(_raise_on_rate_limit)
        self._token = token
        self._gl = gitlab.Gitlab(
            url.rstrip("/"), private_token=token, session=session, timeout=timeout_s,
            retry_transient_errors=False, per_page=100,
        )
        self._pacer = WritePacer(write_interval_s)
        self._login: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GitLabForge:
        if settings.gitlab_token is None:
            raise ForgeError("REVIEWBOT_GITLAB_TOKEN is not set")
        return cls(settings.gitlab_url, settings.gitlab_token.get_secret_value())

    def close(self) -> None:
        """Close the HTTP connection pool (the composition root calls this on shutdown)."""
        self._gl.session.close()

    def _project(self, repo: str) -> Any:
        return self._gl.projects.get(repo, lazy=True)

    def _mr(self, repo: str, number: int) -> Any:
        return self._project(repo).mergerequests.get(int(number), lazy=True)

    def bot_login(self) -> str:
        if self._login is None:
            with translate_errors("GET /user"):
                user = self._gl.http_get("/user")
            assert isinstance(user, dict)
            self._login = str(user["username"])
        return self._login

    def get_pull_request(self, repo: str, number: int) -> PullRequest:
        with translate_errors("get merge request"):
            mr = self._project(repo).mergerequests.get(int(number))
            project = self._gl.projects.get(repo)
        refs = mr.diff_refs or {}
        return PullRequest(
            number=int(mr.iid), title=str(mr.title), body=str(mr.description or ""),
            author=str(mr.author["username"]), state=_mr_state(str(mr.state)),
            draft=bool(getattr(mr, "draft", False)), head_sha=str(refs.get("head_sha") or mr.sha),
            base_sha=str(refs.get("base_sha") or ""), base_ref=str(mr.target_branch),
            head_ref=str(mr.source_branch), default_branch=str(project.default_branch),
            start_sha=refs.get("start_sha"), url=str(mr.web_url or ""),
        )

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        try:
            with translate_errors("read file"):
                content = self._project(repo).files.raw(file_path=path, ref=ref)
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise
        return bytes(content)

    def git_remote(self, repo: str) -> GitRemote:
        with translate_errors("get project"):
            project = self._gl.projects.get(repo)
        basic = base64.b64encode(f"oauth2:{self._token}".encode()).decode("ascii")
        return GitRemote(url=str(project.http_url_to_repo),
                         auth_header=f"Authorization: Basic {basic}")

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
        mr = self._mr(repo, number)
        with translate_errors("list merge request versions"):
            versions = list(mr.diffs.list(iterator=True))
        if not versions:
            raise ForgeError(f"GitLab merge request {repo}!{number} has no diff versions")
        version = next((v for v in versions if v.head_commit_sha == head_sha), versions[0])
        inline, overflow = split_inline(comments, max_inline)
        posted: list[InlineComment] = []
        refused: list[InlineComment] = []
        for comment in inline:
            try:
                self._pacer.wait()
                with translate_errors("create discussion"):
                    mr.discussions.create({"body": comment_body(comment, "gitlab"),
                                           "position": _position(comment, version)})
                posted.append(comment)
            except ForgeError as exc:
                if exc.status != 400:
                    raise
                log.warning("gitlab discussion refused",
                            extra={"repo": repo, "mr": number, "path": comment.path,
                                   "line": comment.line, "status": exc.status})
                refused.append(comment)
        rest = (*refused, *overflow)
        self._pacer.wait()
        with translate_errors("create summary note"):
            note = mr.notes.create({"body": review_body(body or "Review by reviewbot.", rest)})
        return PostedReview(str(note.id), "", tuple(posted), rest)

    def list_bot_markers(self, repo: str, number: int) -> set[str]:
        login = self.bot_login()
        found: set[str] = set()
        with translate_errors("list notes"):
            for note in self._mr(repo, number).notes.list(iterator=True):
                if note.author["username"] == login:
                    found |= find_fingerprints(note.body or "")
        return found

    def comment_feedback(self, repo: str, number: int) -> list[CommentFeedback]:
        login = self.bot_login()
        found: list[CommentFeedback] = []
        with translate_errors("list award emoji"):
            mr = self._mr(repo, number)
            for note in mr.notes.list(iterator=True):
                fingerprints = find_fingerprints(note.body or "")
                if note.author["username"] != login or not fingerprints:
                    continue
                names = [a.name for a in note.awardemojis.list(iterator=True)
                         if a.user["username"] != login]
                up = sum(1 for n in names if n == "thumbsup")
                down = sum(1 for n in names if n == "thumbsdown")
                found += [CommentFeedback(fp, up, down) for fp in sorted(fingerprints)]
        return found

    def upsert_summary(self, repo: str, number: int, marker: str, body: str) -> int:
        text = (body if marker in body else f"{body}\n\n{marker}")[:MAX_BODY_CHARS]
        login = self.bot_login()
        mr = self._mr(repo, number)
        with translate_errors("upsert summary"):
            for note in mr.notes.list(iterator=True):
                if note.author["username"] == login and marker in (note.body or ""):
                    self._pacer.wait()
                    mr.notes.update(note.id, {"body": text})
                    return int(note.id)
            self._pacer.wait()
            return int(mr.notes.create({"body": text}).id)

    def start_check(self, repo: str, head_sha: str, name: str) -> str:
        self._set_status(repo, head_sha, name, "running", "review in progress")
        return name

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
        self._set_status(repo, head_sha, check_id, _STATES[conclusion], title)

    def _set_status(self, repo: str, sha: str, name: str, state: str, description: str) -> None:
        commit = self._project(repo).commits.get(sha, lazy=True)
        try:
            with translate_errors("set commit status"):
                commit.statuses.create({"state": state, "name": name,
                                        "description": description[:255]})
        except ForgeError as exc:  # a redelivered job re-sending the same state
            if exc.status == 400 and "cannot transition status" in str(exc).lower():
                return
            raise

    def permission(self, repo: str, user: str) -> Permission:
        with translate_errors("find user"):
            users = self._gl.users.list(username=user, get_all=False)
        if not users:
            return "none"
        try:
            with translate_errors("get member"):
                member = self._project(repo).members_all.get(users[0].id)
        except ForgeError as exc:
            if exc.status == 404:
                return "none"
            raise
        level = int(member.access_level)
        if level >= 50:
            return "admin"
        if level >= DEVELOPER:
            return "write"
        return "read" if level >= 10 else "none"

    def react(self, repo: str, number: int, comment_id: int, content: Reaction, *,
              inline: bool = False) -> None:
        note = self._mr(repo, number).notes.get(int(comment_id), lazy=True)
        with translate_errors("award emoji"):
            note.awardemojis.create({"name": _EMOJI[content]})

    def post_comment(self, repo: str, number: int, body: str) -> int:
        self._pacer.wait()
        with translate_errors("create note"):
            note = self._mr(repo, number).notes.create({"body": body[:MAX_BODY_CHARS]})
        return int(note.id)

    def upsert_issue(self, repo: str, title: str, body: str, label: str) -> IssueRef:
        project = self._project(repo)
        self._pacer.wait()
        with translate_errors("upsert issue"):
            for issue in project.issues.list(labels=[label], state="opened", iterator=True):
                if issue.title == title:
                    issue.description = body[:MAX_BODY_CHARS]
                    issue.save()
                    return IssueRef(int(issue.iid), str(issue.web_url))
            created = project.issues.create(
                {"title": title, "description": body[:MAX_BODY_CHARS], "labels": label})
        return IssueRef(int(created.iid), str(created.web_url))

    # -- generated tests on a branch ---------------------------------------------------------

    def push_files(self, repo: str, branch: str, parent_sha: str, files: Mapping[str, str],
                   message: str) -> str:
        project = self._project(repo)
        current = self._branch_sha(project, branch)
        if current is not None and self._holds(project, current, parent_sha, files):
            return current  # already delivered: no new commit
        actions = [{"action": "create", "file_path": path, "content": content}
                   for path, content in sorted(files.items())]
        self._pacer.wait()
        with translate_errors("create commit"):
            commit = project.commits.create({
                "branch": branch, "start_sha": parent_sha, "force": True,
                "commit_message": message, "actions": actions})
        return str(commit.id)

    def _branch_sha(self, project: Any, branch: str) -> str | None:
        try:
            with translate_errors("get branch"):
                return str(project.branches.get(branch).commit["id"])
        except ForgeError as exc:
            if exc.status == 404:
                return None
            raise

    def _holds(self, project: Any, sha: str, parent_sha: str, files: Mapping[str, str]) -> bool:
        """Is `sha` one commit on `parent_sha` adding exactly `files`?"""
        with translate_errors("compare commits"):
            if list(project.commits.get(sha).parent_ids) != [parent_sha]:
                return False
            diffs = project.repository_compare(parent_sha, sha)["diffs"]
            if {d["new_path"] for d in diffs} != set(files):
                return False
            return all(bytes(project.files.raw(file_path=path, ref=sha)) == text.encode()
                       for path, text in files.items())

    def open_pull_request(self, repo: str, head: str, base: str, title: str,
                          body: str) -> IssueRef:
        project = self._project(repo)
        self._pacer.wait()
        with translate_errors("open merge request"):
            for mr in project.mergerequests.list(source_branch=head, target_branch=base,
                                                 state="opened", iterator=True):
                mr.description = body[:MAX_BODY_CHARS]
                mr.save()
                return IssueRef(int(mr.iid), str(mr.web_url))
            created = project.mergerequests.create({
                "source_branch": head, "target_branch": base, "title": title,
                "description": body[:MAX_BODY_CHARS], "remove_source_branch": True})
        return IssueRef(int(created.iid), str(created.web_url))


def _position(comment: InlineComment, version: Any) -> dict[str, Any]:
    position: dict[str, Any] = {
        "position_type": "text",
        "base_sha": version.base_commit_sha,
        "start_sha": version.start_commit_sha,
        "head_sha": version.head_commit_sha,
        "new_path": comment.path,
        "old_path": comment.old_path or comment.path,
    }
    if comment.side == "LEFT":
        position["old_line"] = comment.line
    else:
        position["new_line"] = comment.line
        if comment.old_line is not None:  # a context line needs both numbers
            position["old_line"] = comment.old_line
    return position


def _mr_state(state: str) -> str:
    return {"opened": "open", "locked": "open"}.get(state, state)
