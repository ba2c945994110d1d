"""The sandbox holds: generated code gets no network, no secrets, no writes outside its
checkout, no life after its time limit; fork bombs and memory hogs are contained.

Every test runs real Python under the real bubblewrap sandbox and checks from the host.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewers.testgen import Sandbox, SandboxConfig, SandboxResult, SandboxUnavailable


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(SandboxConfig(cpu_seconds=20, wall_timeout_s=20.0, max_processes=32,
                                memory_bytes=512 * 1024**2))
    reason = box.probe()
    if reason is not None:
        pytest.fail(f"these tests need bubblewrap: {reason} (run scripts/setup-sandbox)")
    return box


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    path = tmp_path / "checkout"
    path.mkdir()
    return path


async def run_python(box: Sandbox, checkout: Path, code: str, *args: str,
                     timeout_s: float = 20.0) -> SandboxResult:
    return await box.run([sys.executable, "-c", code, *args], writable=checkout, cwd=checkout,
                         timeout_s=timeout_s)


def processes_with(marker: str) -> list[int]:
    """Host pids whose command line carries `marker` (what survived a run)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def host_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on the host's loopback that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            accepted.append(str(peer))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


NETWORK = """\
import socket, sys
for host, port in (("127.0.0.1", int(sys.argv[1])), ("1.1.1.1", 53), ("pypi.org", 443)):
    try:
        socket.create_connection((host, port), timeout=3).close()
        print("CONNECTED", host)
    except OSError as exc:
        print("blocked", host, type(exc).__name__)
"""


async def test_generated_code_cannot_open_a_network_connection(
        sandbox: Sandbox, checkout: Path, host_listener: tuple[int, list[str]]) -> None:
    port, accepted = host_listener
    done = await run_python(sandbox, checkout, NETWORK, str(port))
    assert done.ok, done.output
    assert "CONNECTED" not in done.output
    assert done.output.count("blocked") == 3
    assert accepted == []  # not even the host's own loopback is reachable


SNOOP = """\
import os, sys
from pathlib import Path
print("ENV", dict(os.environ))
print("SELF", Path("/proc/self/environ").read_bytes())
for path in sys.argv[1:]:
    try:
        print("READ", path, Path(path).read_text())
    except OSError as exc:
        print("denied", path, type(exc).__name__)
print("HOME", sorted(os.listdir(os.path.expanduser("~"))))
"""


async def test_generated_code_cannot_read_the_hosts_environment_or_home(
        sandbox: Sandbox, checkout: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"token-{uuid.uuid4().hex}"
    monkeypatch.setenv("REVIEWBOT_GITHUB_PRIVATE_KEY", secret)
    fd, home_file = tempfile.mkstemp(prefix=".reviewbot-sandbox-", dir=Path.home())
    data_dir = tmp_path / "botdata"
    data_dir.mkdir()
    (data_dir / "key.pem").write_text(secret)
    box = Sandbox(SandboxConfig(extra_hidden=(str(data_dir),)))
    try:
        os.write(fd, secret.encode())
        os.close(fd)
        done = await run_python(box, checkout, SNOOP, home_file, str(data_dir / "key.pem"),
                                f"/proc/{os.getpid()}/environ")
    finally:
        os.unlink(home_file)
    assert done.ok, done.output
    assert secret not in done.output
    assert "REVIEWBOT" not in done.output
    assert done.output.count("denied") == 3
    home_line = next(line for line in done.output.splitlines() if line.startswith("HOME "))
    assert Path(home_file).name not in home_line  # HOME is a fresh tmpfs, not the host's


WRITER = """\
import sys
from pathlib import Path
for path in sys.argv[1:]:
    try:
        Path(path).write_text("escaped")
        print("wrote", path)
    except OSError as exc:
        print("refused", path, exc.strerror)
"""


async def test_generated_code_cannot_write_outside_its_checkout(
        sandbox: Sandbox, checkout: Path) -> None:
    outside = Path(tempfile.mkdtemp(prefix="reviewbot-outside-", dir="/var/tmp"))
    private_tmp = f"/tmp/reviewbot-{uuid.uuid4().hex}"
    try:
        done = await run_python(sandbox, checkout, WRITER, str(checkout / "inside.txt"),
                                str(outside / "escaped.txt"), str(checkout.parent / "up.txt"),
                                "/usr/escaped.txt", private_tmp)
        assert done.ok, done.output
        assert (checkout / "inside.txt").read_text() == "escaped"
        assert not (outside / "escaped.txt").exists()
        assert not Path("/usr/escaped.txt").exists()
        assert done.output.count("refused") == 2  # the read-only system
        # the sandbox's /tmp is its own tmpfs: what lands there never reaches the host
        assert f"wrote {private_tmp}" in done.output
        assert not Path(private_tmp).exists()
        assert not (checkout.parent / "up.txt").exists()
    finally:
        os.rmdir(outside)


ESCAPER = """\
import os, sys, time
from pathlib import Path
if os.fork() == 0:
    os.setsid()  # a daemon: its own session, away from the process group
    if os.fork() == 0:
        time.sleep(0.6)
        Path("survived.txt").write_text("still running")
        os._exit(0)
    os._exit(0)
print("sleeping", flush=True)
time.sleep(60)
"""


async def test_generated_code_does_not_outlive_its_time_limit(
        sandbox: Sandbox, checkout: Path) -> None:
    marker = f"rb-escaper-{uuid.uuid4().hex}"
    started = time.monotonic()
    done = await run_python(sandbox, checkout, ESCAPER, marker, timeout_s=0.4)
    assert done.timed_out
    assert not done.ok
    assert time.monotonic() - started < 5
    assert "killed after the" in done.output
    assert processes_with(marker) == []
    time.sleep(0.8)  # past the moment the daemon would have written
    assert not (checkout / "survived.txt").exists()


FORK_BOMB = """\
import os, time
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
"""


async def test_a_fork_bomb_is_contained_and_cleaned_up(sandbox: Sandbox, checkout: Path) -> None:
    marker = f"rb-bomb-{uuid.uuid4().hex}"
    started = time.monotonic()
    done = await run_python(sandbox, checkout, FORK_BOMB, marker, timeout_s=1.0)
    assert done.timed_out
    assert time.monotonic() - started < 10
    assert processes_with(marker) == []
    after = await run_python(sandbox, checkout, "print('still fine')")  # the host copes
    assert after.ok
    assert "still fine" in after.output


MEMORY_HOG = """\
chunks = []
while True:
    chunks.append(b"x" * (64 * 1024 * 1024))  # touched pages, 64 MiB at a time
"""


async def test_a_memory_hog_is_stopped_by_the_memory_limit(
        sandbox: Sandbox, checkout: Path) -> None:
    done = await run_python(sandbox, checkout, MEMORY_HOG, timeout_s=15.0)
    assert not done.timed_out  # stopped by the limit, not by the clock
    assert done.returncode != 0
    assert "MemoryError" in done.output


def fake_bwrap(tmp_path: Path) -> str:
    """A bwrap that fails like one in a container without user namespaces."""
    script = tmp_path / "bwrap"
    script.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, "
                      "likely because the kernel does not allow non-privileged user "
                      "namespaces' >&2\nexit 1\n")
    script.chmod(0o755)
    return str(script)


async def test_without_namespaces_the_sandbox_says_so_and_runs_nothing(
        tmp_path: Path, checkout: Path) -> None:
    box = Sandbox(SandboxConfig(bwrap=fake_bwrap(tmp_path)))
    reason = box.probe()
    assert reason is not None
    assert reason.startswith("bwrap cannot create its namespaces: bwrap: No permissions")
    with pytest.raises(SandboxUnavailable, match="sandbox unavailable: bwrap cannot create"):
        await run_python(box, checkout, "open('ran.txt', 'w').write('ran')")
    assert not (checkout / "ran.txt").exists()


async def test_the_operator_may_allow_unsandboxed_runs_explicitly(
        tmp_path: Path, checkout: Path) -> None:
    box = Sandbox(SandboxConfig(bwrap=fake_bwrap(tmp_path), allow_unsandboxed=True))
    done = await run_python(box, checkout, "open('ran.txt', 'w').write('ran')")
    assert done.ok
    assert not done.sandboxed
    assert (checkout / "ran.txt").read_text() == "ran"
