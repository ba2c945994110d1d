"""The declarative router, and the routing table the app is composed from."""

from __future__ import annotations

from collections.abc import Sequence

from bot.events import github_router, gitlab_router
from bot.history.enums import Forge
from bot.webhooks.routing import HandlerContext, Router, WebhookEvent

CONTEXT = HandlerContext()


def event(name: str, action: str | None) -> WebhookEvent:
    return WebhookEvent(forge=Forge.GITHUB, event=name, action=action, delivery_id="d",
                        payload={})


def test_handlers_are_found_by_event_and_action_and_composed() -> None:
    pulls: Router[str] = Router()
    comments: Router[str] = Router()

    @pulls.register("pull_request", "opened")
    def opened(ev: WebhookEvent, ctx: HandlerContext) -> Sequence[str]:
        return ["opened"]

    @pulls.register("pull_request")
    def any_action(ev: WebhookEvent, ctx: HandlerContext) -> Sequence[str]:
        return [f"any:{ev.action}"]

    @comments.register("issue_comment", "created")
    def created(ev: WebhookEvent, ctx: HandlerContext) -> Sequence[str]:
        return ["comment"]

    router = Router(pulls, comments)
    assert router.dispatch(event("pull_request", "opened"), CONTEXT) == ["opened", "any:opened"]
    assert router.dispatch(event("pull_request", "closed"), CONTEXT) == ["any:closed"]
    assert router.dispatch(event("issue_comment", "created"), CONTEXT) == ["comment"]
    assert router.dispatch(event("issue_comment", "deleted"), CONTEXT) == []
    assert router.dispatch(event("push", None), CONTEXT) == []
    assert router.handlers_for("push", None) == []
    # composing copies the tables: registering later on a part does not leak into the whole
    pulls.add(opened, "pull_request", "reopened")
    assert router.handlers_for("pull_request", "reopened") == [any_action]


def test_the_github_routing_table() -> None:
    table = {key for key, _ in github_router().routes()}
    assert table == {
        ("pull_request", "opened"), ("pull_request", "synchronize"),
        ("pull_request", "reopened"), ("pull_request", "ready_for_review"),
        ("pull_request", "closed"), ("pull_request_review_thread", "resolved"),
        ("issue_comment", "created"), ("pull_request_review_comment", "created"),
        ("check_run", "rerequested"), ("check_run", "requested_action"),
        ("installation", None), ("installation_repositories", None),
    }


def test_the_gitlab_routing_table() -> None:
    table = {key for key, _ in gitlab_router().routes()}
    assert table == {("Merge Request Hook", None), ("System Hook", None), ("Note Hook", None)}
