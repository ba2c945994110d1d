"""The whole service on loopback, with parts that can be broken on purpose.

Real processes and servers: a private `redis-server` (restartable; the shared one on 6379
is never touched), a new database on the shared Postgres, Celery workers started with
`python -m taskqueue.worker` (killable), the webhook app itself in this process, the GitHub
stand-in and the vLLM stand-in as loopback HTTP servers in threads. Every log line of the
edge and the workers goes to files that the leak scan reads afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from bot.forges.github import GitHubForge
from bot.history.db import make_engine, session_factory, upgrade_database
from bot.settings import Settings
from bot.webhooks.app import create_app
from bot.webhooks.queueing import CeleryJobQueue, celery_producer
from bot.webhooks.signature import github_signature
from tests.conftest import FIXTURES, PG_ADMIN_DSN, PG_URL_TEMPLATE, REPO_ROOT
from tests.forgestandin.fixtures import OPENAPI, make_app_key
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.openapi import load_spec
from tests.gitbuilder import GitRepo
from tests.standin.engine import StandinConfig
from tests.standin.server import StandinServer

APP_ID = "4242"
INSTALLATION_ID = 7
SYNCHRONIZE = json.loads(
    (FIXTURES / "github/pull_request/synchronize.payload.json").read_bytes())

BASE_APP = "import subprocess\n\n\ndef total(items):\n    return sum(i.price for i in items)\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """A private redis-server without persistence: a restart loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def queued(self) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return sum(int(client.llen(q)) for q in ("interactive", "review", "digest"))
        finally:
            client.close()


class Database:
    """A new, migrated database (on the shared Postgres by default), dropped at the end."""

    def __init__(self, admin_dsn: str = PG_ADMIN_DSN, url_template: str = PG_URL_TEMPLATE
                 ) -> None:
        self.name = f"reviewbot_faults_{secrets.token_hex(5)}"
        self.admin_dsn = admin_dsn
        self.url = url_template.format(name=self.name)

    def create(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        upgrade_database(self.url)

    def drop(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class PostgresCluster:
    """A private Postgres cluster (run as the `postgres` user) that a scenario may stop and
    start; the shared server on 5432 is never restarted.

    Its files live in a directory of their own under the system temp dir, not in pytest's:
    every pytest session resets `/tmp/pytest-of-<user>` to mode 0700, which locked the
    `postgres` user out of a cluster mid-scenario when a second session started.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="reviewbot-pg-"))
        self.root.chmod(0o711)
        self.data = self.root / "pgdata"
        self.socket_dir = self.root / "pgsock"
        self.port = free_port()
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.url_template = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{{name}}"

    def _as_postgres(self, *args: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], check=False,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:  # say why: pg_ctl's own words and the server's last lines
            log = self.data / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:1])} {args[-1]} failed ({done.returncode}): "
                               f"{done.stdout}{done.stderr}\nserver.log: {tail}")

    def init(self) -> None:
        for path in (self.data, self.socket_dir):
            path.mkdir(parents=True)
            shutil.chown(path, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--no-sync")

    def start(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-w", "-l",
                          str(self.data / "server.log"), "-o",
                          f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                          "-c fsync=off -c max_connections=200", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PullRequestRepo:
    """One repository with one open PR whose head can be pushed to."""

    full_name: str
    number: int
    repo: GitRepo
    pushes: int = 0

    @property
    def branch(self) -> str:
        return f"pr{self.number}"


class JsonLines(logging.Handler):
    """Every record of the edge, with all its fields, one JSON object per line."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self._file = path.open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: repr(v) if not isinstance(v, str | int | float | None) else v
                  for k, v in record.__dict__.items() if k not in {"args", "msg"}}
        fields["message"] = record.getMessage()
        if record.exc_info:
            fields["exc"] = logging.Formatter().formatException(record.exc_info)
        self._file.write(json.dumps(fields) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class Stack:
    """Every part of the service, started by `start()`, torn down by `stop()`."""

    workdir: Path
    worker_concurrency: int = 2
    job_time_limit_s: int = 60
    engine_config: StandinConfig = field(default_factory=StandinConfig)
    webhook_secret: str = field(default_factory=lambda: "whsec-" + secrets.token_hex(12))
    engine_api_key: str = field(default_factory=lambda: "engkey-" + secrets.token_hex(12))
    private_postgres: bool = False
    prs: list[PullRequestRepo] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # delivery ids answered 202
    refused: list[tuple[str, int]] = field(default_factory=list)  # (delivery id, status)

    def start(self) -> Stack:
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.redis = RedisProcess(self.workdir / "redis")
        self.redis.start()
        self.postgres: PostgresCluster | None = None
        if self.private_postgres:
            self.postgres = PostgresCluster()
            self.postgres.init()
            self.postgres.start()
            self.database = Database(self.postgres.admin_dsn, self.postgres.url_template)
        else:
            self.database = Database()
        self.database.create()
        self.db_engine = make_engine(self.database.url)
        self.sessions: sessionmaker[Session] = session_factory(self.db_engine)
        key = make_app_key()
        self.private_key = key.private_pem
        self.github = GitHubStandin(load_spec(OPENAPI), APP_ID, key.public_pem)
        self.github.start()
        self.engine = StandinServer(self.engine_config).start()
        self.settings = Settings(
            database_url=self.database.url, broker_url=self.redis.url,
            github_webhook_secret=SecretStr(self.webhook_secret),
            github_app_id=APP_ID, github_private_key=SecretStr(self.private_key),
            github_api_url=self.github.base_url)
        self._edge_log = JsonLines(self.logs / "edge.jsonl")
        logging.getLogger().addHandler(self._edge_log)
        logging.getLogger().setLevel(logging.INFO)
        self.forge = GitHubForge.from_settings(self.settings)  # the reconciler's forge
        self.queue = CeleryJobQueue(celery_producer(self.settings))
        self.edge = TestClient(create_app(self.settings, sessions=self.sessions,
                                          job_queue=self.queue))
        self.edge.__enter__()
        return self

    def stop(self) -> None:
        for worker in list(self.workers):
            self.kill_worker(worker)
        self.edge.__exit__(None, None, None)
        logging.getLogger().removeHandler(self._edge_log)
        self._edge_log.close()
        self.forge.close()
        self.engine.stop()
        self.github.stop()
        self.db_engine.dispose()
        if self.postgres is not None:
            try:
                self.postgres.stop()
            finally:
                self.postgres.remove()
        else:
            self.database.drop()
        self.redis.stop()

    # -- repositories and PRs --------------------------------------------------------------

    def add_pull(self, owner_repo: str, number: int, files: dict[str, str] | None = None
                 ) -> PullRequestRepo:
        """A repository (created on first use) with PR `number` from branch `pr<number>`."""
        existing = next((p.repo for p in self.prs if p.full_name == owner_repo), None)
        if existing is None:
            existing = GitRepo(self.workdir / "repos" / owner_repo.replace("/", "__"))
            existing.commit("base", {"app.py": BASE_APP,
                                     ".reviewbot.yml": "reviewers: [llm, security, secrets]\n"})
            self.github.add_repo(owner_repo, existing.root, installation_id=INSTALLATION_ID)
        existing.checkout("main")
        existing.branch(f"pr{number}")
        existing.commit(f"pr {number}", files or {
            f"feature_{number}.py": f"def feature_{number}(x):\n    return eval(x)\n"})
        existing.checkout("main")
        self.github.add_pull(owner_repo, number, head=f"pr{number}")
        pr = PullRequestRepo(owner_repo, number, existing)
        self.prs.append(pr)
        return pr

    def push(self, pr: PullRequestRepo) -> str:
        """A new commit on the PR's branch; the stand-in's PR moves to it."""
        pr.pushes += 1
        pr.repo.checkout(pr.branch)
        sha = pr.repo.commit(f"push {pr.pushes}", {
            f"feature_{pr.number}.py": (f"def feature_{pr.number}(x):\n    return eval(x)\n"
                                        f"\n\nVERSION = {pr.pushes}\n")})
        pr.repo.checkout("main")
        self.github.add_pull(pr.full_name, pr.number, head=pr.branch)
        return sha

    def head(self, pr: PullRequestRepo) -> str:
        return self.github.repos[pr.full_name].pulls[pr.number].head_sha

    # -- deliveries ------------------------------------------------------------------------

    def deliver(self, pr: PullRequestRepo, action: str = "synchronize") -> tuple[str, int]:
        """A signed `pull_request` webhook for the PR's current head, through the real app."""
        payload = json.loads(json.dumps(SYNCHRONIZE))
        payload["action"] = action
        payload["number"] = pr.number
        payload["repository"]["full_name"] = pr.full_name
        payload["installation"] = {"id": INSTALLATION_ID}
        pull = payload["pull_request"]
        pull.update(number=pr.number, draft=False, state="open")
        pull["head"]["sha"] = self.head(pr)
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        response = self.edge.post("/webhooks/github", content=body, headers={
            "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(self.webhook_secret, body),
            "Content-Type": "application/json"})
        if response.status_code == 202:
            self.accepted.append(delivery)
        else:
            self.refused.append((delivery, response.status_code))
        return delivery, response.status_code

    def redeliver(self, delivery_id: str) -> int:
        """GitHub's "Redeliver": the same delivery id again (for an already reviewed PR)."""
        pr = self.prs[0]
        payload = json.loads(json.dumps(SYNCHRONIZE))
        payload.update(action="synchronize", number=pr.number,
                       installation={"id": INSTALLATION_ID})
        payload["repository"]["full_name"] = pr.full_name
        payload["pull_request"].update(number=pr.number, draft=False, state="open")
        payload["pull_request"]["head"]["sha"] = self.head(pr)
        body = json.dumps(payload).encode()
        response = self.edge.post("/webhooks/github", content=body, headers={
            "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": github_signature(self.webhook_secret, body),
            "Content-Type": "application/json"})
        return response.status_code

    # -- workers ---------------------------------------------------------------------------

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWBOT_")}
        env.update({
            "REVIEWBOT_DATABASE_URL": self.database.url,
            "REVIEWBOT_BROKER_URL": self.redis.url,
            "REVIEWBOT_GITHUB_APP_ID": APP_ID,
            "REVIEWBOT_GITHUB_PRIVATE_KEY": self.private_key,
            "REVIEWBOT_GITHUB_API_URL": self.github.base_url,
            "REVIEWBOT_GITHUB_WEBHOOK_SECRET": self.webhook_secret,
            "REVIEWBOT_MIRROR_DIR": str(self.workdir / "mirrors"),
            "REVIEWBOT_ENGINE_URLS": self.engine.url,
            "REVIEWBOT_ENGINE_API_KEY": self.engine_api_key,
            "REVIEWBOT_ENGINE_TIMEOUT_S": "5",
            "REVIEWBOT_ENGINE_DEADLINE_S": "12",
            "REVIEWBOT_JOB_SOFT_TIME_LIMIT_S": str(self.job_time_limit_s - 10),
            "REVIEWBOT_JOB_TIME_LIMIT_S": str(self.job_time_limit_s),
            "REVIEWBOT_BROKER_VISIBILITY_TIMEOUT_S": str(self.job_time_limit_s + 10),
            "REVIEWBOT_JOB_MAX_RETRIES": "3",
            "REVIEWBOT_JOB_RETRY_BASE_S": "2",  # retries at 1-2, 2-4, 4-8 s
            "REVIEWBOT_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra)
        return env

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        index = len(list(self.logs.glob("worker-*.log")))
        log = (self.logs / f"worker-{index}.log").open("ab")
        worker = subprocess.Popen(
            [sys.executable, "-m", "taskqueue.worker", "worker", "--queues",
             "interactive,review,digest", "--pool", "prefork", "--concurrency",
             str(self.worker_concurrency), "--loglevel", "INFO", "--without-gossip",
             "--without-mingle", "-n", f"faults{index}@%h"],
            cwd=REPO_ROOT, env=self.worker_env(**extra), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        self.workers.append(worker)
        return worker

    def kill_worker(self, worker: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """The whole process tree at once, as when a node dies."""
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, sig)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        self.workers.remove(worker)

    # -- what the forge shows --------------------------------------------------------------

    def bot_reviews(self) -> list[dict[str, Any]]:
        return [dict(r, repo=name) for name, repo in self.github.repos.items()
                for r in repo.reviews]

    def check_runs(self) -> list[dict[str, Any]]:
        return [dict(c, repo=name) for name, repo in self.github.repos.items()
                for c in repo.check_runs.values()]


@contextmanager
def running_stack(workdir: Path, **options: Any) -> Iterator[Stack]:
    stack = Stack(workdir, **options).start()
    try:
        yield stack
    finally:
        stack.stop()
