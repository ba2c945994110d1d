"""A seeded review history, written through the real store functions, with known figures.

The reference week is ISO week 2026-W41 (Monday 2026-10-05, UTC). acme/widgets has
reviews in W38, W40 and W41 (none in W37 and W39); acme/gadgets one review in W41;
other/thing one review in W41 (outside the `acme` organisation).

Findings of acme/widgets (F = finding, all posted unless said otherwise):
  W38 PR #4 run G: F9  medium style  naming        ruff   src/util.py   👎 09-16 -> dismissed
                   F10 low    bug    off-by-one    llm    src/util.py   resolved 09-17 (fixed)
  W40 PR #3 run E: F8  high   bug    null-deref    llm    src/parser.py resolved 10-06 (fixed)
  W41 PR #1 run A: F1  high   security sql-injection CWE-89  llm    src/db.py     posted
                   F2  medium bug    null-deref    llm    src/parser.py resolved by run B
                   F3  low    style  naming        ruff   src/parser.py 👎 -> dismissed
                   F4  high   security hardcoded-secret CWE-798 bandit src/config.py
                                                                        thread resolved,
                                                                        code unchanged -> dismissed
      PR #1 run B: re-reports F1 and F4
      PR #2 run C: F5  critical security path-traversal CWE-22 llm src/cache.py  posted
                   F6  medium performance n-plus-one llm src/cache.py   open (not posted)
                   F7  low    maintainability long-function ruff src/db.py  posted, 👍
      PR #2 run D: failed (no findings)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.history.deliveries import record_delivery
from bot.history.enums import Forge, PullRequestState, RunStatus, RunTrigger, TestFate
from bot.history.feedback import record_reaction, record_rerun, record_thread_resolved
from bot.history.lifecycle import record_posted_comment
from bot.history.models import FindingRecord, PullRequest, Repository, ReviewRun
from bot.history.store import (
    EngineCallRecord,
    GeneratedTestRecord,
    finish_run,
    get_or_create_pull_request,
    get_or_create_repository,
    start_run,
)
from reviewers.findings import Category, Finding, Severity

WEEK_MONDAY = datetime(2026, 10, 5, tzinfo=UTC).date()


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def finding(key: str, path: str, severity: str, category: str, rule: str, source: str, *,
            cwe: str | None = None, line: int = 10, confidence: float = 0.8) -> Finding:
    return Finding(path=path, line=line, end_line=line, severity=Severity(severity),
                   category=Category(category), rule=rule, message=f"{key}: {rule} in {path}",
                   source=source, fingerprint=f"fp-{key}", cwe=cwe, confidence=confidence)


F = {
    "F1": finding("F1", "src/db.py", "high", "security", "sql-injection", "llm", cwe="CWE-89"),
    "F2": finding("F2", "src/parser.py", "medium", "bug", "null-deref", "llm"),
    "F3": finding("F3", "src/parser.py", "low", "style", "naming", "ruff"),
    "F4": finding("F4", "src/config.py", "high", "security", "hardcoded-secret", "bandit",
                  cwe="CWE-798"),
    "F5": finding("F5", "src/cache.py", "critical", "security", "path-traversal", "llm",
                  cwe="CWE-22", confidence=0.95),
    "F6": finding("F6", "src/cache.py", "medium", "performance", "n-plus-one", "llm"),
    "F7": finding("F7", "src/db.py", "low", "maintainability", "long-function", "ruff"),
    "F8": finding("F8", "src/parser.py", "high", "bug", "null-deref", "llm"),
    "F9": finding("F9", "src/util.py", "medium", "style", "naming", "ruff"),
    "F10": finding("F10", "src/util.py", "low", "bug", "off-by-one", "llm"),
    "F11": finding("F11", "src/api.py", "high", "security", "sql-injection", "bandit",
                   cwe="CWE-89"),
    "F12": finding("F12", "lib/x.py", "critical", "bug", "use-after-free", "llm"),
}


@dataclass
class Seeded:
    """Ids of what the seed wrote, for tests that look rows up."""

    widgets_id: int
    gadgets_id: int
    other_id: int
    findings: dict[str, int]
    runs: dict[str, int]
    pulls: dict[int, int]  # widgets PR number -> pull_requests.id


class _Seeder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.findings: dict[str, FindingRecord] = {}
        self.runs: dict[str, ReviewRun] = {}
        self._comment = 1000
        self._delivery = 0

    def review(self, name: str, repo: Repository, pr: PullRequest, received: datetime,
               latency_s: float, tokens: tuple[int, int, int], found: list[str], *,
               tests: tuple[tuple[str, TestFate], ...] = (), post: tuple[str, ...] = (),
               status: RunStatus = RunStatus.COMPLETED) -> ReviewRun:
        self._delivery += 1
        delivery, _ = record_delivery(self.session, Forge.GITHUB, f"delivery-{self._delivery}",
                                      "pull_request", "synchronize",
                                      repository_full_name=repo.full_name,
                                      pr_number=pr.number, now=received)
        head = f"{self._delivery:040x}"
        run = start_run(self.session, repo, RunTrigger.SYNCHRONIZE, "0" * 40, head, pr,
                        delivery=delivery, now=received + timedelta(seconds=1))
        finished = received + timedelta(seconds=latency_s)
        prompt, cached, completion = tokens
        records = finish_run(
            self.session, run, status, [F[key] for key in found],
            engine_calls=[EngineCallRecord("http://gpu-1", "review", prompt, completion,
                                           cached, total_s=latency_s / 2)],
            generated_tests=[GeneratedTestRecord(f"target_{path}", path, "def test(): ...",
                                                 fate) for path, fate in tests],
            now=finished)
        for key, record in zip(found, records, strict=True):
            self.findings[key] = record
            if key in post:
                self._comment += 1
                record_posted_comment(self.session, forge_comment_id=str(self._comment),
                                      kind="inline", body=f"comment on {key}", finding=record,
                                      run=run, now=finished)
        self.runs[name] = run
        return run


def seed_history(session: Session) -> Seeded:
    """Write the seed described in the module docstring; the caller commits."""
    s = _Seeder(session)
    widgets = get_or_create_repository(session, Forge.GITHUB, "acme/widgets", external_id="1")
    gadgets = get_or_create_repository(session, Forge.GITHUB, "acme/gadgets", external_id="2")
    other = get_or_create_repository(session, Forge.GITHUB, "other/thing", external_id="3")
    pr = {n: get_or_create_pull_request(session, widgets, n, title=title, author="dev")
          for n, title in ((1, "Add parser"), (2, "Refactor cache"), (3, "Fix parser"),
                           (4, "Utilities"))}

    # W38
    s.review("G", widgets, pr[4], at(9, 15, 10), 240, (8000, 0, 400), ["F9", "F10"],
             post=("F9", "F10"))
    record_reaction(s.findings["F9"], "-1", now=at(9, 16, 9))
    record_thread_resolved(session, s.findings["F10"], code_changed=True, now=at(9, 17, 9))
    # W40
    s.review("E", widgets, pr[3], at(9, 29, 10), 180, (10000, 0, 500), ["F8"], post=("F8",))
    # W41
    s.review("A", widgets, pr[1], at(10, 6, 10), 120, (40000, 10000, 1200),
             ["F1", "F2", "F3", "F4"], post=("F1", "F2", "F3", "F4"),
             tests=(("tests/test_parser.py", TestFate.KEPT), ("tests/test_a.py", TestFate.FAILED),
                    ("tests/test_b.py", TestFate.NO_ASSERTIONS)))
    record_thread_resolved(session, s.findings["F8"], code_changed=True, now=at(10, 6, 11))
    record_reaction(s.findings["F3"], "-1", now=at(10, 6, 12))
    run_b = s.review("B", widgets, pr[1], at(10, 7, 9), 300, (30000, 24000, 600), ["F1", "F4"])
    record_rerun(session, run_b, {"src/db.py", "src/parser.py", "src/config.py"},
                 now=at(10, 7, 9, 5))
    record_thread_resolved(session, s.findings["F4"], now=at(10, 8, 9))
    s.review("C", widgets, pr[2], at(10, 9, 14), 90, (20000, 0, 800), ["F5", "F6", "F7"],
             post=("F5", "F7"),
             tests=(("tests/test_cache.py", TestFate.KEPT), ("tests/test_c.py", TestFate.FAILED)))
    record_reaction(s.findings["F7"], "+1", now=at(10, 9, 15))
    s.review("D", widgets, pr[2], at(10, 10, 8), 30, (5000, 0, 0), [], status=RunStatus.FAILED)
    # acme/gadgets and other/thing, W41
    gadget_pr = get_or_create_pull_request(session, gadgets, 1, title="API", author="dev")
    s.review("H", gadgets, gadget_pr, at(10, 6, 11), 600, (50000, 20000, 2000), ["F11"],
             post=("F11",))
    other_pr = get_or_create_pull_request(session, other, 7, title="Other", author="dev")
    s.review("I", other, other_pr, at(10, 6, 12), 60, (1000, 0, 100), ["F12"])
    # PR #1 was merged on 2026-10-08 (its last update).
    pr[1].state = PullRequestState.MERGED
    pr[1].updated_at = at(10, 8, 16)
    session.flush()
    return Seeded(widgets.id, gadgets.id, other.id,
                  {key: row.id for key, row in s.findings.items()},
                  {key: row.id for key, row in s.runs.items()},
                  {n: row.id for n, row in pr.items()})
