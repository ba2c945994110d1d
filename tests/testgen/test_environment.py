"""The Python generated tests run with: the repository's declared test dependencies, and one
cached virtualenv per repository built (with the network) before tests run (without)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reviewers.testgen import Sandbox, SandboxConfig
from reviewers.testgen.environment import CachedVenvProvider, declared_requirements


def test_declared_requirements_come_from_requirement_files_and_pyproject(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "requests>=2.31  # http\n-e .\n-r other.txt\n./vendor/pkg\n\n# comment\nattrs\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "test.txt").write_text("hypothesis==6.100.0\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "Shop"\ndependencies = ["pydantic>=2"]\n'
        '[project.optional-dependencies]\ntest = ["pytest-mock", "shop[extra]"]\n'
        'docs = ["sphinx"]\n')
    assert declared_requirements(tmp_path) == [
        "attrs", "hypothesis==6.100.0", "pydantic>=2", "pytest-mock", "requests>=2.31"]


@pytest.mark.slow  # installs from the package index: tens of seconds
async def test_a_cached_venv_is_built_once_with_network_then_used_without(
        tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "requirements.txt").write_text("six\n")
    provider = CachedVenvProvider(tmp_path / "venvs")
    box = Sandbox(SandboxConfig(wall_timeout_s=600.0, cpu_seconds=600))
    if box.probe() is not None:
        pytest.fail(f"needs bubblewrap: {box.probe()}")

    env = await provider.prepare("acme/shop", checkout, box)
    started = time.monotonic()
    again = await provider.prepare("acme/shop", checkout, box)
    assert again == env
    assert time.monotonic() - started < 1.0  # cached: nothing rebuilt
    assert (Path(env.python).parent.parent / ".complete").exists()

    work = tmp_path / "work"
    work.mkdir()
    done = await box.run([env.python, "-c", (
        "import six, pytest, coverage, socket\n"
        "try:\n    socket.create_connection(('pypi.org', 443), timeout=3)\n"
        "    print('online')\nexcept OSError:\n    print('offline')\n"
        "print('six', six.__version__)")], writable=work, cwd=work, readonly=env.readonly)
    assert done.ok, done.output
    assert "offline" in done.output  # tests run with the network cut
    assert "six " in done.output

    (checkout / "requirements.txt").write_text("six\nattrs\n")
    changed = await provider.prepare("acme/shop", checkout, box)
    assert changed.python != env.python  # new dependencies: a new venv
