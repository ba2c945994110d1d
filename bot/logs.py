"""Structured logs: one JSON object per line, request/job context on every line, secrets out.

Every line carries `delivery_id`, `repo`, `pr` and `run_id` (null while unknown), taken from
a context variable that the web edge binds per request (`LogContextMiddleware`) and the
worker binds per job (`log_context(...)`). A `SecretRedactor` filter on the handler
rewrites every record before any formatter sees it: forge tokens (`ghp_`, `ghs_`, `gho_`,
`ghu_`, `ghr_`, `github_pat_`, `glpat-`), PEM private keys, `Authorization` header values
and the configured secret values themselves become `[REDACTED]`, in the message, its
arguments, the extra fields and the traceback alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import SecretStr

from bot.settings import Settings

REDACTED = "[REDACTED]"
CONTEXT_FIELDS = ("delivery_id", "repo", "pr", "run_id")
MIN_SECRET_LENGTH = 6  # shorter configured values would redact ordinary words

_PATTERNS = (
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----"
               r"|\Z)", re.DOTALL),
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9\-._~+/]{8,}=*"),
    re.compile(r"(?i)(?<=\bbasic )[A-Za-z0-9+/]{8,}=*"),
    re.compile(r"(?i)(?<=\btoken )[A-Za-z0-9\-._~+/]{16,}=*"),
    re.compile(r"(?i)(?<=private-token: )\S+"),
    re.compile(r"(?i)(?<=x-gitlab-token: )\S+"),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@ in URLs
)

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}

_context: ContextVar[dict[str, Any] | None] = ContextVar("reviewbot_log_context", default=None)


# -- context ---------------------------------------------------------------------------------

def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


@contextmanager
def log_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Bind fields (delivery_id, repo, pr, run_id ...) to every log line inside the block."""
    merged = {**(_context.get() or {}), **fields}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def update_log_context(**fields: Any) -> None:
    """Add fields to the context bound by the innermost `log_context` (e.g. the run id once
    the run is recorded); outside any block it starts one for the current task/thread."""
    bound = _context.get()
    if bound is None:
        _context.set(dict(fields))
    else:
        bound.update(fields)


class LogContextMiddleware:
    """ASGI middleware: a fresh log context per request, seeded with the delivery id."""

    _HEADERS = (b"x-github-delivery", b"idempotency-key", b"x-gitlab-event-uuid")

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        delivery = next((headers[name] for name in self._HEADERS if name in headers), None)
        value = delivery[:128].decode("ascii", "replace") if delivery else None
        with log_context(delivery_id=value, repo=None, pr=None, run_id=None):
            await self.app(scope, receive, send)


class ContextFilter(logging.Filter):
    """Copies the bound context onto the record (an explicit `extra=` value wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


# -- redaction -------------------------------------------------------------------------------

def configured_secrets(settings: Settings) -> list[str]:
    """The secret values in the settings (SecretStr fields, lists of them)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, SecretStr):
                secret = item.get_secret_value()
                if len(secret) >= MIN_SECRET_LENGTH:
                    found.append(secret)
    return found


class SecretRedactor(logging.Filter):
    """Rewrites a record so no token, key, auth header or configured secret survives."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH},
                               key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, Mapping):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set):
            return [self._value(v) for v in value]
        if isinstance(value, bytes):
            return self.redact(value.decode("utf-8", "replace"))
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(repr(value))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # the text below is what handlers print
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key in [k for k in vars(record) if k not in _STANDARD]:
            setattr(record, key, self._value(getattr(record, key)))
        return True


# -- output ----------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            entry[key] = getattr(record, key, None)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=repr, ensure_ascii=False)


def build_handler(settings: Settings, stream: IO[str] | None = None,
                  fmt: str | None = None) -> logging.Handler:
    """A stream handler with the context and redaction filters and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretRedactor(configured_secrets(settings)))
    if (fmt or settings.log_format) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s "
            "delivery=%(delivery_id)s repo=%(repo)s pr=%(pr)s run=%(run_id)s",
            defaults=dict.fromkeys(CONTEXT_FIELDS)))
    return handler


def configure_logging(settings: Settings, stream: IO[str] | None = None,
                      fmt: str | None = None, level: str | None = None) -> logging.Handler:
    """Make the root logger write through one redacting handler (API, worker and beat).

    Replaces the root's handlers (uvicorn and Celery must be told not to install their own:
    `log_config=None`, `worker_hijack_root_logger=False`). Returns the handler.
    """
    handler = build_handler(settings, stream, fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    return handler
