"""A small declarative router: handlers registered by (event, action), composed at the entry.

Modelled on gidgethub's router: each feature module owns a `Router`, registers plain
handler functions with `@router.register("pull_request", "opened")`, and the entry point
composes them with `Router(a, b, c)`. Dispatch returns what the handlers decided (job
descriptions); handlers never enqueue or touch the network themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.history.enums import Forge

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class WebhookEvent:
    """A verified, parsed delivery: the forge's event name, its action, the JSON payload."""

    forge: Forge
    event: str
    action: str | None
    delivery_id: str
    payload: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class HandlerContext:
    """What handlers may know beyond the payload: who the bot is on each forge."""

    bot_logins: frozenset[str] = frozenset()


Handler = Callable[[WebhookEvent, HandlerContext], Sequence[T]]
RouteKey = tuple[str, str | None]


class Router(Generic[T]):
    """Maps (event, action) to handlers; `action=None` registers for every action."""

    def __init__(self, *others: Router[T]) -> None:
        self._routes: dict[RouteKey, list[Handler[T]]] = {}
        for other in others:
            for key, handlers in other._routes.items():
                self._routes.setdefault(key, []).extend(handlers)

    def register(
        self, event: str, action: str | None = None
    ) -> Callable[[Handler[T]], Handler[T]]:
        """Decorator: call the handler for `event` (and `action`, when given)."""

        def decorate(handler: Handler[T]) -> Handler[T]:
            self._routes.setdefault((event, action), []).append(handler)
            return handler

        return decorate

    def add(self, handler: Handler[T], event: str, action: str | None = None) -> None:
        """Register without the decorator syntax."""
        self.register(event, action)(handler)

    def events(self) -> set[str]:
        """Every event name some handler is registered for (the App must subscribe to them)."""
        return {event for event, _ in self._routes}

    def handlers_for(self, event: str, action: str | None) -> list[Handler[T]]:
        """Handlers for this exact action first, then those registered for every action."""
        found = list(self._routes.get((event, action), ()))
        if action is not None:
            found.extend(self._routes.get((event, None), ()))
        return found

    def routes(self) -> Iterator[tuple[RouteKey, Handler[T]]]:
        """Every registered (event, action) with its handler, in registration order."""
        for key, handlers in self._routes.items():
            for handler in handlers:
                yield key, handler

    def dispatch(self, event: WebhookEvent, context: HandlerContext) -> list[T]:
        """Run every matching handler; their outcomes concatenated, empty when none matched."""
        outcomes: list[T] = []
        for handler in self.handlers_for(event.event, event.action):
            outcomes.extend(handler(event, context))
        return outcomes
