"""Builds the test-generation setup (sandbox, Python environment, knobs) from settings.

The composition root for `reviewers.testgen`: the CLI and the service both call
`testgen_setup(settings)` and pass the result to `reviewers.pipeline.review(testgen=...)`.
The sandbox hides the bot's own data, mirror and venv directories from generated code.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from bot.settings import Settings
from reviewers.testgen import Sandbox, SandboxConfig, TestGenOptions, TestGenSetup
from reviewers.testgen.environment import (
    CachedVenvProvider,
    EnvironmentProvider,
    SharedEnvironment,
)


def sandbox_config(settings: Settings) -> SandboxConfig:
    """Limits from settings; the bot's own directories are hidden from generated code."""
    hidden = (str(Path(platformdirs.user_data_dir("reviewbot", appauthor=False))),
              str(settings.mirror_dir))
    timeout = settings.testgen_run_timeout_s
    return SandboxConfig(
        allow_unsandboxed=settings.testgen_allow_unsandboxed,
        cpu_seconds=max(1, int(timeout * 2)), wall_timeout_s=timeout,
        memory_bytes=settings.testgen_memory_mb * 1024**2,
        max_processes=settings.testgen_max_processes, extra_hidden=hidden)


def environment_provider(settings: Settings) -> EnvironmentProvider:
    if settings.testgen_environment == "venv":
        pip_env = {}
        if settings.testgen_pip_index_url is not None:
            pip_env["PIP_INDEX_URL"] = settings.testgen_pip_index_url.get_secret_value()
        return CachedVenvProvider(settings.testgen_venv_dir, pip_env=pip_env)
    return SharedEnvironment()


def testgen_setup(settings: Settings) -> TestGenSetup:
    """The setup `review(testgen=...)` takes; the sandbox is probed lazily on first use."""
    options = TestGenOptions(
        candidates_per_target=settings.testgen_candidates_per_target,
        max_targets=settings.testgen_max_targets, check_base=settings.testgen_check_base,
        run_timeout_s=settings.testgen_run_timeout_s)
    return TestGenSetup(sandbox=Sandbox(sandbox_config(settings)), options=options,
                        environment=environment_provider(settings))
