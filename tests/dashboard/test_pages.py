"""The dashboard over HTTP: who is refused, signing in, and the seeded figures on each page.

The seed is tests/history_queries/seed.py; its figures for 2026-W41 of acme/widgets are
hand-computed there and in tests/digest (GPU rates 1000 / 100 tokens per second here).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.dashboard.auth import SESSION_COOKIE, OperatorTokens
from bot.digest.run import run_digest
from bot.history.db import make_engine, session_factory
from tests.dashboard.conftest import OPERATOR_TOKEN, dashboard_settings
from tests.history_queries.seed import Seeded

pytestmark = pytest.mark.postgres

BEARER = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
W41 = "2026-10-07"


def pages(seeded: Seeded) -> list[str]:
    repo = seeded.widgets_id
    return ["/dashboard/", f"/dashboard/repos/{repo}", f"/dashboard/repos/{repo}/pulls/1",
            "/dashboard/orgs/acme", "/dashboard/digests",
            "/dashboard/digests/2026-W41/acme/widgets"]


def session(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}


def row_cells(html: str, attribute: str) -> list[str]:
    """The text of each cell of the table row carrying `attribute` (e.g. data-week="...")."""
    match = re.search(rf"<tr {re.escape(attribute)}>(.*?)</tr>", html, re.S)
    assert match, f"no row {attribute}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    return [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def test_every_page_refuses_a_request_without_an_operator(client: TestClient,
                                                          seeded: Seeded) -> None:
    for page in pages(seeded):
        api = client.get(page)
        assert api.status_code == 401, page
        assert api.headers["www-authenticate"] == 'Bearer realm="reviewbot"'
        browser = client.get(page, headers=BROWSER)
        assert browser.status_code == 303, page
        assert browser.headers["location"].startswith("/dashboard/signin?next=/dashboard/")
        for refused in (api, browser):  # nothing of the history leaks
            assert "src/" not in refused.text
            assert "def test" not in refused.text
        wrong = client.get(page, headers={"Authorization": "Bearer op-token-guess"})
        assert wrong.status_code == 401
        forged = client.get(page, headers=session("9999999999.nonce.deadbeef"))
        assert forged.status_code == 401


def test_sessions_end_with_their_lifetime_or_their_token(client: TestClient,
                                                         seeded: Seeded) -> None:
    tokens = OperatorTokens.of(dashboard_settings("sqlite://").dashboard_tokens, 3600)
    token = OPERATOR_TOKEN.encode()
    good = tokens.new_session(token)
    page = f"/dashboard/repos/{seeded.widgets_id}"
    assert client.get(page, headers=session(good)).status_code == 200
    expired = tokens.new_session(token, now=datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    assert client.get(page, headers=session(expired)).status_code == 401
    removed = OperatorTokens((b"a-token-no-longer-configured",), 3600).new_session(
        b"a-token-no-longer-configured")
    assert client.get(page, headers=session(removed)).status_code == 401
    _, nonce, mac = good.split(".")
    tampered = f"9999999999.{nonce}.{mac}"  # a longer life, not signed
    assert client.get(page, headers=session(tampered)).status_code == 401


def test_sign_in_with_the_form_then_browse(client: TestClient, seeded: Seeded) -> None:
    form = client.get("/dashboard/signin?next=/dashboard/orgs/acme")
    assert form.status_code == 200
    assert 'name="next" value="/dashboard/orgs/acme"' in form.text
    refused = client.post("/dashboard/signin", content="token=nope&next=/dashboard/",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert refused.status_code == 401
    assert "That token is not an operator token." in refused.text
    assert SESSION_COOKIE not in refused.cookies
    done = client.post("/dashboard/signin",
                       content=f"token={OPERATOR_TOKEN}&next=https://evil.example/",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 303
    assert done.headers["location"] == "/dashboard/"  # never off the dashboard
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/dashboard" in cookie
    assert OPERATOR_TOKEN not in cookie
    home = client.get("/dashboard/")
    assert home.status_code == 200
    assert home.headers["content-security-policy"].startswith("default-src 'none'")
    assert row_cells(home.text, 'data-repo="acme/widgets"')[2] == "4"  # F1, F5, F6, F7 open
    out = client.post("/dashboard/signout")
    assert out.status_code == 303
    assert client.get("/dashboard/").status_code == 401


def test_repository_page_shows_the_seeded_week(client: TestClient, seeded: Seeded) -> None:
    page = client.get(f"/dashboard/repos/{seeded.widgets_id}?week={W41}", headers=BEARER)
    assert page.status_code == 200
    html = page.text
    assert 'data-week="2026-W41">2026-W41 (05 Oct – 11 Oct 2026)' in html
    assert row_cells(html, 'data-week="2026-W41"') == [
        "2026-W41", "3", "7", "2", "6", "1", "2", "120 s", "300 s", "95,000", "34,000", "2,600",
        "87.0 GPU-s"]
    assert row_cells(html, 'data-week="2026-W38"') == [
        "2026-W38", "1", "2", "1", "2", "1", "1", "240 s", "240 s", "8,000", "0", "400",
        "12.0 GPU-s"]
    assert row_cells(html, 'data-week="2026-W39"')[1:4] == ["0", "0", "0"]
    # Charts: W41's bar stacks 1 critical, 2 high, 2 medium, 2 low; acceptance 17 %.
    for severity, n in (("critical", 1), ("high", 2), ("medium", 2), ("low", 2)):
        assert f'data-series="{severity}" data-label="W41" data-value="{n}"' in html
    assert 'data-series="accepted" data-label="W41" data-value="0.17"' in html
    assert 'data-series="p90" data-label="W41" data-value="300"' in html
    # W39 had no posted finding: both rate lines break there (W38 stands alone).
    acceptance = html.split('id="chart-acceptance"')[1].split("</svg>")[0]
    assert [len(p.split()) for p in re.findall(r'points="([^"]+)"', acceptance)] == [2, 2]
    assert row_cells(html, 'data-rule="naming"') == ["naming", "2", "0", "2", "100 %"]
    # llm over the 8 weeks: F10 (W38, fixed), F8 (W40, fixed), F1, F2 (fixed), F5 (W41).
    assert row_cells(html, 'data-source="llm"') == ["llm", "5", "3", "0", "60 %"]
    assert row_cells(html, 'data-pr="1"')[:4] == ["#1 Add parser", "dev", "merged", "2"]
    # Generated tests of the 8 weeks (all in W41: runs A and C), and PR #1's merged test.
    assert row_cells(html, 'data-fate="kept"') == ["kept (validated)", "2"]
    assert row_cells(html, 'data-fate="failed"') == ["discarded: failed", "2"]
    assert row_cells(html, 'data-fate="no_assertions"') == ["discarded: no assertions", "1"]
    merged = html.split('id="merged-tests"')[1].split("</table>")[0]
    assert "#1 Add parser" in merged
    assert "tests/test_parser.py" in merged
    assert re.search(r'data-figure="reviews">\s*<div class="k">Reviews completed</div>\s*'
                     r'<div class="v">3</div>\s*<div class="d">avg 0.50 &middot; \+2.50', html)


def test_pull_request_page_lists_runs_findings_and_tests(client: TestClient,
                                                         seeded: Seeded) -> None:
    page = client.get(f"/dashboard/repos/{seeded.widgets_id}/pulls/1", headers=BEARER)
    assert page.status_code == 200
    runs = re.findall(r'<section class="run" data-run="(\d+)">', page.text)
    assert runs == [str(seeded.runs["B"]), str(seeded.runs["A"])]  # newest first
    run_a = page.text.split(f'data-run="{seeded.runs["A"]}"')[1]
    assert re.findall(r'data-fingerprint="(fp-F\d+)"', run_a) == ["fp-F1", "fp-F2", "fp-F3",
                                                                    "fp-F4"]
    assert re.findall(r'data-test="([^"]+)"', run_a) == [
        "tests/test_parser.py", "tests/test_a.py", "tests/test_b.py"]
    assert "def test(): ..." in run_a  # the generated code, for operators
    assert "latency 120 s" in run_a
    assert row_cells(page.text, 'data-fingerprint="fp-F3"')[-1] == "dismissed (downvoted)"
    missing = client.get(f"/dashboard/repos/{seeded.widgets_id}/pulls/99", headers=BEARER)
    assert missing.status_code == 404


def test_organisation_page_adds_up_its_repositories(client: TestClient) -> None:
    page = client.get(f"/dashboard/orgs/acme?week={W41}", headers=BEARER)
    assert page.status_code == 200
    assert row_cells(page.text, 'data-week="2026-W41"')[1:3] == ["4", "8"]
    assert 'data-repo="acme/gadgets"' in page.text
    assert 'data-repo="other/thing"' not in page.text
    assert client.get("/dashboard/orgs/nobody", headers=BEARER).status_code == 404


def test_digest_archive_links_the_stored_html(client: TestClient, seeded_url: str) -> None:
    engine = make_engine(seeded_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    try:
        settings = dashboard_settings(seeded_url, digest_to_issue=False)
        for scope in ("acme/widgets", "acme"):
            run_digest(sessions, settings, scope, since=date(2026, 10, 5),
                       now=datetime(2026, 10, 12, 8, tzinfo=UTC))
    finally:
        engine.dispose()
    archive = client.get("/dashboard/digests", headers=BEARER)
    assert re.findall(r'<tr data-scope="([^"]+)" data-week="([^"]+)">', archive.text) == [
        ("acme", "2026-W41"), ("acme/widgets", "2026-W41")]
    digest = client.get("/dashboard/digests/2026-W41/acme/widgets", headers=BEARER)
    assert digest.status_code == 200
    assert "<h1>reviewbot weekly digest: acme/widgets 2026-W41" in digest.text
    assert digest.text.count("<svg") == 4
    assert client.get("/dashboard/digests/2026-W40/acme/widgets",
                      headers=BEARER).status_code == 404


def test_a_short_token_never_signs_anyone_in(caplog: pytest.LogCaptureFixture) -> None:
    tokens = OperatorTokens.of([SecretStr("hunter2"), SecretStr(OPERATOR_TOKEN)], 60)
    assert tokens.matching("hunter2") is None
    assert not tokens.bearer("Bearer hunter2")
    assert tokens.bearer(f"Bearer {OPERATOR_TOKEN}")
    assert "dashboard token ignored: too short" in caplog.text
    assert "hunter2" not in caplog.text
