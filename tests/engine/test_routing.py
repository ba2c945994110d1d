"""Prefix affinity, spill on overload and on failure, priority at the server."""

from __future__ import annotations

import asyncio

import httpx

from reviewers.engine import Priority, RoutingPolicy
from reviewers.engine.routing import rendezvous_order
from tests.engine.helpers import MODEL, pool_for, review_request
from tests.standin import Reply

REPOS = [f"org/repo{i}" for i in range(12)]


def test_rendezvous_moves_only_the_keys_of_a_removed_replica() -> None:
    urls = [f"http://gpu{i}:8000" for i in range(4)]
    before = {key: rendezvous_order(key, urls)[0] for key in REPOS * 4}
    after = {key: rendezvous_order(key, urls[:3])[0] for key in REPOS * 4}
    moved = {key for key in before if before[key] != after[key]}
    assert moved == {key for key in before if before[key] == urls[3]}
    assert len(set(before.values())) > 1


async def test_calls_of_a_repository_stay_on_one_replica(vllm_standin) -> None:
    servers = [vllm_standin() for _ in range(3)]
    pool = pool_for(*(server.url for server in servers))
    try:
        results = await asyncio.gather(*(
            pool.chat(review_request(repo, task), affinity_key=repo)
            for repo in REPOS for task in ("review", "security", "tests")
        ))
    finally:
        await pool.aclose()
    by_repo: dict[str, set[str]] = {}
    for result in results:
        by_repo.setdefault(result.record.affinity_key, set()).add(result.replica)
    assert all(replicas == {pool.preferred_replica(repo)} for repo, replicas in by_repo.items())
    # confirmed at the servers: each saw every call of its repositories and no other
    for server in servers:
        mine = {repo for repo in REPOS if pool.preferred_replica(repo) == server.url}
        seen = {r.last_message.split("Diff of ")[1].split(":")[0] for r in server.requests}
        assert seen == mine
        assert len(server.requests) == 3 * len(mine)
    assert sum(1 for server in servers if server.requests) >= 2
    assert not any(result.record.spilled for result in results)


async def test_spill_when_preferred_replica_fails_and_return_after(vllm_standin) -> None:
    servers = [vllm_standin(), vllm_standin()]
    pool = pool_for(*(server.url for server in servers), breaker_failures=1)
    repo = "org/app"
    preferred = next(s for s in servers if s.url == pool.preferred_replica(repo))
    other = next(s for s in servers if s is not preferred)
    try:
        preferred.set_fault("unavailable")  # /health 503 and chat 503, as a dead engine
        spilled = await pool.chat(review_request(repo), affinity_key=repo)
        again = await pool.chat(review_request(repo, "security"), affinity_key=repo)
        assert spilled.replica == again.replica == other.url
        assert again.record.spilled
        assert again.record.attempts == 1
        preferred.set_fault(None)
        await asyncio.sleep(0.25)  # breaker cool-down, then a /health probe closes it
        back = await pool.chat(review_request(repo, "tests"), affinity_key=repo)
    finally:
        await pool.aclose()
    assert back.replica == preferred.url
    assert not back.record.spilled
    assert len(preferred.requests) == 2  # the one failed attempt, then the return


async def test_spill_when_preferred_replica_queue_is_over_the_bound(vllm_standin) -> None:
    servers = [vllm_standin(max_num_seqs=1), vllm_standin(max_num_seqs=1)]
    pool = pool_for(*(server.url for server in servers), max_waiting=1)
    repo = "org/busy"
    preferred = next(s for s in servers if s.url == pool.preferred_replica(repo))
    preferred.script(*[Reply(content={"findings": []}, delay_s=0.15)] * 4)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "other client"}],
            "max_tokens": 5}
    async with httpx.AsyncClient() as other_client:
        load = [asyncio.create_task(
            other_client.post(f"{preferred.url}/v1/chat/completions", json=body, timeout=10))
            for _ in range(4)]
        while preferred.metrics()["vllm:num_requests_waiting"] < 3:
            await asyncio.sleep(0.01)
        try:
            result = await pool.chat(review_request(repo), affinity_key=repo)
        finally:
            await pool.aclose()
        await asyncio.gather(*load)
    assert result.replica != preferred.url
    assert result.record.spilled


async def test_round_robin_policy_ignores_affinity(vllm_standin) -> None:
    servers = [vllm_standin(), vllm_standin()]
    pool = pool_for(*(s.url for s in servers), routing=RoutingPolicy.ROUND_ROBIN)
    try:
        results = [await pool.chat(review_request("org/one", t), affinity_key="org/one")
                   for t in ("a", "b", "c", "d")]
    finally:
        await pool.aclose()
    assert {r.replica for r in results} == {s.url for s in servers}


async def test_priority_order_is_observed_at_the_server(vllm_standin) -> None:
    server = vllm_standin(scheduling_policy="priority", max_num_seqs=1, time_scale=0.002)
    server.script(Reply(content={"findings": []}, delay_s=1.5), marker="blocker")
    pool = pool_for(server.url, priority_scheduling=True)
    try:
        blocker = asyncio.create_task(
            pool.chat(review_request("org/x", "blocker"), affinity_key="org/x"))
        while not server.requests:
            await asyncio.sleep(0.005)
        calls = []
        for priority in (Priority.DIGEST, Priority.REVIEW, Priority.INTERACTIVE) * 2:
            calls.append(asyncio.create_task(pool.chat(
                review_request("org/x", f"{priority.name} {len(calls)}"),
                affinity_key="org/x", priority=priority)))
            while len(server.requests) < len(calls) + 1:  # arrival order: digest first
                await asyncio.sleep(0.005)
        # all six queue behind the blocker, which holds the only sequence slot
        assert server.requests[0].finished_at is None
        await asyncio.gather(blocker, *calls)
    finally:
        await pool.aclose()
    assert [r.priority for r in server.requests[1:]] == [1, 0, -1, 1, 0, -1]
    done = sorted(server.requests[1:], key=lambda r: r.finished_at or 0.0)
    assert [r.priority for r in done] == [-1, -1, 0, 0, 1, 1]
    assert all("DIGEST" in r.last_message for r in done if r.priority == 1)


async def test_priority_is_not_sent_to_a_fcfs_server(vllm_standin) -> None:
    server = vllm_standin()  # fcfs: vLLM would take a priority and ignore it
    pool = pool_for(server.url, priority_scheduling=False)
    try:
        result = await pool.chat(review_request("org/x"), affinity_key="org/x",
                                 priority=Priority.INTERACTIVE)
    finally:
        await pool.aclose()
    assert result.parsed
    assert "priority" not in server.requests[0].body


async def test_fcfs_server_accepts_priority_and_ignores_it_like_vllm(vllm_standin) -> None:
    """vLLM 0.32 without `--scheduling-policy priority` takes the field and serves FCFS
    (checked against the real server: tests/conformance/FACTS.md)."""
    server = vllm_standin(max_num_seqs=1, time_scale=0.002)
    server.script(Reply(content="OK", delay_s=0.3), marker="blocker")
    async with httpx.AsyncClient(base_url=server.url) as client:
        async def ask(text: str, priority: int) -> httpx.Response:
            return await client.post("/v1/chat/completions", json={
                "model": MODEL, "priority": priority,
                "messages": [{"role": "user", "content": text}]})

        blocker = asyncio.create_task(ask("blocker", 0))
        while not server.requests:
            await asyncio.sleep(0.005)
        early = asyncio.create_task(ask("early", 10))
        await asyncio.sleep(0.02)
        late = await ask("late", -10)
        answers = [await blocker, await early, late]
    assert [a.status_code for a in answers] == [200, 200, 200]
    done = sorted(server.requests, key=lambda r: r.finished_at or 0.0)
    assert [r.last_message for r in done] == ["blocker", "early", "late"]


async def test_overflow_goes_to_the_keys_next_replica_not_the_least_loaded(vllm_standin) -> None:
    """Spilled calls of a repository all land on one second replica, so its prefix warms
    there once, even when a third replica is idler."""
    servers = [vllm_standin(max_num_seqs=1) for _ in range(3)]
    pool = pool_for(*(server.url for server in servers), max_waiting=1)
    repo = "org/busy"
    by_url = {server.url: server for server in servers}
    first, second, third = (by_url[url] for url in rendezvous_order(repo, list(by_url)))
    backlog = ((first, 10), (second, 2))  # first stays over the bound for ~3 s
    for server, queued in backlog:
        server.script(*[Reply(content="busy", delay_s=0.3)] * queued, marker="other client")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "other client"}],
            "max_tokens": 5}
    async with httpx.AsyncClient() as other_client:
        load = [asyncio.create_task(other_client.post(
            f"{server.url}/v1/chat/completions", json=body, timeout=10))
            for server, queued in backlog for _ in range(queued)]
        while (first.metrics()["vllm:num_requests_waiting"] < 3
               or second.metrics()["vllm:num_requests_waiting"] < 1):
            await asyncio.sleep(0.01)
        try:
            results = [await pool.chat(review_request(repo, task), affinity_key=repo)
                       for task in ("review", "security")]
        finally:
            await pool.aclose()
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
    assert [r.replica for r in results] == [second.url, second.url]
    assert all(r.record.spilled for r in results)
    assert not third.requests


async def test_a_recent_load_view_routes_at_once_while_a_fresh_one_is_fetched(
    vllm_standin,
) -> None:
    """Within metrics_max_age_s a call routes on the last /metrics view instead of waiting
    for a scrape; the scrape it starts decides the calls after it."""
    servers = [vllm_standin(max_num_seqs=1), vllm_standin(max_num_seqs=1)]
    pool = pool_for(*(s.url for s in servers), max_waiting=1, metrics_ttl_s=0.0,
                    metrics_max_age_s=60.0)
    repo = "org/busy"
    preferred = next(s for s in servers if s.url == pool.preferred_replica(repo))
    preferred.script(*[Reply(content="busy", delay_s=0.4)] * 4, marker="other client")
    body = {"model": MODEL, "messages": [{"role": "user", "content": "other client"}],
            "max_tokens": 5}
    load: list[asyncio.Task[httpx.Response]] = []
    async with httpx.AsyncClient() as other_client:
        try:
            idle = await pool.chat(review_request(repo), affinity_key=repo)  # first scrape
            load += [asyncio.create_task(other_client.post(
                f"{preferred.url}/v1/chat/completions", json=body, timeout=10))
                for _ in range(4)]
            while preferred.metrics()["vllm:num_requests_waiting"] < 3:
                await asyncio.sleep(0.01)
            stale = await pool.chat(review_request(repo, "security"), affinity_key=repo)
            await asyncio.sleep(0.1)  # the scrape that call started has landed
            fresh = await pool.chat(review_request(repo, "tests"), affinity_key=repo)
        finally:
            await pool.aclose()
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
    assert idle.replica == stale.replica == preferred.url  # routed on the older, idle view
    assert fresh.replica != preferred.url
    assert fresh.record.spilled
