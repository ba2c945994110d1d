"""After a scenario: was every accepted delivery answered exactly once, and did anything leak?

Read from what users would see (the forge stand-in's reviews, comments and check runs) and
from what operators would see (history rows, log files), never from the code under test.

- lost: a recorded delivery still not completed or failed, or a PR whose newest head has
  neither a completed `reviewbot` check (review posted) nor a neutral one explaining why.
- duplicates: a second review, summary comment, completed check or fingerprinted inline
  comment for the same head / PR.
- leaks: occurrences of a configured secret or an issued forge token in any log line,
  stored row, posted body or prompt.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bot.history.enums import DeliveryStatus
from bot.history.enums import Forge as ForgeName
from bot.history.models import WebhookDelivery
from bot.reconcile import ReconcilePolicy, neutral_check_on_give_up, reconcile
from tests.faults.stack import Stack

CHECK_NAME = "reviewbot"
_FINGERPRINT = re.compile(r"<!-- reviewbot:fp=([A-Za-z0-9_.:-]+) -->")
_SUMMARY = re.compile(r"<!-- reviewbot:summary=review -->")
TERMINAL = (DeliveryStatus.COMPLETED, DeliveryStatus.FAILED)


@dataclass
class Tally:
    scenario: str
    accepted: int = 0
    posted: int = 0
    neutral: int = 0
    duplicates: int = 0
    lost: int = 0
    leaks: int = 0
    approvals: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def delivery_states(stack: Stack) -> Counter[DeliveryStatus]:
    with stack.sessions() as session:
        return Counter(session.scalars(select(WebhookDelivery.status)))


def settle(stack: Stack, *, timeout_s: float, policy: ReconcilePolicy,
           reconcile_every_s: float = 5.0, until: Callable[[], bool] | None = None) -> bool:
    """Wait until every recorded delivery is completed or failed and the queues are empty,
    running the reconciler every few seconds the way a cron job would."""
    deadline = time.monotonic() + timeout_s
    next_sweep = time.monotonic() + reconcile_every_s
    while time.monotonic() < deadline:
        states = delivery_states(stack)
        pending = sum(n for s, n in states.items() if s not in TERMINAL)
        if pending == 0 and stack.redis.queued() == 0 and (until is None or until()):
            return True
        if time.monotonic() >= next_sweep:
            reconcile(stack.sessions, stack.queue, policy,
                      on_give_up=neutral_check_on_give_up({ForgeName.GITHUB: stack.forge}))
            next_sweep = time.monotonic() + reconcile_every_s
        time.sleep(0.5)
    return False


def quick_policy(stalled_after_s: float) -> ReconcilePolicy:
    return ReconcilePolicy(accepted_after=timedelta(seconds=3),
                           stalled_after=timedelta(seconds=stalled_after_s), max_attempts=6)


def count(stack: Stack, tally: Tally) -> Tally:
    """Fill the accepted/posted/duplicates/lost/approvals columns of `tally`."""
    states = delivery_states(stack)
    tally.accepted = sum(states.values())
    stuck = sum(n for s, n in states.items() if s not in TERMINAL)
    if stuck:
        tally.notes.append(f"{stuck} delivery(ies) never finished: {dict(states)}")
    tally.lost += stuck
    checks = [c for c in stack.check_runs() if c["name"] == CHECK_NAME]
    completed = [c for c in checks if c["status"] == "completed"]
    by_head = Counter((c["repo"], c["head_sha"]) for c in completed)
    _duplicates(tally, "completed check", by_head)
    reviews = Counter((r["repo"], r["commit_id"]) for r in stack.bot_reviews())
    _duplicates(tally, "review", reviews)
    for name, repo in stack.github.repos.items():
        summaries = Counter(c.get("number") for c in repo.issue_comments.values()
                            if _SUMMARY.search(c.get("body") or ""))
        _duplicates(tally, f"{name} summary comment", summaries)
        marks = Counter((c["pull_number"], fp) for c in repo.review_comments
                        for fp in _FINGERPRINT.findall(c.get("body") or ""))
        dup_marks = sum(n - 1 for n in marks.values() if n > 1)
        if dup_marks:
            tally.notes.append(f"{name}: {dup_marks} inline comment(s) posted twice")
        tally.duplicates += dup_marks
    reviewed_prs = {(pr.full_name, pr.number) for pr in stack.prs}
    with stack.sessions() as session:
        delivered = {(d.repository_full_name, d.pr_number)
                     for d in session.scalars(select(WebhookDelivery))}
    for pr in stack.prs:
        if (pr.full_name, pr.number) not in delivered & reviewed_prs:
            continue
        head = stack.head(pr)
        done = [c for c in completed if c["repo"] == pr.full_name and c["head_sha"] == head]
        if not done:
            tally.lost += 1
            tally.notes.append(f"{pr.full_name}#{pr.number}: newest head {head[:12]} has no "
                               "completed check")
            continue
        tally.posted += 1
        if any(c["conclusion"] == "neutral" for c in done):
            tally.neutral += 1
            said = next(((c.get("output") or {}).get("summary") or "" for c in done
                         if c["conclusion"] == "neutral"), "")
            tally.notes.append(f"{pr.full_name}#{pr.number} neutral: {said[:160]!r}")
            if not all((c.get("output") or {}).get("summary") for c in done
                       if c["conclusion"] == "neutral"):
                tally.lost += 1
                tally.notes.append(f"{pr.full_name}#{pr.number}: neutral check says nothing")
    for recorded in stack.github.recorded:
        if recorded.method == "POST" and recorded.path.endswith("/reviews"):
            body = recorded.body if isinstance(recorded.body, dict) else {}
            if body.get("event") not in (None, "COMMENT"):
                tally.approvals += 1
        if recorded.method in {"PUT", "POST"} and recorded.path.endswith("/merge"):
            tally.approvals += 1
    return tally


def _duplicates(tally: Tally, what: str, counts: Counter[Any]) -> None:
    for key, n in counts.items():
        if n > 1:
            tally.duplicates += n - 1
            tally.notes.append(f"{what} {key} posted {n} times")


def secrets_of(stack: Stack) -> dict[str, str]:
    """Everything that must never be written anywhere, by a name for the report."""
    pem_body = [line for line in stack.private_key.splitlines() if "PRIVATE KEY" not in line]
    values = {"webhook secret": stack.webhook_secret, "engine api key": stack.engine_api_key,
              "app private key": max(pem_body, key=len)}
    for token in list(stack.github.tokens):
        values[f"installation token {token[:4]}…"] = token
    return values


def scan_leaks(stack: Stack, tally: Tally) -> Tally:
    """Count secret occurrences in logs, every stored row, posted bodies and prompts."""
    secrets = secrets_of(stack)
    places: list[tuple[str, str]] = []
    for path in sorted(stack.logs.glob("*")):
        places += [(f"{path.name}:{n}", line) for n, line in
                   enumerate(path.read_text("utf-8", "replace").splitlines(), 1)]
    places += _rows(stack)
    for recorded in stack.github.recorded:
        if recorded.method in {"POST", "PATCH", "PUT"}:
            places.append((f"forge {recorded.method} {recorded.path}",
                           json.dumps(recorded.body, default=str)))
    for request in stack.engine.requests:
        places.append(("engine request", json.dumps(request.body, default=str)))
    tally.notes.append(f"leak scan: {len(secrets)} secret(s) incl. "
                       f"{sum(n.startswith('installation token') for n in secrets)} issued "
                       f"token(s), over {len(places)} log lines, rows, bodies and prompts")
    for where, line in places:
        for name, value in secrets.items():
            if value and value in line:
                tally.leaks += 1
                tally.notes.append(f"{name} leaked in {where}")
    return tally


def _rows(stack: Stack) -> list[tuple[str, str]]:
    """Every row of every table as JSON text (Postgres does the serialising)."""
    rows: list[tuple[str, str]] = []
    with stack.db_engine.connect() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        for table in tables:
            for (row,) in connection.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')):
                rows.append((f"table {table}", row))
    return rows


def write_report(path: Path, tallies: list[Tally]) -> None:
    path.write_text(json.dumps([t.__dict__ for t in tallies], indent=2, default=str))
