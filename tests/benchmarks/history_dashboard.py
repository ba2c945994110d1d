"""How long the digest and the dashboard take over a year-sized history on Postgres.

Writes a synthetic history through the real store functions into a fresh Postgres
database (default: 4 repositories x 52 weeks x 12 reviews, 4 findings each, a third
posted, some dismissed or fixed), then times computing a repository's and the
organisation's weekly digest and the dashboard's repository, organisation and PR pages
over HTTP (in-process ASGI), and prints the figures. The database is dropped at the end.

Run: python -m tests.benchmarks.history_dashboard [--weeks 52] [--reviews 12] [--keep NAME]
(`--keep` seeds the database NAME once and reuses it on later runs; drop it by hand.)
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.compute import compute_digest
from bot.digest.run import gpu_rates
from bot.history.db import make_engine, session_factory, upgrade_database
from bot.history.deliveries import record_delivery
from bot.history.enums import Forge, RunStatus, RunTrigger, TestFate
from bot.history.feedback import record_reaction, record_thread_resolved
from bot.history.lifecycle import record_posted_comment
from bot.history.periods import week_of
from bot.history.store import (
    EngineCallRecord,
    GeneratedTestRecord,
    finish_run,
    get_or_create_pull_request,
    get_or_create_repository,
    start_run,
)
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from reviewers.findings import Category, Finding, Severity
from tests.conftest import PG_ADMIN_DSN, PG_URL_TEMPLATE

TOKEN = "benchmark-operator-token-0123456789"  # a throwaway operator token
END = datetime(2026, 10, 12, tzinfo=UTC)
RULES = [("sql-injection", "security", "CWE-89"), ("null-deref", "bug", None),
         ("naming", "style", None), ("n-plus-one", "performance", None),
         ("long-function", "maintainability", None), ("path-traversal", "security", "CWE-22")]


def seed(session: Session, rng: random.Random, repos: int, weeks: int, reviews: int) -> int:
    """Write the synthetic history; returns the number of review runs."""
    comment = delivery = runs = 0
    for r in range(repos):
        repo = get_or_create_repository(session, Forge.GITHUB, f"acme/repo{r}",
                                        external_id=str(r + 1))
        for w in range(weeks):
            monday = END - timedelta(weeks=weeks - w)
            for i in range(reviews):
                number = w * reviews + i + 1
                pr = get_or_create_pull_request(session, repo, number, title=f"PR {number}")
                received = monday + timedelta(hours=rng.randrange(0, 160))
                delivery += 1
                hook, _ = record_delivery(session, Forge.GITHUB, f"d{delivery}",
                                          "pull_request", "opened", now=received)
                run = start_run(session, repo, RunTrigger.OPENED, "0" * 40, f"{delivery:040x}",
                                pr, delivery=hook, now=received)
                findings = []
                for k in range(4):
                    rule, category, cwe = rng.choice(RULES)
                    findings.append(Finding(
                        path=f"src/m{rng.randrange(40)}.py", line=10 + k, end_line=10 + k,
                        severity=rng.choice(list(Severity)), category=Category(category),
                        rule=rule, cwe=cwe, message=f"{rule} here", source="llm",
                        fingerprint=f"{r}-{number}-{k}", confidence=rng.random()))
                finished = received + timedelta(seconds=rng.uniform(30, 600))
                prompt = rng.randrange(5_000, 60_000)
                records = finish_run(
                    session, run, RunStatus.COMPLETED, findings,
                    engine_calls=[EngineCallRecord("http://gpu", "review", prompt,
                                                   rng.randrange(100, 2000),
                                                   rng.randrange(0, prompt), total_s=5.0)],
                    generated_tests=[GeneratedTestRecord("f", "tests/test_x.py", "def test(): ...",
                                                         rng.choice(list(TestFate)))],
                    now=finished)
                runs += 1
                for record in records[: rng.randrange(0, 3)]:
                    comment += 1
                    record_posted_comment(session, forge_comment_id=str(comment), kind="inline",
                                          body="c", finding=record, run=run, now=finished)
                    later = finished + timedelta(hours=1)
                    if rng.random() < 0.3:
                        record_reaction(record, "-1", now=later)
                    elif rng.random() < 0.4:
                        record_thread_resolved(session, record, code_changed=True, now=later)
            session.flush()
    return runs


def timed(action: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, max(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=4)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--reviews", type=int, default=12, help="reviews per repo and week")
    parser.add_argument("--keep", metavar="NAME",
                        help="seed database NAME once and keep it; later runs reuse it")
    args = parser.parse_args()
    name = args.keep or f"reviewbot_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (name,)).fetchone() is not None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL_TEMPLATE.format(name=name)
    try:
        engine = make_engine(url)
        sessions: sessionmaker[Session] = session_factory(engine)
        if not exists:
            upgrade_database(url)
            start = time.perf_counter()
            with sessions() as session:
                runs = seed(session, random.Random(7), args.repos, args.weeks, args.reviews)
                session.commit()
            print(f"seeded {runs} review runs, {runs * 4} findings in "
                  f"{time.perf_counter() - start:.1f} s")
        settings = Settings(database_url=url, dashboard_tokens=[SecretStr(TOKEN)],
                            digest_timezone="UTC")
        week = week_of(END - timedelta(days=1), UTC)
        rates = gpu_rates(settings)
        for scope in ("acme/repo0", "acme"):
            def digest(scope: str = scope) -> None:
                with sessions() as session:
                    compute_digest(session, scope, week, rates)
            median, worst = timed(digest)
            print(f"digest of {scope:<12} {median:7.1f} ms median, {worst:7.1f} ms max")
        app = create_app(settings, sessions=sessions,
                         job_queue=CeleryJobQueue(celery_producer(settings)))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with TestClient(app) as http:
            for label, path in (("repository page", f"/dashboard/repos/1?week={week.monday}"),
                                ("organisation page", f"/dashboard/orgs/acme?week={week.monday}"),
                                ("PR page", "/dashboard/repos/1/pulls/1"),
                                ("home page", "/dashboard/")):
                def get(path: str = path) -> None:
                    assert http.get(path, headers=headers).status_code == 200
                median, worst = timed(get)
                print(f"{label:<18} {median:7.1f} ms median, {worst:7.1f} ms max")
        engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
