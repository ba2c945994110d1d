"""The local-engine runner against a tiny stand-in `vllm` module: launch, health wait, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from bot.localengine import (
    MODEL_MARKER,
    MODEL_STAMP,
    RUNTIME_MARKER,
    RUNTIME_STAMP,
    LocalEngineConfig,
    ensure_runtime,
    free_port,
    prepare_model,
    start_local_engine,
)
from reviewers.errors import EngineUnavailable

FAKE_SERVER = textwrap.dedent("""
    import http.server, json, os, subprocess, sys
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1])
    host = args[args.index("--host") + 1]
    child = subprocess.Popen(["sleep", "300"])
    env = {k: os.environ[k] for k in ("VLLM_CPU_KVCACHE_SPACE", "HF_HUB_OFFLINE")}
    with open(os.environ["FAKE_RECORD"], "w") as out:
        json.dump({"argv": args, "env": env, "child": child.pid}, out)
    if os.environ.get("FAKE_FAIL"):
        print("boom: model directory unreadable", flush=True)
        sys.exit(3)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *a):
            pass
    http.server.HTTPServer((host, port), Health).serve_forever()
""")


@pytest.fixture
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "site" / "vllm" / "entrypoints" / "openai"
    package.mkdir(parents=True)
    for folder in (package, package.parent, package.parent.parent):
        (folder / "__init__.py").write_text("")
    (package / "api_server.py").write_text(FAKE_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_RECORD", str(record))
    return record


def _config(tmp_path: Path) -> LocalEngineConfig:
    return LocalEngineConfig(model_dir=tmp_path / "model", python=Path(sys.executable),
                             log_path=tmp_path / "logs" / "vllm.log", max_num_seqs=1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_starts_healthy_with_the_cpu_flags_and_stops_its_whole_group(
    tmp_path: Path, fake_vllm: Path
) -> None:
    engine = start_local_engine(_config(tmp_path), startup_timeout_s=30)
    try:
        assert httpx.get(f"{engine.url}/health").status_code == 200
        record = json.loads(fake_vllm.read_text())
    finally:
        engine.stop()
    argv = record["argv"]
    assert argv[argv.index("--scheduling-policy") + 1] == "priority"
    assert argv[argv.index("--max-model-len") + 1] == "4096"
    assert argv[argv.index("--max-num-seqs") + 1] == "1"
    assert {"--enforce-eager", "--enable-prompt-tokens-details"} <= set(argv)
    assert record["env"] == {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    assert engine.url.startswith("http://127.0.0.1:")
    assert engine.process.poll() is not None
    deadline = time.monotonic() + 5
    while _alive(record["child"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(record["child"]), "a child of the server outlived stop()"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{engine.url}/health")


def test_a_server_that_dies_during_startup_is_reported_with_its_log(
    tmp_path: Path, fake_vllm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(EngineUnavailable, match="boom: model directory unreadable"):
        start_local_engine(_config(tmp_path), startup_timeout_s=30)


def test_prepared_runtime_and_model_are_reused_without_running_anything(tmp_path: Path) -> None:
    venv = tmp_path / "vllm-cpu-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")  # never executed: it is not even a program
    (venv / RUNTIME_MARKER).write_text(RUNTIME_STAMP + "\n")
    model = tmp_path / "models" / "SmolLM2-135M-Instruct"
    model.mkdir(parents=True)
    (model / MODEL_MARKER).write_text(MODEL_STAMP + "\n")
    python = ensure_runtime(venv)
    assert python == venv / "bin" / "python"
    assert prepare_model(tmp_path, python) == model


def _prepared_cache(tmp_path: Path) -> Path:
    """A cache dir whose runtime is this interpreter and whose model is marked prepared."""
    cache = tmp_path / "cache"
    venv = cache / "vllm-cpu-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / RUNTIME_MARKER).write_text(RUNTIME_STAMP + "\n")
    model = cache / "models" / "SmolLM2-135M-Instruct"
    model.mkdir(parents=True)
    (model / MODEL_MARKER).write_text(MODEL_STAMP + "\n")
    return cache


def test_serve_local_command_announces_the_server_and_stops_it_on_ctrl_c(
    tmp_path: Path, fake_vllm: Path
) -> None:
    cache = _prepared_cache(tmp_path)
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "engine", "serve-local", "--cache-dir", str(cache),
         "--port", str(port), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as cli:
        try:
            assert cli.stdout is not None
            announced = json.loads(cli.stdout.readline())
            assert announced["url"] == f"http://127.0.0.1:{port}"
            assert announced["model"] == "SmolLM2-135M-Instruct"
            assert httpx.get(f"{announced['url']}/health").status_code == 200
            argv = json.loads(fake_vllm.read_text())["argv"]
            model = cache / "models" / "SmolLM2-135M-Instruct"
            assert argv[argv.index("--model") + 1] == str(model)
            assert "--structured-outputs-config" in argv
            cli.send_signal(signal.SIGINT)
            assert cli.wait(timeout=30) == 0
        finally:
            cli.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")


def test_serve_local_command_fails_with_one_line_when_the_server_dies(
    tmp_path: Path, fake_vllm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "engine", "serve-local", "--cache-dir",
         str(_prepared_cache(tmp_path)), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "boom: model directory unreadable" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_setup_script_accepts_what_the_module_stamps(tmp_path: Path) -> None:
    """`scripts/setup-vllm-cpu` (CI) and `reviewbot engine serve-local` share one cache: a
    runtime and model the one stamped are taken as ready by the other, without reinstalling
    (the runtime stamp includes the constraints file's hash in both)."""
    repo_root = Path(__file__).resolve().parents[1]
    cache = _prepared_cache(tmp_path)
    done = subprocess.run(["bash", str(repo_root / "scripts" / "setup-vllm-cpu"), "--quiet"],
                          env={**os.environ, "REVIEWBOT_CACHE_DIR": str(cache)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        f"python={cache}/vllm-cpu-venv/bin/python",
        f"model={cache}/models/SmolLM2-135M-Instruct"]
