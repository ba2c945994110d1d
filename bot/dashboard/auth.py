"""Who may see the dashboard: operators holding a token from `settings.dashboard_tokens`.

A request is signed in by `Authorization: Bearer <token>` (scripts) or by the session
cookie the sign-in form sets (browsers). The cookie holds no token: it is
`<expiry>.<nonce>.<mac>`, the MAC keyed by a hash of the operator's token, so removing a
token from the settings ends its sessions; every comparison is constant-time. Tokens
shorter than 16 characters are ignored; with no usable token nobody can sign in.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr

log = logging.getLogger(__name__)

SESSION_COOKIE = "reviewbot_session"
# The sign-in form can be tried by anyone who reaches it: a guessable token is no lock.
MIN_TOKEN_CHARS = 16
_KEY_CONTEXT = b"reviewbot dashboard session v1:"


@dataclass(frozen=True)
class OperatorTokens:
    """The configured operator tokens, with the session lifetime."""

    tokens: tuple[bytes, ...]
    session_ttl_s: int

    @classmethod
    def of(cls, tokens: Sequence[SecretStr], session_ttl_s: int) -> OperatorTokens:
        """The usable tokens: a short one is refused (logged without its value)."""
        values = []
        for position, token in enumerate(tokens, 1):
            value = token.get_secret_value()
            if len(value) < MIN_TOKEN_CHARS:
                log.warning("dashboard token ignored: too short",
                            extra={"position": position, "minimum": MIN_TOKEN_CHARS})
                continue
            values.append(value.encode())
        return cls(tuple(values), session_ttl_s)

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
