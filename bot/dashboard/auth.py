"""Who may see the dashboard: operators holding a token from `settings.dashboard_tokens`.

A request is signed in by `Authorization: Bearer <token>` (scripts) or by the session
cookie the sign-in form sets (browsers). The cookie holds no token: it is
`<expiry>.<nonce>.<mac>`, the MAC keyed by a hash of the operator's token, so removing a
token from the settings ends its sessions; every comparison is constant-time. With no
token configured nobody can sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

SESSION_COOKIE = "reviewbot_session"
_KEY_CONTEXT = b"reviewbot dashboard session v1:"


@dataclass(frozen=True)
class OperatorTokens:
    """The configured operator tokens, with the session lifetime."""

    tokens: tuple[bytes, ...]
    session_ttl_s: int

    @classmethod
    def of(cls, tokens: Sequence[SecretStr], session_ttl_s: int) -> OperatorTokens:
        values = tuple(t.get_secret_value().encode() for t in tokens if t.get_secret_value())
        return cls(values, session_ttl_s)

    @property
    def configured(self) -> bool:
        return bool(self.tokens)

    def matching(self, candidate: str) -> bytes | None:
        """The configured token equal to `candidate` (all compared, constant time each)."""
        given = candidate.encode()
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token, given):
                found = token
        return found

    def bearer(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, value = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.matching(value.strip()) is not None

    def new_session(self, token: bytes, *, now: float | None = None) -> str:
        """A cookie value for the operator holding `token`, valid for the session lifetime."""
        expires = int((now if now is not None else time.time()) + self.session_ttl_s)
        body = f"{expires}.{secrets.token_urlsafe(16)}"
        return f"{body}.{_mac(token, body)}"

    def session(self, cookie: str | None, *, now: float | None = None) -> bool:
        """Whether `cookie` is an unexpired session of a currently configured token."""
        if not cookie or cookie.count(".") != 2:
            return False
        expires, nonce, mac = cookie.split(".")
        if not expires.isdigit() or int(expires) <= (now if now is not None else time.time()):
            return False
        body = f"{expires}.{nonce}"
        valid = False
        for token in self.tokens:
            if hmac.compare_digest(_mac(token, body), mac):
                valid = True
        return valid


def _mac(token: bytes, body: str) -> str:
    key = hashlib.sha256(_KEY_CONTEXT + token).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path inside the dashboard (no open redirect)."""
    if (target and target.startswith(default) and not target.startswith("//")
            and "\\" not in target and "\n" not in target and "\r" not in target):
        return target
    return default
