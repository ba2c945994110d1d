"""Serve stand-in replicas from a separate process: `python -m tests.standin --replicas 4`.

Prints one line with the comma-separated URLs, then serves until stdin closes.
"""

from __future__ import annotations

import argparse
import sys

from tests.standin.engine import StandinConfig
from tests.standin.server import StandinServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--model", default=StandinConfig.model)
    parser.add_argument("--time-scale", type=float, default=0.0)
    parser.add_argument("--kv-capacity-tokens", type=int, default=StandinConfig.kv_capacity_tokens)
    parser.add_argument("--prefill-tokens-per-s", type=float,
                        default=StandinConfig.prefill_tokens_per_s)
    parser.add_argument("--decode-step-s", type=float, default=StandinConfig.decode_step_s)
    parser.add_argument("--max-num-seqs", type=int, default=StandinConfig.max_num_seqs)
    parser.add_argument("--scheduling-policy", default="fcfs", choices=["fcfs", "priority"])
    parser.add_argument("--answer", default=None, help="fixed answer text for every call")
    args = parser.parse_args()
    config = StandinConfig(
        model=args.model, time_scale=args.time_scale, kv_capacity_tokens=args.kv_capacity_tokens,
        prefill_tokens_per_s=args.prefill_tokens_per_s, decode_step_s=args.decode_step_s,
        max_num_seqs=args.max_num_seqs, scheduling_policy=args.scheduling_policy,
    )
    servers = [StandinServer(config).start() for _ in range(args.replicas)]
    if args.answer is not None:
        answer = args.answer
        for server in servers:
            server.script_fn(lambda call: answer)
    print(",".join(server.url for server in servers), flush=True)
    try:
        sys.stdin.read()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
