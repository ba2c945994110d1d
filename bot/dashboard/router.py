"""The dashboard's pages: server-rendered Jinja2 under `/dashboard`, operators only.

Organisations and repositories; a repository's (or organisation's) week against the four
before, with trend charts as inline SVG; the review runs of a PR with findings and tests;
the digest archive. Every page but sign-in needs an operator (`bot.dashboard.auth`): a
browser without a session is sent to sign in, anything else gets 401. Figures come from
the history query functions; pages never run SQL of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from bot.dashboard.auth import SESSION_COOKIE, OperatorTokens, safe_next
from bot.digest.compute import compute_digest
from bot.digest.render_html import template_environment
from bot.digest.run import gpu_rates
from bot.digest.trend_charts import trend_charts
from bot.history.browse import (
    digest_archive,
    find_digest,
    pull_request_detail,
    pull_requests,
    repositories_by_owner,
)
from bot.history.db import session_scope
from bot.history.models import Repository
from bot.history.periods import Week, last_complete_week, week_of, weeks_ending
from bot.history.queries import (
    Scope,
    acceptance_by_rule,
    acceptance_by_source,
    hot_files,
    repository_scope,
    resolve_scope,
)
from bot.history.runqueries import generated_test_outcomes
from bot.history.schema import utcnow
from bot.history.trends import weekly_points
from bot.settings import Settings
from reviewers.errors import ReviewbotError

log = logging.getLogger(__name__)

PREFIX = "/dashboard"
HOME = f"{PREFIX}/"
TREND_WEEKS = 8
MAX_FORM_BYTES = 4096
TEMPLATES = Path(__file__).parent / "templates"
# Pages show model output and code: nothing runs, nothing loads from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


WeekDay = Annotated[date | None, Query(alias="week", description="a day of the week")]


class Dashboard:
    """The pages' collaborators: settings, history sessions, operator tokens, templates."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.tokens = OperatorTokens.of(settings.dashboard_tokens,
                                        settings.dashboard_session_ttl_s)
        self.tz = ZoneInfo(settings.digest_timezone)
        self.env = template_environment(TEMPLATES)
        self.env.globals["PREFIX"] = PREFIX
        self.env.filters["when"] = _when

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session

    def page(self, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def signed_in(self, request: Request) -> bool:
        return (self.tokens.bearer(request.headers.get("authorization"))
                or self.tokens.session(request.cookies.get(SESSION_COOKIE)))

    def week(self, day: date | None) -> Week:
        return week_of(day, self.tz) if day is not None else last_complete_week(utcnow(),
                                                                                self.tz)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "–"


def dashboard_router(settings: Settings, sessions: sessionmaker[Session]) -> APIRouter:
    """The dashboard's routes, mounted by `bot.webhooks.app.create_app`."""
    board = Dashboard(settings, sessions)

    def operator(request: Request) -> None:
        if board.signed_in(request):
            return
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query
                                                else ""), safe="/")
            raise HTTPException(303, "sign in first",
                                headers={"Location": f"{PREFIX}/signin?next={target}"})
        raise HTTPException(401, "operator token required",
                            headers={"WWW-Authenticate": 'Bearer realm="reviewbot"'})

    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    pages = APIRouter(dependencies=[Depends(operator)])  # everything but signing in and out

    @router.get("/signin", response_class=HTMLResponse)
    def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
        return board.page("signin.html", next=safe_next(next, HOME), error=None,
                          configured=board.tokens.configured)

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
        target = safe_next((form.get("next") or [HOME])[-1], HOME)
        token = board.tokens.matching((form.get("token") or [""])[-1].strip())
        if token is None:
            log.warning("dashboard sign-in refused", extra={"client": _client(request)})
            return board.page("signin.html", 401, next=target, configured=board.tokens.configured,
                              error="That token is not an operator token.")
        response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(SESSION_COOKIE, board.tokens.new_session(token),
                            max_age=board.tokens.session_ttl_s, path=PREFIX, httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        log.info("dashboard sign-in", extra={"client": _client(request)})
        return response

    @router.post("/signout")
    def signout() -> Response:
        response = RedirectResponse(f"{PREFIX}/signin", status_code=303,
                                    headers=SECURITY_HEADERS)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @pages.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        with board.session() as session:
            owners = repositories_by_owner(session, utcnow())
        return board.page("index.html", owners=owners, title="Repositories")

    @pages.get("/repos/{repository_id}", response_class=HTMLResponse)
    def repository(repository_id: int, day: WeekDay = None) -> HTMLResponse:
        week = board.week(day)
        with board.session() as session:
            repo = session.get(Repository, repository_id)
            if repo is None:
                raise HTTPException(404, "no such repository")
            context = _scope_context(board, session, repository_scope(repo), week)
            pulls = pull_requests(session, repo.id)
        return board.page("scope.html", repo=repo, pulls=pulls, title=repo.full_name,
                          **context)

    @pages.get("/orgs/{name:path}", response_class=HTMLResponse)
    def organisation(name: str, day: WeekDay = None) -> HTMLResponse:
        week = board.week(day)
        with board.session() as session:
            try:
                scope = resolve_scope(session, name)
            except ReviewbotError as exc:
                raise HTTPException(404, str(exc)) from exc
            context = _scope_context(board, session, scope, week)
            owners = [o for o in repositories_by_owner(session, utcnow())
                      if o.owner == name or o.owner.startswith(f"{name}/")]
        return board.page("scope.html", repo=None, owners=owners, title=name, **context)

    @pages.get("/repos/{repository_id}/pulls/{number}", response_class=HTMLResponse)
    def pull_request(repository_id: int, number: int) -> HTMLResponse:
        with board.session() as session:
            detail = pull_request_detail(session, repository_id, number)
            if detail is None:
                raise HTTPException(404, "no such pull request")
            return board.page("pull.html", d=detail,
                              title=f"{detail.repository.full_name} #{number}")

    @pages.get("/digests", response_class=HTMLResponse)
    def digests(scope: str | None = None) -> HTMLResponse:
        with board.session() as session:
            entries = digest_archive(session, board.tz, scope=scope)
        return board.page("digests.html", entries=entries, scope=scope, title="Digests")

    @pages.get("/digests/{week}/{scope:path}", response_class=HTMLResponse)
    def digest(week: str, scope: str) -> HTMLResponse:
        with board.session() as session:
            row = find_digest(session, scope, week, board.tz)
            if row is None or row.html is None:
                raise HTTPException(404, "no digest for that scope and week")
            return HTMLResponse(row.html, headers=SECURITY_HEADERS)

    router.include_router(pages)
    return router


def _scope_context(board: Dashboard, session: Session, scope: Scope, week: Week
                   ) -> dict[str, Any]:
    """What a repository or organisation page shows for `week`."""
    rates = gpu_rates(board.settings)
    points = weekly_points(session, scope, weeks_ending(week, TREND_WEEKS), rates)
    data = compute_digest(session, scope, week, rates, points=points)
    window = (week.shifted(1 - TREND_WEEKS).start, week.end)
    return {
        "d": data, "week": week, "charts": trend_charts(points), "points": points,
        "hot": hot_files(session, scope, *window),
        "by_rule": acceptance_by_rule(session, scope, *window),
        "by_source": acceptance_by_source(session, scope, *window),
        "tests": generated_test_outcomes(session, scope, *window),
        "previous": week.shifted(-1).monday, "next": week.shifted(1).monday,
        "trend_weeks": TREND_WEEKS,
    }


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"
