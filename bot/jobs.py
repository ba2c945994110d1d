"""Worker-side job functions: the plain code each Celery task shim calls.

`run_review_job` takes one `ReviewJob` (ids only) to a posted review:

1. the PR as the forge has it now: closed PRs, drafts and superseded heads are skipped;
2. a review run keyed by (repository, PR, head, trigger): a redelivered or retried job
   finds its own run and resumes it, a second job for a reviewed head does nothing;
3. the check goes in progress, `.reviewbot.yml` is read from the default branch (a change
   cannot loosen its own review), the head is fetched into the repository's bare mirror and
   the pipeline of `reviewbot review` runs on it;
4. posting is idempotent: findings whose fingerprint already sits in a hidden marker of
   the bot's comments (or in history) are not posted again; the summary is edited in
   place; the check completes (neutral, never a silent pass, when the model could not
   review);
5. the run, its findings, engine calls and the delivery's fate go to history.

Transient failures (forge 5xx or rate limit, git fetch, database) propagate for Celery to
retry; on the final attempt, and for permanent failures, the run is recorded as failed and
the check completes neutral with the reason, so nothing accepted ends silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.checkout import Mirror
from bot.commands import HELP_TEXT, Command
from bot.enginefactory import engine_config, open_pool
from bot.errors import DuplicateRun, ForgeError, HistoryError
from bot.events.outcomes import Priority as QueuePriority
from bot.events.outcomes import ReviewJob
from bot.forges.base import Forge, InlineComment, PullRequest, Reaction
from bot.forges.markers import summary_marker
from bot.history.db import make_engine, session_factory, session_scope
from bot.history.deliveries import find_delivery, update_delivery
from bot.history.enums import DeliveryStatus, PullRequestState, RunStatus, RunTrigger
from bot.history.enums import Forge as ForgeName
from bot.history.feedback import (
    DOWNVOTE,
    UPVOTE,
    feedback_findings,
    record_reaction,
    record_rerun,
)
from bot.history.lifecycle import posted_fingerprints, record_posted_comment
from bot.history.models import ReviewRun
from bot.history.recording import engine_call_records
from bot.history.schema import utcnow
from bot.history.store import (
    finish_run,
    get_or_create_pull_request,
    get_or_create_repository,
    start_run,
)
from bot.history.triage import record_triage_dismissals
from bot.logs import log_context, update_log_context
from bot.metrics import observe_review, observe_review_outcome
from bot.posting import (
    CHECK_NAME,
    SUMMARY_KEY,
    check_annotations,
    inline_comments,
    sanitize,
    summary_body,
    verdict,
)
from bot.settings import Settings
from bot.testdelivery import deliver_tests
from bot.testgenfactory import testgen_setup
from reviewers.engine import EnginePool, Priority
from reviewers.errors import EngineError, ReviewbotError, TransientError
from reviewers.findings import Severity
from reviewers.gitrepo import LocalRepository, open_repository
from reviewers.pipeline import ReviewOutcome, ReviewRequest, review
from reviewers.repoconfig import CONFIG_FILE, RepoConfig, repo_config_or_defaults
from reviewers.tokens import EstimatingCounter, TokenCounter

log = logging.getLogger(__name__)

AUTOMATIC = frozenset({RunTrigger.OPENED, RunTrigger.SYNCHRONIZE, RunTrigger.REOPENED,
                       RunTrigger.READY_FOR_REVIEW})
SECURITY_REVIEWERS = ["security", "bandit", "secrets", "semgrep"]
DESCRIBE_KEY = "describe"
HELP_KEY = "help"


@dataclass(frozen=True)
class JobContext:
    """The collaborators a job needs, built once per worker process."""

    settings: Settings
    sessions: sessionmaker[Session]
    forges: Mapping[ForgeName, Forge] = field(default_factory=dict)
    mirror_root: Path | None = None

    @property
    def mirrors(self) -> Path:
        return self.mirror_root or self.settings.mirror_dir


def build_job_context(settings: Settings) -> JobContext:
    """The worker's composition root for jobs (called lazily, in the worker process)."""
    from bot.forges.github import GitHubForge
    from bot.forges.gitlab import GitLabForge

    forges: dict[ForgeName, Forge] = {}
    if settings.github_app_id:
        forges[ForgeName.GITHUB] = GitHubForge.from_settings(settings)
    if settings.gitlab_token is not None:
        forges[ForgeName.GITLAB] = GitLabForge.from_settings(settings)
    engine = make_engine(settings.database_url)
    return JobContext(settings=settings, sessions=session_factory(engine), forges=forges)


@dataclass(frozen=True)
class JobResult:
    """What a job did, for logs, metrics and tests."""

    outcome: str  # reviewed | skipped | failed | command | feedback
    detail: str = ""
    run_id: int | None = None
    posted_comments: int = 0
    conclusion: str | None = None


class _Skip(Exception):
    """Control flow: the job has nothing to do (never escapes this module)."""

    def __init__(self, reason: str, run_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.run_id = reason, run_id


def run_review_job(job: ReviewJob, context: JobContext, *,
                   final_attempt: bool = False) -> JobResult:
    """Run one PR job; raises `TransientError` for Celery to retry unless `final_attempt`."""
    with log_context(delivery_id=job.delivery_id, repo=job.repo, pr=job.number):
        return _run_job(job, context, final_attempt)


def _run_job(job: ReviewJob, context: JobContext, final_attempt: bool) -> JobResult:
    fields = {"delivery_id": job.delivery_id, "repo": job.repo, "pr": job.number,
              "trigger": job.trigger.value}
    log.info("job.started", extra=fields)
    forge = context.forges.get(job.forge)
    if forge is None:
        reason = (f"no {job.forge.value} credentials are configured on this worker; set the "
                  f"REVIEWBOT_{job.forge.value.upper()}_* settings")
        _set_delivery(context, job, DeliveryStatus.FAILED, error=reason, attempt=True)
        log.error("job.no_forge", extra=fields)
        return JobResult("failed", reason)
    _set_delivery(context, job, DeliveryStatus.PROCESSING, attempt=True)
    runner = _JobRunner(job, context, forge)
    try:
        result = runner.run()
    except TransientError as exc:
        if not final_attempt:
            _set_delivery(context, job, DeliveryStatus.PROCESSING, error=_safe(exc))
            log.warning("job.retry", extra={**fields, "error": _safe(exc)})
            raise
        result = runner.fail(exc)
    except ReviewbotError as exc:
        result = runner.fail(exc)
    if result.outcome != "reviewed":  # a posted review was counted with its figures
        observe_review(None, {}, forge=job.forge.value, trigger=job.trigger.value,
                       outcome=result.outcome)
    status = DeliveryStatus.FAILED if result.outcome == "failed" else DeliveryStatus.COMPLETED
    _set_delivery(context, job, status, run_id=result.run_id,
                  error=result.detail if status is DeliveryStatus.FAILED else None)
    log.info("job.finished", extra={**fields, "outcome": result.outcome,
                                    "detail": result.detail, "run_id": result.run_id})
    return result


class _JobRunner:
    """The steps of one job; keeps the run id and check id so a failure can close both."""

    def __init__(self, job: ReviewJob, context: JobContext, forge: Forge) -> None:
        self.job, self.context, self.forge = job, context, forge
        self.settings = context.settings
        self.run_id: int | None = None
        self.check_id: str | None = None
        self.head_sha: str | None = job.head_sha

    # -- entry points -----------------------------------------------------------------------

    def run(self) -> JobResult:
        job = self.job
        try:
            pr = self.forge.get_pull_request(job.repo, job.number)
            self.head_sha = pr.head_sha
            if job.command is not None:
                return self._command(job.command, pr)
            if job.trigger is RunTrigger.CLOSED:
                self._record_pull_request(pr)
                swept = self._sweep_feedback()
                return JobResult("feedback", f"{swept} finding(s) got a verdict")
            if pr.state != "open":
                raise _Skip(f"the pull request is {pr.state}")
            if pr.draft and job.trigger in AUTOMATIC:
                raise _Skip("the pull request is a draft")
            if job.head_sha and job.head_sha != pr.head_sha:
                raise _Skip(f"superseded: the head moved from {job.head_sha[:12]} to "
                            f"{pr.head_sha[:12]}")
            return self._review(pr)
        except _Skip as skip:
            log.info("job.skipped", extra={"delivery_id": job.delivery_id,
                                           "reason": skip.reason})
            return JobResult("skipped", skip.reason, run_id=skip.run_id)

    def fail(self, exc: ReviewbotError) -> JobResult:
        """Record a failed run and leave a neutral check that says why."""
        reason = _safe(exc)
        log.error("job.failed", extra={"delivery_id": self.job.delivery_id, "error": reason})
        if self.run_id is not None:
            try:
                with session_scope(self.context.sessions) as session:
                    run = session.get(ReviewRun, self.run_id)
                    if run is not None and not run.status.finished:
                        finish_run(session, run, RunStatus.FAILED, error=reason,
                                   conclusion="neutral")
            except ReviewbotError as db_exc:
                log.error("job.fail_record_failed", extra={"error": _safe(db_exc)})
        if self.head_sha:
            try:
                check_id = self.check_id or self.forge.start_check(
                    self.job.repo, self.head_sha, CHECK_NAME)
                self.forge.complete_check(
                    self.job.repo, check_id, self.head_sha, "neutral",
                    "Review could not run",
                    f"reviewbot could not review this change: {sanitize(reason)}\n\n"
                    "Comment `/review` to try again.", [])
            except ReviewbotError as forge_exc:
                log.error("job.check_failed", extra={"error": _safe(forge_exc)})
        return JobResult("failed", reason, run_id=self.run_id, conclusion="neutral")

    def _started(self) -> tuple[int, str]:
        if self.run_id is None or self.check_id is None:
            raise HistoryError("posting before the run and the check were started")
        return self.run_id, self.check_id

    # -- commands ---------------------------------------------------------------------------

    def _command(self, command: Command, pr: PullRequest) -> JobResult:
        job = self.job
        if not self._authorised():
            self._react("confused")
            self._refuse()
            raise _Skip(f"{job.requested_by or 'an unknown user'} may not run commands here "
                        "(write access / Developer role needed)")
        self._react("eyes")
        if command is Command.HELP:
            marker = summary_marker(HELP_KEY)
            self.forge.upsert_summary(job.repo, job.number, marker, f"{marker}\n{HELP_TEXT}")
            return JobResult("command", "help posted")
        if pr.state != "open":
            raise _Skip(f"the pull request is {pr.state}")
        return self._review(pr, security_only=command is Command.REVIEW_SECURITY,
                            describe=command is Command.DESCRIBE,
                            tests=command is Command.TESTS)

    def _react(self, content: Reaction) -> None:
        """Acknowledge the command's comment; best effort (the comment may be gone)."""
        if self.job.comment_id is None:
            return
        try:
            self.forge.react(self.job.repo, self.job.number, self.job.comment_id, content,
                             inline=self.job.inline_comment)
        except ForgeError as exc:
            if isinstance(exc, TransientError):
                raise
            log.info("job.reaction_failed", extra={"error": _safe(exc)})

    def _refuse(self) -> None:
        """One short reply per refused comment (its marker makes a retried job edit it)."""
        job = self.job
        if job.comment_id is None or not job.requested_by or \
                job.requested_by == self.forge.bot_login():
            return
        marker = summary_marker(f"refused-{job.comment_id}")
        who = sanitize(job.requested_by, limit=100)
        need = "write access" if self.forge.name == "github" else "the Developer role or higher"
        self.forge.upsert_summary(job.repo, job.number, marker,
                                  f"{marker}\n`{job.command}` was not run: {who} needs {need} "
                                  "on this repository to run reviewbot commands.")

    def _authorised(self) -> bool:
        """Write access (GitHub) / Developer or higher (GitLab); never the bot itself."""
        user = self.job.requested_by
        if not user or user == self.forge.bot_login():
            return False
        return self.forge.permission(self.job.repo, user) in ("write", "admin")

    # -- the review -------------------------------------------------------------------------

    def _review(self, pr: PullRequest, *, security_only: bool = False,
                describe: bool = False, tests: bool = False) -> JobResult:
        job = self.job
        self.run_id = self._start_run(pr)
        update_log_context(run_id=self.run_id)
        self.check_id = self.forge.start_check(job.repo, pr.head_sha, CHECK_NAME)
        config, config_note = self._repo_config(pr)
        if security_only:
            config = config.model_copy(update={
                "reviewers": [r for r in config.reviewers if r in SECURITY_REVIEWERS]})
        if tests:  # `/tests` asks for them whatever the repository's default
            config = config.model_copy(update={
                "tests": config.tests.model_copy(update={"enabled": True})})
        mirror = self._fetch(pr)
        with open_repository(mirror.path) as local:
            base = local.merge_base(pr.base_sha, pr.head_sha)
            outcome, engine_problem = asyncio.run(self._pipeline(local, pr, config, base))
        if config_note:
            outcome.notes.insert(0, config_note)
        latest = self.forge.get_pull_request(job.repo, job.number)
        if latest.head_sha != pr.head_sha:
            return self._superseded(pr, latest, outcome)
        if describe:
            return self._describe(pr, outcome, engine_problem)
        return self._post(pr, config, outcome, engine_problem)

    def _start_run(self, pr: PullRequest) -> int:
        """The run of this job: new, or the one an earlier attempt of this delivery began."""
        job = self.job
        with session_scope(self.context.sessions) as session:
            repository = get_or_create_repository(session, job.forge, job.repo,
                                                  default_branch=pr.default_branch)
            pull = get_or_create_pull_request(
                session, repository, pr.number, title=pr.title, author=pr.author,
                state=PullRequestState(pr.state), head_sha=pr.head_sha, base_sha=pr.base_sha)
            delivery = find_delivery(session, job.forge, job.delivery_id)
            # Automatic triggers share one key per head: a reopen of a reviewed head or a
            # duplicate event is a no-op. A command or a re-run is its own request.
            kind = "auto" if job.trigger in AUTOMATIC else f"{job.trigger.value}:{job.delivery_id}"
            key = f"{repository.id}:{pr.number}:{pr.head_sha}:{kind}"
            try:
                run = start_run(session, repository, job.trigger, pr.base_sha, pr.head_sha,
                                pull, delivery=delivery, idempotency_key=key)
                return run.id
            except DuplicateRun as dup:
                existing = session.get(ReviewRun, dup.run_id)
                assert existing is not None
                return self._resume(existing, delivery.id if delivery else None)

    def _resume(self, run: ReviewRun, delivery_pk: int | None) -> int:
        if run.status.finished:
            raise _Skip(f"this head was already reviewed (run {run.id}, {run.status})", run.id)
        own = delivery_pk is not None and run.delivery_id == delivery_pk
        stale_after = timedelta(seconds=self.settings.job_time_limit_s)
        stale = run.started_at is not None and utcnow() - run.started_at > stale_after
        if not (own or stale):
            raise _Skip(f"another job is reviewing this head (run {run.id})", run.id)
        run.delivery_id = delivery_pk
        run.started_at = utcnow()
        log.info("job.resumed_run", extra={"run_id": run.id, "stale": stale})
        return run.id

    def _repo_config(self, pr: PullRequest) -> tuple[RepoConfig, str | None]:
        return repo_config_or_defaults(
            self.forge.read_file(self.job.repo, CONFIG_FILE, pr.default_branch))

    def _fetch(self, pr: PullRequest) -> Mirror:
        mirror = Mirror(self.context.mirrors, self.forge.name, self.job.repo)
        remote = self.forge.git_remote(self.job.repo)
        wanted = [sha for sha in (pr.head_sha, pr.base_sha) if not mirror.has_commit(sha)]
        if wanted:
            pr_ref = (f"refs/pull/{pr.number}/head" if self.forge.name == "github"
                      else f"refs/merge-requests/{pr.number}/head")
            mirror.fetch(remote, [pr.base_ref, pr_ref])
            missing = [sha for sha in wanted if not mirror.has_commit(sha)]
            if missing:  # the branch moved on meanwhile: ask for the commits themselves
                mirror.fetch(remote, missing)
        return mirror

    async def _pipeline(self, local: LocalRepository, pr: PullRequest, config: RepoConfig,
                        base: str) -> tuple[ReviewOutcome, str | None]:
        """The review with the model; on an engine failure, the static review and the reason."""
        settings = self.settings
        cfg = engine_config(settings)
        request = ReviewRequest(
            repository=self.job.repo, base=base, head=pr.head_sha, config=config,
            title=pr.title, description=pr.body,
            priority=(Priority.INTERACTIVE if self.job.priority is QueuePriority.INTERACTIVE
                      else Priority.REVIEW),
            max_model_len=settings.max_model_len,
            answer_tokens=min(settings.answer_tokens, settings.max_model_len // 4))
        if cfg is None:
            outcome = await review(local, request, engine=None, counter=EstimatingCounter())
            return outcome, None
        pool: EnginePool | None = None
        problem = ""
        try:
            pool, usable = await open_pool(cfg, settings.max_model_len)
            counter: TokenCounter = pool.token_counter(affinity_key=self.job.repo)
            request = replace(request, max_model_len=usable,
                              answer_tokens=min(settings.answer_tokens, usable // 4))
            return await review(local, request, engine=pool, counter=counter,
                                testgen=testgen_setup(settings)), None
        except EngineError as exc:
            problem = _safe(exc)
            log.warning("job.engine_unavailable", extra={"error": problem})
        finally:
            if pool is not None:
                await pool.aclose()
        outcome = await review(local, request, engine=None, counter=EstimatingCounter())
        outcome.notes = [n for n in outcome.notes if not n.startswith("model reviewers skipped")]
        outcome.notes.append(f"model review unavailable: {problem}")
        return outcome, problem

    # -- posting ----------------------------------------------------------------------------

    def _post(self, pr: PullRequest, config: RepoConfig, outcome: ReviewOutcome,
              engine_problem: str | None) -> JobResult:
        job = self.job
        run_id, check_id = self._started()
        self._sweep_feedback()
        with session_scope(self.context.sessions) as session:
            run = _run(session, run_id)
            already = posted_fingerprints(session, run.repository_id, run.pull_request_id)
        already |= self.forge.list_bot_markers(job.repo, job.number)
        comments = inline_comments(outcome.findings, outcome.diff, already)
        posted_inline: dict[str, str] = {}
        overflow: tuple[InlineComment, ...] = ()
        if comments:
            body = (f"reviewbot: {len(comments)} new finding(s) on `{pr.head_sha[:12]}`; "
                    "the summary comment has the full picture.")
            posted = self.forge.post_review(job.repo, job.number, pr.head_sha, body, comments)
            overflow = posted.overflow
            posted_inline = {c.fingerprint: posted.review_id
                             for c in (*posted.inline, *posted.overflow) if c.fingerprint}
        fail_on: Severity | str = config.fail_on
        notes = list(outcome.notes) + [f"{f.path}: {n}" for f in outcome.diff.files
                                       for n in f.notes]
        summary = summary_body(head_sha=pr.head_sha, findings=outcome.findings,
                               new_inline=len(comments) - len(overflow), overflow=overflow,
                               notes=notes, model_summary=outcome.summary, fail_on=fail_on)
        self.forge.upsert_summary(job.repo, job.number, summary_marker(SUMMARY_KEY), summary)
        result = verdict(outcome.findings, fail_on, engine_problem=engine_problem)
        check_text = result.summary
        if notes:
            check_text += "\n\n" + "\n".join(f"- {sanitize(n, limit=500)}" for n in notes)
        self.forge.complete_check(job.repo, check_id, pr.head_sha, result.conclusion,
                                  result.title, check_text, check_annotations(outcome.findings))
        status = RunStatus.NEUTRAL if engine_problem else RunStatus.COMPLETED
        with session_scope(self.context.sessions) as session:
            run = _run(session, run_id)
            records = finish_run(
                session, run, status, outcome.findings,
                engine_calls=engine_call_records(outcome.calls),
                stage_durations=outcome.timings, findings_dropped=len(outcome.dropped),
                notes=notes, conclusion=result.conclusion)
            record_triage_dismissals(session, run, outcome.suppressed)
            by_fingerprint = {r.fingerprint: r for r in records}
            for fingerprint, review_id in posted_inline.items():
                record = by_fingerprint.get(fingerprint)
                if record is not None:
                    record_posted_comment(session, forge_comment_id=review_id, kind="inline",
                                          body=fingerprint, finding=record, run=run)
            if job.trigger is not RunTrigger.COMMAND or job.command is Command.REVIEW:
                record_rerun(session, run, [f.path for f in outcome.diff.files])
            if outcome.tests is not None:
                deliver_tests(self.forge, job.repo, pr, outcome.tests, config.tests,
                              session=session, run=run)
            delivery = find_delivery(session, job.forge, job.delivery_id)
            received_at = delivery.received_at if delivery is not None else None
        observe_review_outcome(outcome, forge=job.forge.value, trigger=job.trigger.value,
                               received_at=received_at)
        return JobResult("reviewed", f"{len(outcome.findings)} finding(s)",
                         run_id=run_id, posted_comments=len(comments),
                         conclusion=result.conclusion)

    def _record_pull_request(self, pr: PullRequest) -> None:
        """The PR's state as the forge has it now (merged / closed), for the digest."""
        with session_scope(self.context.sessions) as session:
            repository = get_or_create_repository(session, self.job.forge, self.job.repo,
                                                  default_branch=pr.default_branch)
            get_or_create_pull_request(session, repository, pr.number, title=pr.title,
                                       author=pr.author, state=PullRequestState(pr.state),
                                       head_sha=pr.head_sha)

    def _sweep_feedback(self) -> int:
        """👍/👎 on the bot's comments into history (GitHub sends no webhook for reactions)."""
        job = self.job
        feedback = [f for f in self.forge.comment_feedback(job.repo, job.number)
                    if f.upvotes or f.downvotes]
        if not feedback:
            return 0
        with session_scope(self.context.sessions) as session:
            findings = {f.fingerprint: f for f in feedback_findings(
                session, job.forge, job.repo, job.number, [c.fingerprint for c in feedback])}
            for item in feedback:
                finding = findings.get(item.fingerprint)
                if finding is not None:  # a 👎 outweighs any number of 👍
                    record_reaction(finding, DOWNVOTE if item.downvotes else UPVOTE)
        return len(findings)

    def _describe(self, pr: PullRequest, outcome: ReviewOutcome,
                  engine_problem: str | None) -> JobResult:
        job = self.job
        run_id, check_id = self._started()
        marker = summary_marker(DESCRIBE_KEY)
        if outcome.model_ran and outcome.summary.strip():
            text = f"{marker}\n## What this change does\n\n{sanitize(outcome.summary)}"
        else:
            text = (f"{marker}\n`/describe` needs the model engine, which is unavailable: "
                    f"{sanitize(engine_problem or 'no engine configured')}")
        self.forge.upsert_summary(job.repo, job.number, marker, text)
        self.forge.complete_check(job.repo, check_id, pr.head_sha, "neutral",
                                  "Description drafted", "A `/describe` request; no review "
                                  "verdict.", [])
        with session_scope(self.context.sessions) as session:
            finish_run(session, _run(session, run_id), RunStatus.COMPLETED,
                       engine_calls=engine_call_records(outcome.calls),
                       stage_durations=outcome.timings, conclusion="neutral")
        return JobResult("command", "description posted", run_id=run_id)

    def _superseded(self, pr: PullRequest, latest: PullRequest,
                    outcome: ReviewOutcome) -> JobResult:
        run_id, check_id = self._started()
        reason = (f"superseded: the head moved from {pr.head_sha[:12]} to "
                  f"{latest.head_sha[:12]} during the review")
        self.forge.complete_check(self.job.repo, check_id, pr.head_sha, "neutral",
                                  "Superseded by a newer push", reason, [])
        with session_scope(self.context.sessions) as session:
            finish_run(session, _run(session, run_id), RunStatus.SUPERSEDED,
                       engine_calls=engine_call_records(outcome.calls),
                       stage_durations=outcome.timings, notes=[reason],
                       conclusion="neutral")
        return JobResult("skipped", reason, run_id=run_id, conclusion="neutral")


def _run(session: Session, run_id: int) -> ReviewRun:
    run = session.get(ReviewRun, run_id)
    if run is None:
        raise HistoryError(f"review run {run_id} disappeared from the history database")
    return run


def _safe(exc: BaseException) -> str:
    """An error message fit for a check, a log line and the database: masked and capped."""
    return sanitize(str(exc) or type(exc).__name__, limit=1000)


def _set_delivery(context: JobContext, job: ReviewJob, status: DeliveryStatus, *,
                  attempt: bool = False, error: str | None = None,
                  run_id: int | None = None) -> None:
    with session_scope(context.sessions) as session:
        delivery = find_delivery(session, job.forge, job.delivery_id)
        if delivery is None:
            return
        run = session.get(ReviewRun, run_id) if run_id is not None else None
        update_delivery(delivery, status, attempt=attempt, error=error, run=run)
