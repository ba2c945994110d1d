"""The `Forge` protocol (only the calls the bot makes) and the plain data types it speaks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

Side = Literal["LEFT", "RIGHT"]
Permission = Literal["admin", "write", "read", "none"]
CheckConclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]
AnnotationLevel = Literal["notice", "warning", "failure"]
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]

MAX_INLINE_COMMENTS = 30


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request (GitHub) or merge request (GitLab) as the bot needs it."""

    number: int
    title: str
    body: str
    author: str
    state: str  # "open" / "closed" / "merged"
    draft: bool
    head_sha: str
    base_sha: str  # GitHub: base branch tip; GitLab: diff_refs.base_sha (the merge base)
    base_ref: str
    head_ref: str
    default_branch: str
    start_sha: str | None = None  # GitLab diff_refs.start_sha; None on GitHub
    url: str = ""


@dataclass(frozen=True, slots=True)
class GitRemote:
    """Where to fetch a repository from, and the HTTP header that authenticates the fetch.

    The header goes to git through the environment (`http.extraHeader` via
    GIT_CONFIG_COUNT/KEY/VALUE), never into the URL, the repository's config or a log line.
    """

    url: str
    auth_header: str | None = field(default=None, repr=False)

    def git_env(self) -> dict[str, str]:
        """Environment entries that hand the auth header to one git process."""
        if not self.auth_header:
            return {}
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": self.auth_header,
        }


@dataclass(frozen=True, slots=True)
class InlineComment:
    """One review comment anchored on a line of the PR's diff.

    `line` is numbered on `side`: the head version for RIGHT (added or context lines), the
    base version for LEFT (removed lines). `old_line` is the base-side number of a RIGHT
    *context* line (GitLab needs both numbers there; leave it None for added lines).
    `start_line` (same side) opens a multi-line range ending at `line`. `suggestion` is the
    replacement text for lines start_line..line; each adapter renders it in its own syntax.
    `fingerprint` becomes a hidden marker in the posted body (idempotency across pushes).
    """

    path: str
    line: int
    body: str
    side: Side = "RIGHT"
    start_line: int | None = None
    old_line: int | None = None
    old_path: str | None = None  # base path of a renamed file
    suggestion: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class PostedReview:
    """What `Forge.post_review` posted: inline comments, and those moved into the body."""

    review_id: str
    url: str
    inline: tuple[InlineComment, ...]
    overflow: tuple[InlineComment, ...]


@dataclass(frozen=True, slots=True)
class Annotation:
    """A check-run annotation (GitHub only; GitLab commit statuses have none)."""

    path: str
    start_line: int
    end_line: int
    level: AnnotationLevel
    message: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class CommentFeedback:
    """People's 👍/👎 on one of the bot's inline comments (the bot's own reactions excluded)."""

    fingerprint: str
    upvotes: int
    downvotes: int


@dataclass(frozen=True, slots=True)
class IssueRef:
    number: int
    url: str


class Forge(Protocol):
    """The calls the bot makes on GitHub or GitLab. `repo` is "owner/name" (GitLab: the
    full project path "group/sub/name"); `number` is the PR number / MR iid.

    Every method raises `bot.errors.ForgeError` (or its transient subclasses
    `ForgeRateLimited` with `retry_after` and `ForgeUnavailable`), never a library error.
    """

    name: str  # "github" / "gitlab"

    def bot_login(self) -> str:
        """The login the bot's own comments are posted under (to ignore them)."""
        ...

    def get_pull_request(self, repo: str, number: int) -> PullRequest: ...

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None:
        """The file's bytes at `ref`, or None when it does not exist there."""
        ...

    def git_remote(self, repo: str) -> GitRemote: ...

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
        """Post one review: the first `max_inline` comments inline, the rest listed in the body."""
        ...

    def list_bot_markers(self, repo: str, number: int) -> set[str]:
        """Fingerprints found in hidden markers of the bot's own comments and reviews."""
        ...

    def upsert_summary(self, repo: str, number: int, marker: str, body: str) -> int:
        """Edit the bot's comment carrying `marker` in place, or create it; returns its id."""
        ...

    def start_check(self, repo: str, head_sha: str, name: str) -> str:
        """Mark the check in progress (GitHub check run / GitLab commit status); returns its id."""
        ...

    def complete_check(
        self,
        repo: str,
        check_id: str,
        head_sha: str,
        conclusion: CheckConclusion,
        title: str,
        summary: str,
        annotations: list[Annotation],
    ) -> None: ...

    def permission(self, repo: str, user: str) -> Permission: ...

    def react(self, repo: str, number: int, comment_id: int, content: Reaction, *,
              inline: bool = False) -> None:
        """Acknowledge a person's comment: in the PR conversation (GitHub issue comment /
        GitLab MR note) or, with `inline`, on a line of the diff (GitHub review comment;
        GitLab's diff notes are notes like any other)."""
        ...

    def post_comment(self, repo: str, number: int, body: str) -> int: ...

    def upsert_issue(self, repo: str, title: str, body: str, label: str) -> IssueRef:
        """Update the open issue with this label and title, or open one (weekly digest)."""
        ...

    def comment_feedback(self, repo: str, number: int) -> list[CommentFeedback]:
        """👍/👎 counts on the bot's inline comments that carry a fingerprint marker.

        GitHub sends no webhook for reactions, so the review job sweeps them (on every
        review and when the PR closes).
        """
        ...

    def push_files(self, repo: str, branch: str, parent_sha: str, files: Mapping[str, str],
                   message: str) -> str:
        """Point `branch` at one commit adding `files` on top of `parent_sha`; its sha.

        Idempotent: when the branch already holds exactly that change, nothing is written.
        Used for generated tests on `reviewbot/tests/<pr>` (force-moved on a new head).
        """
        ...

    def open_pull_request(self, repo: str, head: str, base: str, title: str,
                          body: str) -> IssueRef:
        """The open PR/MR from `head` into `base`: found (body updated) or opened."""
        ...
