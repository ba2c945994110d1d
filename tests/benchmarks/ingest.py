"""Webhook ingest throughput: `python -m tests.benchmarks.ingest [--deliveries N]`.

Starts the real API server (`reviewbot serve`, uvicorn, PostgreSQL history, Redis broker) and
a bare endpoint that only checks the signature and enqueues the same job (no parsing into
handlers, no delivery record), each in its own process on 127.0.0.1. A third process sends
N signed `pull_request` payloads (the recorded GitHub fixture, a fresh delivery id each) with
bounded concurrency and time, and reports deliveries per second and p50/p99 latency.
"Lost" counts deliveries answered 202 whose job never reached the queue.

Each endpoint runs `--rounds` times, alternating with the other; the faster run of each is
compared (host load only ever slows a run down), and lost deliveries are summed over all runs.
Last line: `ingest_ratio_vs_bare=<x> p99_ms=<y> lost=<n>` (x: full / bare deliveries per s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from fastapi import FastAPI, Request, Response

from tests.conftest import FIXTURES

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = FIXTURES / "github" / "pull_request" / "opened.payload.json"
SECRET = "ingest-benchmark-secret"
REDIS_URL = "redis://127.0.0.1:6379/13"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
QUEUE = "review"
WALL_LIMIT_S = 120.0


# -- the bare endpoint (runs in its own process) ----------------------------------------------

def bare_app() -> Any:
    """Signature check + enqueue of the same job, nothing else: the floor for the edge."""
    from bot.events.outcomes import ReviewJob
    from bot.history.enums import Forge, RunTrigger
    from bot.settings import Settings
    from bot.webhooks.queueing import CeleryJobQueue, celery_producer
    from bot.webhooks.signature import Verdict, verify_github

    queue = CeleryJobQueue(celery_producer(Settings(broker_url=REDIS_URL)))
    app = FastAPI()

    @app.post("/webhooks/github")
    async def receive(request: Request) -> Response:
        body = await request.body()
        if verify_github(SECRET, body, request.headers.get("x-hub-signature-256")) \
                is not Verdict.VALID:
            return Response(status_code=401)
        payload = json.loads(body)
        pull = payload["pull_request"]
        job = ReviewJob(forge=Forge.GITHUB, repo=payload["repository"]["full_name"],
                        number=int(pull["number"]), head_sha=pull["head"]["sha"],
                        trigger=RunTrigger.OPENED,
                        delivery_id=request.headers.get("x-github-delivery", ""))
        await asyncio.to_thread(queue.enqueue, job)
        return Response(status_code=202)

    return app


# -- the load generator (runs in its own process) ---------------------------------------------

async def send_all(url: str, count: int, concurrency: int) -> dict[str, Any]:
    from bot.webhooks.signature import github_signature

    body = FIXTURE.read_bytes()
    payload = json.loads(body)
    payload["action"] = "opened"
    body = json.dumps(payload).encode()
    signature = github_signature(SECRET, body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pending = iter(range(count))
    deadline = time.monotonic() + WALL_LIMIT_S

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in pending:
            if time.monotonic() > deadline:
                return
            headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "X-Hub-Signature-256": signature, "Content-Type": "application/json"}
            started = time.perf_counter()
            try:
                answer = await client.post(f"{url}/webhooks/github", content=body,
                                           headers=headers)
                status = answer.status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"sent": len(latencies), "seconds": elapsed, "statuses": statuses,
            "per_s": len(latencies) / elapsed if elapsed else 0.0,
            "p50_ms": statistics.median(ordered) * 1000 if ordered else 0.0,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
            if ordered else 0.0}


# -- orchestration ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code in (200, 404):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within 60 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _measure(command: list[str], env: dict[str, str], port: int, count: int,
             concurrency: int, broker: redis.Redis) -> dict[str, Any]:
    broker.flushdb()
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, server)
        load = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.ingest", "--load", url,
             "--deliveries", str(count), "--concurrency", str(concurrency)],
            cwd=REPO_ROOT, env=env, capture_output=True, check=True, timeout=WALL_LIMIT_S + 60)
        figures: dict[str, Any] = json.loads(load.stdout)
    finally:
        _stop(server)
    accepted = int(figures["statuses"].get("202", 0))
    figures["enqueued"] = int(broker.llen(QUEUE))
    figures["lost"] = max(accepted - figures["enqueued"], 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each endpoint, alternated; the faster run of each counts")
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the load-generator process
    parser.add_argument("--bare", type=int, help=argparse.SUPPRESS)  # the bare server process
    args = parser.parse_args()
    if args.load:
        print(json.dumps(asyncio.run(send_all(args.load, args.deliveries, args.concurrency))))
        return
    if args.bare:
        import uvicorn

        uvicorn.run(bare_app(), host="127.0.0.1", port=args.bare, log_level="warning")
        return

    from bot.history.db import upgrade_database

    name = f"reviewbot_ingest_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    broker = redis.Redis.from_url(REDIS_URL)
    try:
        upgrade_database(database_url)
        env = {**os.environ, "REVIEWBOT_DATABASE_URL": database_url,
               "REVIEWBOT_BROKER_URL": REDIS_URL, "REVIEWBOT_GITHUB_WEBHOOK_SECRET": SECRET,
               "REVIEWBOT_ENGINE_URLS": "", "REVIEWBOT_LOG_LEVEL": "WARNING"}
        full_command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                        "--port"]
        bare_command = [sys.executable, "-m", "tests.benchmarks.ingest", "--bare"]
        runs: list[tuple[str, dict[str, Any]]] = []
        for _ in range(args.rounds):  # alternated, so a burst of host load hits both alike
            for label, command in (("full", full_command), ("bare", bare_command)):
                port = _free_port()
                runs.append((label, _measure([*command, str(port)], env, port,
                                             args.deliveries, args.concurrency, broker)))
    finally:
        broker.flushdb()
        broker.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{'endpoint':<8} {'sent':>6} {'per_s':>8} {'p50_ms':>8} {'p99_ms':>8} "
          f"{'enqueued':>9} {'lost':>5}  statuses")
    for label, figures in runs:
        print(f"{label:<8} {figures['sent']:>6} {figures['per_s']:>8.1f} "
              f"{figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} {figures['enqueued']:>9} "
              f"{figures['lost']:>5}  {figures['statuses']}")
    full = max((f for label, f in runs if label == "full"), key=lambda f: f["per_s"])
    bare = max((f for label, f in runs if label == "bare"), key=lambda f: f["per_s"])
    lost = sum(f["lost"] for label, f in runs if label == "full")
    ratio = full["per_s"] / bare["per_s"] if bare["per_s"] else 0.0
    print(f"ingest_ratio_vs_bare={ratio:.2f} p99_ms={full['p99_ms']:.0f} lost={lost}")


if __name__ == "__main__":
    main()
