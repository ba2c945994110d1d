"""Convert the SmolLM2 GGUF into a bf16 safetensors directory; runs inside the vLLM CPU venv.

Invoked as a script by `bot.localengine.prepare_model` with the venv's interpreter
(the project venv has no torch): ``python localengine_convert.py GGUF OUT_DIR``.
Everything heavy is imported inside `convert` so importing this module costs nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def convert(gguf_path: Path, out_dir: Path) -> None:
    """Load tokenizer and model from the GGUF, re-save them as a plain bf16 checkpoint."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch  # type: ignore[import-not-found]
    from transformers import (  # type: ignore[import-not-found]
        AutoConfig,
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    config.torch_dtype = torch.bfloat16
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings legitimately leave lm_head out of one side; anything else is a bug.
    stray = [key for key in (*missing, *unexpected) if key != "lm_head.weight"]
    if stray:
        raise SystemExit(f"state dict mismatch: {stray}")
    fresh = fresh.to(torch.bfloat16)
    out_dir.mkdir(parents=True, exist_ok=True)
    fresh.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: localengine_convert.py GGUF OUT_DIR\n")
        return 2
    convert(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
