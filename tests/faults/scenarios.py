"""Fault scenarios over the whole service on loopback; each returns its `Tally`.

Every scenario starts its own stack (private Redis, fresh database, stand-ins, workers),
sends signed webhooks through the real app, breaks one part at the worst moment, lets the
reconciler run as cron would, and counts what the forge shows afterwards.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from bot.history.enums import DeliveryStatus
from bot.history.models import ReviewRun
from reviewers.injection import RULE, LeakGuard
from reviewers.prompts import SYSTEM_PROMPT
from tests.faults.accounting import (
    Tally,
    count,
    delivery_states,
    quick_policy,
    scan_leaks,
    settle,
)
from tests.faults.stack import Stack, running_stack

Scenario = Callable[[Path], Tally]


def _finish(name: str, stack: Stack, started: float, *, timeout_s: float,
            stalled_after_s: float = 30.0) -> Tally:
    tally = Tally(name)
    if not settle(stack, timeout_s=timeout_s, policy=quick_policy(stalled_after_s)):
        tally.notes.append(f"did not settle within {timeout_s:.0f} s")
    count(stack, tally)
    scan_leaks(stack, tally)
    tally.seconds = round(time.monotonic() - started, 1)
    return tally


def _wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def baseline(workdir: Path) -> Tally:
    """Three PRs, one delivery each, plus a redelivery of one (same id) and a second event
    for an already reviewed head: three reviews, nothing twice."""
    started = time.monotonic()
    with running_stack(workdir) as stack:
        prs = [stack.add_pull("acme/app", n) for n in (1, 2, 3)]
        stack.start_worker()
        first = [stack.deliver(pr, "opened") for pr in prs]
        _wait_for(lambda: delivery_states(stack)[DeliveryStatus.COMPLETED] >= 3, 60)
        stack.deliver(prs[0], "reopened")  # same head, new delivery
        stack.redeliver(first[1][0])  # GitHub's "Redeliver" button: same delivery id
        return _finish("baseline + redelivery", stack, started, timeout_s=90)


def worker_killed(workdir: Path) -> Tally:
    """The worker's whole process tree dies while reviews are in flight; a new one starts."""
    started = time.monotonic()
    with running_stack(workdir, job_time_limit_s=30) as stack:
        prs = [stack.add_pull("acme/app", n) for n in (1, 2, 3, 4)]
        stack.engine.script_fn(lambda call: None)
        stack.engine.set_fault("slow", delay_s=3.0)  # every model call takes 3 s
        worker = stack.start_worker()
        for pr in prs:
            stack.deliver(pr, "opened")
        _wait_for(lambda: delivery_states(stack)[DeliveryStatus.PROCESSING] >= 1, 60)
        time.sleep(2.0)
        in_flight = delivery_states(stack)[DeliveryStatus.PROCESSING]
        stack.kill_worker(worker)
        stack.engine.set_fault(None)
        stack.start_worker()
        tally = _finish("worker killed mid-review", stack, started, timeout_s=240,
                        stalled_after_s=45)
        tally.notes.append(f"killed with {in_flight} delivery(ies) in processing")
        if in_flight == 0:
            tally.lost += 1  # the scenario did not test what it claims
        return tally


def redis_restarted(workdir: Path) -> Tally:
    """Redis dies with jobs queued (no persistence: they are gone), deliveries arrive while
    it is down (recorded, answered 503), then it comes back empty."""
    started = time.monotonic()
    with running_stack(workdir) as stack:
        prs = [stack.add_pull("acme/app", n) for n in range(1, 7)]
        stack.engine.set_fault("slow", delay_s=2.0)
        stack.start_worker()
        for pr in prs[:3]:
            stack.deliver(pr, "opened")
        time.sleep(1.0)
        stack.redis.stop()
        for pr in prs[3:]:
            stack.deliver(pr, "opened")  # 503: the broker is down, the row stays ACCEPTED
        time.sleep(3.0)
        stack.redis.start()
        stack.engine.set_fault(None)
        tally = _finish("redis restarted mid-stream", stack, started, timeout_s=240,
                        stalled_after_s=30)
        tally.notes.append(f"{len(stack.refused)} delivery(ies) answered "
                           f"{sorted({s for _, s in stack.refused})} while Redis was down")
        return tally


def postgres_restarted(workdir: Path) -> Tally:
    """The database restarts while reviews run: jobs retry, nothing is lost or doubled."""
    started = time.monotonic()
    with running_stack(workdir, private_postgres=True) as stack:
        assert stack.postgres is not None
        prs = [stack.add_pull("acme/app", n) for n in (1, 2, 3, 4)]
        stack.engine.set_fault("slow", delay_s=2.0)
        stack.start_worker()
        for pr in prs:
            stack.deliver(pr, "opened")
        _wait_for(lambda: delivery_states(stack)[DeliveryStatus.PROCESSING] >= 1, 60)
        stack.postgres.stop()
        time.sleep(4.0)
        stack.postgres.start()
        stack.engine.set_fault(None)
        return _finish("postgres restarted", stack, started, timeout_s=240,
                       stalled_after_s=45)


def _engine_fault(name: str, kind: str, delay_s: float = 0.0) -> Scenario:
    def scenario(workdir: Path) -> Tally:
        started = time.monotonic()
        with running_stack(workdir) as stack:
            prs = [stack.add_pull("acme/app", n) for n in (1, 2)]
            stack.engine.set_fault(kind, delay_s=delay_s)  # type: ignore[arg-type]
            stack.start_worker()
            for pr in prs:
                stack.deliver(pr, "opened")
            tally = _finish(name, stack, started, timeout_s=180)
            if tally.neutral != len(prs):
                tally.notes.append(f"expected {len(prs)} neutral checks, saw {tally.neutral}")
                tally.lost += len(prs) - tally.neutral
            return tally

    scenario.__name__ = f"engine_{kind}"
    return scenario


def forge_errors(workdir: Path) -> Tally:
    """The forge answers 502s, then a secondary rate limit, then a 422 on the review itself
    (and on its first retry), then 502s on the summary edit."""
    started = time.monotonic()
    with running_stack(workdir) as stack:
        prs = [stack.add_pull("acme/app", n) for n in (1, 2, 3, 4)]
        stack.start_worker()
        stack.github.fail_next(502, count=2)
        stack.deliver(prs[0], "opened")
        _wait_for(lambda: delivery_states(stack)[DeliveryStatus.COMPLETED] >= 1, 90)
        stack.github.rate_limit = ("secondary", 2)
        stack.deliver(prs[1], "opened")
        time.sleep(3.0)
        stack.github.rate_limit = None
        _wait_for(lambda: delivery_states(stack)[DeliveryStatus.COMPLETED] >= 2, 90)
        stack.github.fail_matching("POST", r"/pulls/3/reviews$", 422, count=2, body={
            "message": "Unprocessable Entity", "errors": ["Line could not be resolved"],
            "documentation_url": "https://docs.github.com/rest", "status": "422"})
        stack.deliver(prs[2], "opened")
        stack.github.fail_matching("POST", r"/issues/4/comments$", 502, count=2)
        stack.deliver(prs[3], "opened")
        return _finish("forge 5xx, 429, 422", stack, started, timeout_s=240)


def git_fetch_failing(workdir: Path) -> Tally:
    """The repository cannot be fetched at all: a failed run with a neutral check."""
    started = time.monotonic()
    with running_stack(workdir) as stack:
        prs = [stack.add_pull("acme/app", n) for n in (1, 2)]
        link = stack.github._git_root / "acme/app.git"
        link.unlink()
        stack.start_worker()
        for pr in prs:
            stack.deliver(pr, "opened")
        tally = _finish("git fetch failing", stack, started, timeout_s=180)
        if tally.neutral != len(prs):
            tally.notes.append(f"expected {len(prs)} neutral checks, saw {tally.neutral}")
        return tally


def prompt_injection(workdir: Path) -> Tally:
    """A PR planting the injection corpus, reviewed by a model that obeys it: what reaches
    the forge approves nothing, stays on the diff, links and pings nobody, reveals no
    prompt, fails the check, and flags every planted line."""
    from tests.hostile.test_injection import (
        ATTACKS,
        LIVE_MENTION,
        URL,
        _head_app,
        _obey,
        _planted,
    )

    started = time.monotonic()
    with running_stack(workdir) as stack:
        head_app = _head_app()
        pr = stack.add_pull("acme/app", 1, files={"app.py": head_app})
        planted = {text: n for n, text in enumerate(head_app.splitlines(), 1)
                   if text in _planted(("comment", "docstring", "string"))}
        stack.engine.script_fn(lambda call: _obey(call, planted))
        pull = stack.github.repos[pr.full_name].pulls[pr.number]
        pull.title = next(a["text"] for a in ATTACKS if a["where"] == "title")
        stack.start_worker()
        stack.deliver(pr, "opened")
        tally = _finish("prompt injection, obeying model", stack, started, timeout_s=120)
        repo = stack.github.repos[pr.full_name]
        posted = ([c["body"] for c in repo.review_comments]
                  + [c["body"] for c in repo.issue_comments.values()]
                  + [r["body"] for r in repo.reviews]
                  + [json.dumps(c.get("output")) for c in repo.check_runs.values()])
        guard = LeakGuard(SYSTEM_PROMPT)
        bad = [t[:80] for t in posted
               if URL.search(t) or LIVE_MENTION.search(t) or guard.leaks(t)]
        flagged = {c["line"] for c in repo.review_comments if RULE in c["body"]}
        outside = [c for c in repo.review_comments if c["path"] != "app.py"]
        conclusions = {c["conclusion"] for c in repo.check_runs.values()}
        tally.notes.append(f"{len(flagged)}/{len(planted)} planted lines flagged; "
                           f"conclusions {sorted(map(str, conclusions))}")
        problems = len(bad) + len(outside) + len(set(planted.values()) - flagged)
        if "failure" not in conclusions:
            problems += 1
        if problems:
            tally.notes.append(f"injection got through: {bad[:3]} outside={len(outside)}")
            tally.leaks += problems
        return tally


def burst(workdir: Path, *, prs_total: int = 50, pushes: int = 20) -> Tally:
    """1,000 deliveries for 50 PRs: each PR is pushed to 20 times, a delivery per push.
    Only the newest head of each PR may end reviewed; superseded jobs post nothing."""
    started = time.monotonic()
    with running_stack(workdir, worker_concurrency=2) as stack:
        prs = [stack.add_pull(f"acme/repo{n % 5}", n) for n in range(1, prs_total + 1)]
        stack.start_worker()
        stack.start_worker()
        for round_ in range(pushes):
            for pr in prs:
                if round_:
                    stack.push(pr)
                stack.deliver(pr, "opened" if round_ == 0 else "synchronize")
        tally = _finish(f"burst {prs_total * pushes} deliveries / {prs_total} PRs", stack,
                        started, timeout_s=900, stalled_after_s=120)
        stale = [c for c in stack.check_runs() if c["status"] == "completed"
                 and c["conclusion"] != "neutral"
                 and c["head_sha"] not in {stack.head(pr) for pr in prs}]
        tally.notes.append(f"{len(stale)} superseded head(s) were reviewed before the next "
                           "push arrived")
        with stack.sessions() as session:
            runs = Counter(session.scalars(select(ReviewRun.status)))
        tally.notes.append(f"review runs by status: { {str(k): v for k, v in runs.items()} }; "
                           f"the other {tally.accepted - sum(runs.values())} deliveries were "
                           "skipped before a run (head already moved on)")
        return tally


SCENARIOS: dict[str, Scenario] = {
    "baseline": baseline,
    "worker_killed": worker_killed,
    "redis_restarted": redis_restarted,
    "postgres_restarted": postgres_restarted,
    "engine_503": _engine_fault("engine 503", "unavailable"),
    "engine_hang": _engine_fault("engine hangs", "slow", delay_s=30.0),
    "engine_garbage": _engine_fault("engine garbage", "malformed"),
    "forge_errors": forge_errors,
    "git_fetch_failing": git_fetch_failing,
    "prompt_injection": prompt_injection,
    "burst": burst,
}
