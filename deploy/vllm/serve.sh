#!/usr/bin/env bash
# Start one vLLM replica of IQuest-Coder-V1-40B-Instruct for reviewbot.
#
# Usage: deploy/vllm/serve.sh [--dry-run] [PROFILE] [-- EXTRA VLLM FLAGS...]
#
#   PROFILE      h100-tp2 (default), h100-tp4, h200-tp1 or h200-tp2: a YAML file beside
#                this script with the flags (README.md explains the choice)
#   --dry-run    print the command instead of running it
#
# Environment:
#   MODEL         weights: a local directory or a hub id (default
#                 IQuestLab/IQuest-Coder-V1-40B-Instruct)
#   PORT          listen port (default 8000, from the profile)
#   VLLM_API_KEY  read by vLLM itself: clients must send it as a bearer token; the bot
#                 sends REVIEWBOT_ENGINE_API_KEY. Kept out of the command line (ps shows it).
#   CUDA_VISIBLE_DEVICES  which GPUs this replica uses (as many as the profile's TP)
#
# Examples:
#   CUDA_VISIBLE_DEVICES=0,1 deploy/vllm/serve.sh h100-tp2
#   CUDA_VISIBLE_DEVICES=2,3 PORT=8001 deploy/vllm/serve.sh h100-tp2
#   MODEL=/models/IQuest-Coder-V1-40B-Instruct deploy/vllm/serve.sh h200-tp1 -- --seed 0
#   deploy/vllm/serve.sh --dry-run h200-tp2
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dry_run=0
profile=h100-tp2
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --dry-run) dry_run=1 ;;
    --) shift; extra=("$@"); break ;;
    -*) echo "serve.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) profile=$1 ;;
  esac
  shift
done

config="$here/$profile.yaml"
if [ ! -f "$config" ]; then
  known=$(cd "$here" && ls -- *.yaml | sed 's/\.yaml$//' | tr '\n' ' ')
  echo "serve.sh: no profile '$profile' (known: $known)" >&2
  exit 2
fi

cmd=(vllm serve "${MODEL:-IQuestLab/IQuest-Coder-V1-40B-Instruct}" --config "$config")
if [ -n "${PORT:-}" ]; then cmd+=(--port "$PORT"); fi
cmd+=("${extra[@]}")

if [ "$dry_run" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
if ! command -v vllm >/dev/null 2>&1; then
  echo "serve.sh: vllm is not installed (pip install 'reviewbot[gpu]' or the vllm/vllm-openai image)" >&2
  exit 2
fi
exec "${cmd[@]}"
