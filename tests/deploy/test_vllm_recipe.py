"""The vLLM launch recipe (deploy/vllm/): profiles carry the flags the bot depends on, the
README's sizing table matches the profiles, and serve.sh builds the command it documents."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "vllm"
PROFILES = sorted(path.stem for path in RECIPE.glob("*.yaml"))
KV_BYTES_PER_TOKEN = 2 * 80 * 8 * 128  # fp8: K and V x layers x KV heads x head dim
WEIGHTS_GB = 2 * 39.793  # bf16: 39.8 B parameters (README)
RESERVE_GB_PER_GPU = 4.0
GPU_GB = {"h100": 80, "h200": 141}


def load(profile: str) -> dict[str, Any]:
    data = yaml.safe_load((RECIPE / f"{profile}.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_there_are_profiles_for_h100_and_h200() -> None:
    assert {name.split("-")[0] for name in PROFILES} == {"h100", "h200"}


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_sets_what_the_bot_relies_on(profile: str) -> None:
    flags = load(profile)
    assert flags["served-model-name"] == "IQuest-Coder-V1-40B-Instruct"
    assert flags["max-model-len"] == 131072
    assert str(flags["kv-cache-dtype"]).startswith("fp8")
    assert flags["enable-prefix-caching"] is True
    assert flags["enable-chunked-prefill"] is True
    assert flags["scheduling-policy"] == "priority"
    assert flags["enable-prompt-tokens-details"] is True
    assert 0.5 < flags["gpu-memory-utilization"] < 1
    assert flags["max-num-queued-reqs"] > flags["max-num-seqs"]
    assert flags["max-num-queued-tokens"] >= 100_000
    assert flags["tensor-parallel-size"] == int(profile.rsplit("tp", 1)[1])
    assert not any("guided" in key or "api-key" in key for key in flags)


@pytest.mark.parametrize("profile", PROFILES)
def test_readme_sizing_row_is_the_arithmetic_of_the_profile(profile: str) -> None:
    flags = load(profile)
    gpus, memory = flags["tensor-parallel-size"], GPU_GB[profile.split("-")[0]]
    kv_gb = gpus * memory * flags["gpu-memory-utilization"] - WEIGHTS_GB \
        - RESERVE_GB_PER_GPU * gpus
    tokens = kv_gb * 1e9 / KV_BYTES_PER_TOKEN
    row = next(line for line in (RECIPE / "README.md").read_text().splitlines()
               if f"| `{profile}` |" in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[4].endswith(f"= {kv_gb:.1f} GB")
    assert int(cells[5].replace(",", "")) == pytest.approx(tokens, abs=100)
    assert int(cells[6]) == int(tokens // 102_000)
    assert int(cells[7]) == 8 // gpus
    assert int(cells[8]) == (8 // gpus) * int(tokens // 102_000)


def run_serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RECIPE / "serve.sh"), *args], capture_output=True, text=True,
        env={"PATH": os.environ["PATH"], **env}, timeout=30, check=False,
    )


def test_serve_builds_the_command_from_the_profile() -> None:
    done = run_serve("--dry-run", "h200-tp2", "--", "--seed", "0",
                     MODEL="/models/iq", PORT="8001", VLLM_API_KEY="sk-secret-value")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "vllm", "serve", "/models/iq", "--config", str(RECIPE / "h200-tp2.yaml"),
        "--port", "8001", "--seed", "0"]
    assert "sk-secret-value" not in done.stdout


def test_serve_refuses_an_unknown_profile_and_documents_itself() -> None:
    wrong = run_serve("--dry-run", "a100-tp8")
    assert wrong.returncode == 2
    assert "no profile 'a100-tp8'" in wrong.stderr
    assert re.search(r"known: .*h100-tp2", wrong.stderr)
    helped = run_serve("--help")
    assert helped.returncode == 0
    assert "Examples:" in helped.stdout
    assert "REVIEWBOT_ENGINE_API_KEY" in helped.stdout
