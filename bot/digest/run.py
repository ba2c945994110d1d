"""Running a digest end to end: compute, render, store in `digests`, deliver; and the weekly sweep.

`run_digest` is what `reviewbot digest` and the Celery beat task call. The row of
`(scope, week start)` is updated in place when a week is re-run, and keeps the tracking
issue's number, so a re-run edits the same issue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.compute import DigestData, compute_digest
from bot.digest.deliver import IssuePublisher, post_chat, publish_issue
from bot.digest.render_html import render_html
from bot.digest.render_markdown import digest_title, render_markdown, render_slack
from bot.forges.base import IssueRef
from bot.history.db import session_scope
from bot.history.models import Digest, Repository, ReviewRun
from bot.history.periods import Week, last_complete_week, week_of
from bot.history.runqueries import GpuRates
from bot.history.schema import utcnow
from bot.settings import Settings
from reviewers.errors import ReviewbotError

log = logging.getLogger(__name__)

CHAT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DigestResult:
    digest_id: int
    scope: str
    week: str  # "2026-W41"
    markdown: str
    issue: IssueRef | None
    chat_posted: bool
    data: DigestData


def digest_link(settings: Settings, scope: str, week: Week) -> str | None:
    """The dashboard page of a stored digest, when the dashboard's public URL is set."""
    if not settings.dashboard_url:
        return None
    return f"{settings.dashboard_url.rstrip('/')}/digests/{week.label}/{scope.strip('/')}"


def gpu_rates(settings: Settings) -> GpuRates:
    return GpuRates(settings.gpu_prefill_tokens_per_s, settings.gpu_decode_tokens_per_s)


def digest_week(settings: Settings, *, since: date | None = None,
                now: datetime | None = None) -> Week:
    """The week containing `since`, or else the last complete week at `now`."""
    tz = ZoneInfo(settings.digest_timezone)
    return week_of(since, tz) if since is not None else last_complete_week(now or utcnow(), tz)


def save_digest(session: Session, data: DigestData, markdown: str, html: str) -> Digest:
    """Insert or update the `digests` row of the digest's scope and week."""
    row = session.scalars(select(Digest).where(Digest.scope == data.scope.name,
                                               Digest.period_start == data.week.start)
                          ).one_or_none()
    if row is None:
        row = Digest(scope=data.scope.name, period_start=data.week.start)
        session.add(row)
    row.repository_id = (data.scope.repository_ids[0] if data.scope.kind == "repository"
                         else None)
    row.period_end = data.week.end
    row.markdown, row.html = markdown, html
    session.flush()
    return row


def run_digest(factory: sessionmaker[Session], settings: Settings, scope: str, *,
               since: date | None = None, now: datetime | None = None,
               publisher: IssuePublisher | None = None,
               http_client: httpx.Client | None = None,
               dashboard_url: str | None = None) -> DigestResult:
    """Compute, store and deliver the digest of `scope` ("owner/name" or an organisation).

    The week is the one containing `since`, else the last complete week. The issue is
    upserted when `settings.digest_to_issue`, a `publisher` is given and the scope is a
    repository; the chat payload is posted when `settings.digest_chat_webhook_url` is set
    (with `http_client`, or a client of our own). `dashboard_url` is the link put in the
    digest (default: the digest's page on the dashboard, see `digest_link`).
    """
    now = now or utcnow()
    week = digest_week(settings, since=since, now=now)
    with session_scope(factory) as session:
        data = compute_digest(session, scope, week, gpu_rates(settings), now=now)
        if dashboard_url is None:
            dashboard_url = digest_link(settings, data.scope.name, week)
        markdown = render_markdown(data, dashboard_url=dashboard_url)
        row = save_digest(session, data, markdown,
                          render_html(data, dashboard_url=dashboard_url))
        digest_id = row.id
    issue = None
    if settings.digest_to_issue and publisher is not None and data.scope.kind == "repository":
        issue = publish_issue(publisher, data.scope.name, digest_title(data), markdown)
        with session_scope(factory) as session:
            stored = session.get(Digest, digest_id)
            if stored is not None:
                stored.forge_issue_number = issue.number
    chat_posted = False
    if settings.digest_chat_webhook_url is not None:
        url = settings.digest_chat_webhook_url.get_secret_value()
        payload = render_slack(data, dashboard_url=dashboard_url)
        if http_client is not None:
            post_chat(http_client, url, payload)
        else:
            with httpx.Client(timeout=CHAT_TIMEOUT_S) as client:
                post_chat(client, url, payload)
        chat_posted = True
    log.info("digest done", extra={"scope": data.scope.name, "week": week.label,
                                   "digest_id": digest_id})
    return DigestResult(digest_id, data.scope.name, week.label, markdown, issue, chat_posted,
                        data)


def digest_scopes(session: Session, week: Week) -> list[str]:
    """Repositories reviewed in the four weeks up to `week`, then their organisations."""
    since = week.start - timedelta(weeks=4)
    repos = session.scalars(select(Repository).where(Repository.id.in_(
        select(ReviewRun.repository_id).where(ReviewRun.queued_at >= since,
                                              ReviewRun.queued_at < week.end)))
        .order_by(Repository.full_name)).all()
    names = [r.full_name for r in repos]
    owners = sorted({r.owner for r in repos} - set(names))
    return [*names, *owners]


def run_weekly_digests(factory: sessionmaker[Session], settings: Settings, *,
                       publisher_for: Callable[[str], IssuePublisher | None],
                       http_client: httpx.Client | None = None,
                       now: datetime | None = None, dashboard_url: str | None = None
                       ) -> tuple[list[DigestResult], list[tuple[str, ReviewbotError]]]:
    """The beat task's job: every active repository and organisation, one failing not the rest."""
    now = now or utcnow()
    week = digest_week(settings, now=now)
    with session_scope(factory) as session:
        scopes = digest_scopes(session, week)
    done: list[DigestResult] = []
    failed: list[tuple[str, ReviewbotError]] = []
    for scope in scopes:
        try:
            done.append(run_digest(factory, settings, scope, since=week.monday, now=now,
                                   publisher=publisher_for(scope), http_client=http_client,
                                   dashboard_url=dashboard_url))
        except ReviewbotError as exc:
            log.warning("digest failed", extra={"scope": scope, "error": str(exc)})
            failed.append((scope, exc))
    return done, failed
