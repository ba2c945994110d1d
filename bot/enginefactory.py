"""Builds the engine pool from settings (the composition root for `reviewers.engine`)."""

from __future__ import annotations

from bot.settings import Settings
from reviewers.engine import EngineConfig, EnginePool
from reviewers.errors import EngineError, EngineUnavailable


def engine_config(settings: Settings, urls: list[str] | None = None) -> EngineConfig | None:
    """The pool configuration, or None when no engine URL is configured."""
    chosen = settings.engine_urls if urls is None else urls
    if not chosen:
        return None
    api_key = settings.engine_api_key.get_secret_value() if settings.engine_api_key else None
    return EngineConfig(
        urls=tuple(chosen), model=settings.engine_model, api_key=api_key,
        timeout_s=settings.engine_timeout_s, deadline_s=settings.engine_deadline_s,
        priority_scheduling=settings.engine_priority_scheduling,
        max_waiting=settings.engine_max_waiting,
        max_inflight_tokens=settings.engine_max_inflight_tokens,
    )


async def open_pool(config: EngineConfig, max_model_len: int) -> tuple[EnginePool, int]:
    """A pool whose replicas answered, and the usable context length.

    Fails fast with a message that says what to do when no replica is reachable or none
    serves the configured model; the context length is the smaller of the setting and
    what the servers report.
    """
    pool = EnginePool(config)
    try:
        described = await pool.describe()
        reachable = [d for d in described if d.reachable]
        if not reachable:
            where = ", ".join(config.urls)
            reason = described[0].error if described else "no replica configured"
            raise EngineUnavailable(
                f"the engine at {where} is unreachable ({reason}); start the vLLM server, "
                "fix REVIEWBOT_ENGINE_URLS, or pass --engine none for a static-only review")
        serving = [d for d in reachable if d.serves_configured_model]
        if not serving:
            offered = sorted({m for d in reachable for m in d.models})
            raise EngineError(
                f"no engine replica serves the model {config.model!r} (they serve "
                f"{', '.join(offered) or 'nothing'}); set REVIEWBOT_ENGINE_MODEL to one of them")
        lengths = [d.max_model_len for d in serving if d.max_model_len]
        usable = min([max_model_len, *lengths])
    except BaseException:
        await pool.aclose()
        raise
    return pool, usable
