"""The weekly digest of the seeded history (tests/history_queries/seed.py), by hand.

Week 2026-W41 of acme/widgets against the average of W37-W40. The seed's previous weeks:
W37 nothing; W38 run G (240 s, 8000/0/400 tokens, F9 dismissed + F10 fixed, both posted);
W39 nothing; W40 run E (180 s, 10000/0/500 tokens, F8 posted, resolved in W41).
GPU rates in these tests: 1000 prefill and 100 decode tokens per second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.compute import compute_digest
from bot.digest.deliver import ChatWebhookUnavailable, DigestDeliveryError
from bot.digest.render_html import render_html
from bot.digest.render_markdown import render_markdown
from bot.digest.run import gpu_rates, run_digest
from bot.forges.github import GitHubForge
from bot.history.feedback import record_reaction
from bot.history.models import Digest, FindingRecord
from bot.history.periods import Week
from tests.digest.conftest import ChatReceiver, digest_settings
from tests.forgestandin.fixtures import AppKey
from tests.forgestandin.github import GitHubStandin
from tests.gitbuilder import GitRepo

pytestmark = pytest.mark.postgres

W41 = Week(date(2026, 10, 5), UTC)
NOW = datetime(2026, 10, 12, 8, 0, tzinfo=UTC)  # Monday after W41, when beat runs


def figures(session: Session, scope: str) -> dict[str, tuple[float | None, float | None]]:
    data = compute_digest(session, scope, W41, gpu_rates(digest_settings("sqlite://")), now=NOW)
    return {f.key: (f.current, f.baseline) for f in data.figures}


def test_week_figures_against_the_four_weeks_before(reader: sessionmaker[Session]) -> None:
    with reader() as session:
        got = figures(session, "acme/widgets")
    assert got["reviews"] == (3, 0.5)  # A, B, C completed (D failed); G, E before
    assert got["introduced"] == (7, 0.75)  # F1-F7; (2 + 1) / 4
    assert got["fixed"] == (2, 0.25)  # F2, F8; F10 in W38
    assert got["acceptance_rate"] == (pytest.approx(1 / 6), pytest.approx(0.75))  # W38 .5, W40 1
    assert got["dismissal_rate"] == (pytest.approx(2 / 6), pytest.approx(0.25))  # W38 .5, W40 0
    assert got["latency_p50"] == (120.0, 210.0)  # p50 of 90/120/300; (240 + 180) / 2
    assert got["latency_p90"] == (300.0, 210.0)
    assert got["prompt_tokens"] == (95000, 4500)  # (8000 + 10000) / 4
    assert got["cached_tokens"] == (34000, 0)
    assert got["completion_tokens"] == (2600, 225)  # (400 + 500) / 4
    assert got["gpu_seconds"] == (pytest.approx(87.0), pytest.approx(6.75))  # (12 + 15) / 4
    assert got["tests_kept"] == (2, 0)
    assert got["tests_discarded"] == (3, 0)


def test_the_organisation_digest_adds_its_repositories(reader: sessionmaker[Session]) -> None:
    with reader() as session:
        got = figures(session, "acme")
    assert got["reviews"] == (4, 0.5)  # + gadgets' run H
    assert got["introduced"] == (8, 0.75)  # + F11
    assert got["latency_p90"] == (600.0, 210.0)  # nearest rank of 90/120/300/600
    assert got["prompt_tokens"] == (145000, 4500)  # + 50000


def test_markdown_lists_open_findings_noisy_rules_and_merged_tests(
        reader: sessionmaker[Session]) -> None:
    with reader() as session:
        data = compute_digest(session, "acme/widgets", W41,
                              gpu_rates(digest_settings("sqlite://")), now=NOW)
    md = render_markdown(data)
    assert md.startswith("## reviewbot weekly digest: acme/widgets 2026-W41 "
                         "(05 Oct – 11 Oct 2026)\n")
    assert "| Reviews completed | 3 | 0.50 | +2.50 |" in md
    assert "| Acceptance rate | 17 % | 75 % | −58 pp |" in md
    assert "| Review latency p50 | 120 s | 210 s | −90 s |" in md
    assert "| GPU-seconds (estimated) | 87.0 GPU-s | 6.8 GPU-s | +80.2 GPU-s |" in md
    top = md.split("### Most important open findings\n\n")[1].split("\n\n")[0].splitlines()
    assert [line.split("**")[1] for line in top] == ["critical", "high", "medium"]
    assert "`src/cache.py:10` `path-traversal` CWE-22 (PR #2): F5" in top[0]
    assert "`src/db.py:10` `sql-injection` CWE-89 (PR #1): F1" in top[1]
    assert "| `naming` | 2 | 2 | 100 % |" in md
    assert "| `hardcoded-secret` | 1 | 1 | 100 % |" in md
    assert "- PR #1 Add parser: `tests/test_parser.py`" in md
    assert "Generated tests this week: 2 kept, 3 discarded (failed 2, no_assertions 1)." in md
    assert "- Introduced: 🟥 critical 1 · 🟧 high 2 · 🟨 medium 2 · 🟦 low 2" in md
    html = render_html(data)
    assert html.count('data-chart="stacked-bars"') == 2
    assert 'data-series="critical" data-label="W41" data-value="1"' in html


def test_model_text_cannot_ping_people_or_break_the_table(
        sessions: sessionmaker[Session], seeded_url: str) -> None:
    with sessions() as session:
        f5 = session.query(FindingRecord).filter_by(fingerprint="fp-F5").one()
        f5.message = "@security-team | ignore\nall <script>alert(1)</script>"
        session.commit()
        data = compute_digest(session, "acme/widgets", W41,
                              gpu_rates(digest_settings(seeded_url)), now=NOW)
    md = render_markdown(data)
    line = next(x for x in md.splitlines() if "path-traversal" in x)
    assert "@\u200bsecurity-team \\| ignore all &lt;script&gt;" in line
    assert "<script>" not in render_html(data)


@pytest.fixture
def github_forge(github_standin: GitHubStandin, github_app_key: AppKey,
                 git_repo: GitRepo) -> GitHubForge:
    git_repo.commit("init", {"README.md": "widgets\n"})
    github_standin.add_repo("acme/widgets", git_repo.root)
    return GitHubForge("4242", github_app_key.private_pem, github_standin.base_url,
                       write_interval_s=0)


def test_rerun_updates_the_same_issue_and_posts_to_chat(
        sessions: sessionmaker[Session], seeded_url: str, github_forge: GitHubForge,
        github_standin: GitHubStandin, chat: ChatReceiver) -> None:
    settings = digest_settings(seeded_url, digest_chat_webhook_url=SecretStr(chat.url))
    first = run_digest(sessions, settings, "acme/widgets", since=date(2026, 10, 7), now=NOW,
                       publisher=github_forge)
    # Feedback arrives after the first run: F1 is dismissed; the re-run edits the issue.
    with sessions() as session:
        f1 = session.query(FindingRecord).filter_by(fingerprint="fp-F1").one()
        record_reaction(f1, "-1", now=datetime(2026, 10, 12, 9, tzinfo=UTC))
        session.commit()
    second = run_digest(sessions, settings, "acme/widgets", since=date(2026, 10, 5), now=NOW,
                        publisher=github_forge)
    github_forge.close()

    assert first.issue is not None
    assert first.issue == second.issue
    issues = github_standin.repos["acme/widgets"].issues
    assert list(issues) == [first.issue.number]
    issue = issues[first.issue.number]
    assert issue["title"] == ("reviewbot weekly digest: acme/widgets 2026-W41 "
                              "(05 Oct – 11 Oct 2026)")
    assert [label["name"] for label in issue["labels"]] == ["reviewbot-digest"]
    assert issue["body"] == second.markdown
    assert "| Dismissal rate | 50 % | 25 % | +25 pp |" in issue["body"]  # F3, F4 and now F1
    assert "[Open the dashboard](https://bot.example/dashboard/digests/2026-W41/acme/widgets)" \
        in issue["body"]
    # One stored digest for the week, updated in place, knowing its issue.
    with sessions() as session:
        rows = session.query(Digest).filter_by(scope="acme/widgets").all()
        assert [(r.id, r.forge_issue_number) for r in rows] == [(first.digest_id,
                                                                 first.issue.number)]
        assert rows[0].markdown == second.markdown
        assert rows[0].html is not None
        assert "<svg" in rows[0].html
    # Both runs reached the chat webhook with a Slack-style payload.
    assert len(chat.received) == 2
    payload = chat.received[-1]
    assert payload["text"].startswith("reviewbot weekly digest: acme/widgets 2026-W41")
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert "*Reviews completed*\n3 (+2.50 vs avg)" in fields
    assert "F5: path-traversal" in payload["blocks"][2]["text"]["text"]


def test_chat_refusals_are_reported_and_the_digest_is_kept(
        sessions: sessionmaker[Session], seeded_url: str, chat: ChatReceiver) -> None:
    settings = digest_settings(seeded_url, digest_chat_webhook_url=SecretStr(chat.url))
    chat.status = 400
    with pytest.raises(DigestDeliveryError, match="400 invalid_payload") as refused:
        run_digest(sessions, settings, "acme/widgets", since=date(2026, 10, 5), now=NOW)
    assert chat.url not in str(refused.value)  # the webhook URL is a secret
    chat.status = 503
    with pytest.raises(ChatWebhookUnavailable, match="503"):
        run_digest(sessions, settings, "acme/widgets", since=date(2026, 10, 5), now=NOW)
    with sessions() as session:
        assert session.query(Digest).filter_by(scope="acme/widgets").count() == 1
