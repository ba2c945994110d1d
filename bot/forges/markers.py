"""Hidden HTML-comment markers the bot leaves in its comments, and how to find them again."""

from __future__ import annotations

import re

_FINGERPRINT = re.compile(r"<!-- reviewbot:fp=([A-Za-z0-9_.:-]{1,128}) -->")
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def fingerprint_marker(fingerprint: str) -> str:
    """`<!-- reviewbot:fp=... -->` for a finding's fingerprint."""
    return f"<!-- reviewbot:fp={_checked(fingerprint)} -->"


def summary_marker(key: str) -> str:
    """The marker that identifies the bot's summary comment of one kind (e.g. "review")."""
    return f"<!-- reviewbot:summary={_checked(key)} -->"


def find_fingerprints(text: str) -> set[str]:
    """Every fingerprint carried by a marker in `text`."""
    return set(_FINGERPRINT.findall(text or ""))


def _checked(value: str) -> str:
    if not _SAFE_KEY.match(value):
        raise ValueError(f"marker value must match {_SAFE_KEY.pattern}: {value!r}")
    return value
