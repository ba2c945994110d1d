"""Forge adapters: the `Forge` protocol the bot talks to, and its GitHub and GitLab implementations.

Only `bot.forges.github` imports PyGithub and only `bot.forges.gitlab` imports python-gitlab;
everything else in the bot uses the types from `bot.forges.base`.
"""

from bot.forges.base import (
    Annotation,
    CheckConclusion,
    Forge,
    GitRemote,
    InlineComment,
    IssueRef,
    Permission,
    PostedReview,
    PullRequest,
)

__all__ = [
    "Annotation",
    "CheckConclusion",
    "Forge",
    "GitRemote",
    "InlineComment",
    "IssueRef",
    "Permission",
    "PostedReview",
    "PullRequest",
]
