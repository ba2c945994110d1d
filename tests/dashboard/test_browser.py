"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against the
production app under a real uvicorn server on loopback: sign in, read the seeded figures off
the charts and tables, follow a PR link and the digest archive, and keep screenshots under
test-artifacts/.

The expected figures are the seed's hand-computed ones (tests/history_queries/seed.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright import sync_api

from bot.digest.run import run_digest
from bot.history.db import make_engine, session_factory
from bot.webhooks.asgi import build_app
from tests.conftest import REPO_ROOT
from tests.dashboard.conftest import OPERATOR_TOKEN, dashboard_settings
from tests.history_queries.seed import Seeded

pytestmark = pytest.mark.postgres

CHROMIUM = Path(os.environ.get("REVIEWBOT_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("REVIEWBOT_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts"))
START_TIMEOUT_S = 20.0

@pytest.fixture
def server(seeded_url: str) -> Iterator[str]:
    """The production app (`bot.webhooks.asgi.build_app`) served by uvicorn on loopback.

    In a thread of the test process: the app's modules are imported once per session.
    """
    settings = dashboard_settings(seeded_url)
    server = uvicorn.Server(uvicorn.Config(build_app(settings), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the dashboard server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def page(server: str) -> Iterator[sync_api.Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} (scripts/setup-browser installs it)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          base_url=server)
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def cells(row: sync_api.Locator) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


@pytest.fixture
def stored_digest(seeded_url: str) -> None:
    """The week's digest of acme/widgets, stored as the weekly task would."""
    engine = make_engine(seeded_url)
    try:
        run_digest(session_factory(engine), dashboard_settings(seeded_url, digest_to_issue=False),
                   "acme/widgets", since=date(2026, 10, 5),
                   now=datetime(2026, 10, 12, 8, tzinfo=UTC))
    finally:
        engine.dispose()


@pytest.mark.usefixtures("stored_digest")
def test_operator_signs_in_and_reads_the_seeded_history(page: sync_api.Page,
                                                        seeded: Seeded) -> None:
    p = page
    expect = sync_api.expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    repo_page = f"/dashboard/repos/{seeded.widgets_id}?week=2026-10-07"

    p.goto(repo_page)
    expect(p.locator("h1")).to_have_text("reviewbot dashboard")  # sent to sign in
    assert "acme/widgets" not in p.content()
    p.fill("#token", "not-the-token")
    p.click("button[type=submit]")
    expect(p.get_by_role("alert")).to_have_text("That token is not an operator token.")
    p.fill("#token", OPERATOR_TOKEN)
    p.click("button[type=submit]")

    expect(p.locator("h1")).to_have_text("acme/widgets")  # back where we were going
    assert p.url.endswith(repo_page)
    expect(p.locator("[data-figure=reviews] .v")).to_have_text("3")
    expect(p.locator("[data-figure=reviews] .d")).to_have_text("avg 0.50 · +2.50")
    expect(p.locator("[data-figure=acceptance_rate] .v")).to_have_text("17 %")
    assert cells(p.locator("#weekly tr[data-week='2026-W41']")) == [
        "2026-W41", "3", "7", "2", "6", "1", "2", "120 s", "300 s", "95,000", "34,000", "2,600",
        "87.0 GPU-s"]

    # The findings chart draws W41's stack in proportion: high (2) twice critical (1).
    chart = p.locator("#chart-findings svg")
    expect(chart).to_be_visible()
    bars = {s: chart.locator(f"rect[data-series={s}][data-label=W41]")
            for s in ("critical", "high", "medium", "low")}
    assert {s: bar.get_attribute("data-value") for s, bar in bars.items()} == {
        "critical": "1", "high": "2", "medium": "2", "low": "2"}
    critical, high = (bars[s].bounding_box() for s in ("critical", "high"))
    assert critical is not None
    assert high is not None
    assert critical["height"] > 5
    assert high["height"] == pytest.approx(2 * critical["height"], rel=0.02)
    assert p.locator("#chart-findings svg rect[data-label=W39]").count() == 0  # no review
    latency = p.locator("#chart-latency circle[data-series=p50][data-label=W41]")
    assert latency.get_attribute("data-value") == "120"
    assert latency.locator("title").text_content() == "W41 p50: 120 s"
    top = p.locator("#top-open tr").all()[1:]
    assert [cells(r)[0] for r in top] == ["critical", "high", "medium"]
    p.screenshot(path=str(ARTIFACTS / "dashboard-repository.png"), full_page=True)

    p.click("#pulls a:has-text('#1 Add parser')")
    expect(p.locator("h1")).to_have_text("#1 Add parser")
    assert p.locator("section.run").count() == 2
    first_test = p.locator(f"section[data-run='{seeded.runs['A']}'] tr[data-test] summary").first
    first_test.click()
    expect(p.locator(f"section[data-run='{seeded.runs['A']}'] pre.code").first).to_be_visible()
    p.screenshot(path=str(ARTIFACTS / "dashboard-pull-request.png"), full_page=True)

    p.click("header >> text=Digests")
    expect(p.locator("h1")).to_have_text("Digest archive")
    p.click("tr[data-scope='acme/widgets'] >> text=2026-W41")
    expect(p.locator("h1")).to_have_text(
        "reviewbot weekly digest: acme/widgets 2026-W41 (05 Oct – 11 Oct 2026)")
    expect(p.locator("[data-figure=introduced] .v")).to_have_text("7")
    assert p.locator("svg.chart").count() == 4
    p.screenshot(path=str(ARTIFACTS / "digest-page.png"), full_page=True)
    p.go_back()
    p.click("text=Sign out")
    expect(p.locator("h1")).to_have_text("reviewbot dashboard")
    p.goto(repo_page)
    expect(p.locator("h1")).to_have_text("reviewbot dashboard")  # the session is gone
