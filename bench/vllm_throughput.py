#!/usr/bin/env python3
"""vLLM's side of bench/gpu_throughput.py: the same synthetic one-page documents through `vllm.LLM`
built with the arguments gemmadoc's vLLM backend uses (model/vllm_engine.py: engine_kwargs).

  naive: one request at a time through the engine;
  ours:  every request handed to the engine at once (continuous batching), as the backend does.
A4 page image at budget 280, a ~300-token prompt, a fixed answer length (EOS ignored, no grammar on
either side, so both decode the same amount).

    python bench/vllm_throughput.py             # a CUDA GPU with vLLM (`pip install 'gemmadoc[vllm]'`):
                                                # the real 26B-A4B config with dummy weights (load_format=dummy)
    .venv-vllm/bin/python bench/vllm_throughput.py --tiny   # CPU, vLLM's CPU build (make test-vllm builds .venv-vllm)

Dummy weights: a folder holding only the real config.json (bench/gpu_throughput.py's real_config) beside the
tiny model's tokenizer, processor and chat template loads with random weights under `load_format="dummy"`;
the tokenizer must fit in the config's vocabulary (262,144 >= the tiny 1,300), so the prompts run unchanged.
Ends with: RESULT device=... backend=vllm pages_per_s=... speedup_vs_naive=... output_tok_per_s=... gpu_idle_share=... peak_gpu_gb=...
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def dummy_checkpoint(tiny: Path, parent: Path | None = None) -> Path:
    """The real 26B-A4B config.json with the tiny tokenizer/processor/template: dummy weights in vLLM."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gpu_throughput import real_config

    out = Path(tempfile.mkdtemp(prefix="gemma4-26b-dummy-", dir=parent))
    for f in tiny.iterdir():
        if f.name not in ("config.json", "model.safetensors"):
            shutil.copy2(f, out / f.name)
    cfg = real_config()
    cfg.vision_config.default_output_length = 280
    tok = json.loads((tiny / "config.json").read_text())
    for key in ("image_token_id", "boi_token_id", "eoi_token_id", "video_token_id"):  # the tiny tokenizer's ids
        setattr(cfg, key, tok[key])
    cfg.text_config.bos_token_id, cfg.text_config.pad_token_id = tok["text_config"]["bos_token_id"], tok["text_config"]["pad_token_id"]
    cfg.architectures = ["Gemma4ForConditionalGeneration"]
    cfg.save_pretrained(out)
    return out


def page_image():
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1240, 1754), "white")
    d = ImageDraw.Draw(img)
    for i in range(60):
        d.text((60, 40 + 28 * i), f"Line {i}: the supplier shall deliver the goods within {i} days of the order.", fill="black")
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU with the tiny random Gemma 4 (vLLM's CPU build)")
    ap.add_argument("--docs", type=int, default=None, help="one-page documents (default 256 GPU / 8 tiny)")
    ap.add_argument("--naive-pages", type=int, default=None, help="pages timed one at a time (default 8 GPU / 3 tiny)")
    ap.add_argument("--out-tokens", type=int, default=None, help="answer tokens (default 256 GPU / 32 tiny)")
    ap.add_argument("--max-num-seqs", type=int, default=None, help="default 256 GPU / 8 tiny")
    args = ap.parse_args()
    import torch
    from vllm import LLM, SamplingParams

    from model.processor import load_processor
    from model.prompts import PromptCounter
    from model.tiny import ensure_tiny
    from model.vllm_engine import engine_kwargs

    tiny = ensure_tiny()
    docs = args.docs or (8 if args.tiny else 256)
    naive_pages = args.naive_pages or (3 if args.tiny else 8)
    out_tokens = args.out_tokens or (32 if args.tiny else 256)
    path = str(tiny) if args.tiny else str(dummy_checkpoint(tiny))
    kw = engine_kwargs(path, revision=None, dtype="float32" if args.tiny else "bfloat16", gpu_memory_utilization=0.9,
                       max_num_seqs=args.max_num_seqs or (8 if args.tiny else 256), tensor_parallel_size=1,
                       quantization=None, enforce_eager=args.tiny, max_model_len=4096,
                       load_format="auto" if args.tiny else "dummy")
    t0 = time.perf_counter()
    llm = LLM(**kw)
    device = torch.cuda.get_device_name(0).replace(" ", "_") if torch.cuda.is_available() else "cpu-tiny"
    print(f"engine ready in {time.perf_counter() - t0:.1f}s on {device}")

    counter = PromptCounter(load_processor(str(tiny)))  # the backend's prompt rule (BOS once)
    filler = " ".join(f"clause {i} of the agreement" for i in range(24))  # ~300 prompt tokens beside the page
    prompt = counter.engine_text(counter.processor.apply_chat_template(
        [{"role": "system", "content": "Extract the key facts as JSON."},
         {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": filler}]}],
        tokenize=False, add_generation_prompt=True))
    img = page_image()
    item = {"prompt": prompt, "multi_modal_data": {"image": img}, "mm_processor_kwargs": {"max_soft_tokens": 280}}
    sp = SamplingParams(max_tokens=out_tokens, min_tokens=out_tokens, ignore_eos=True, temperature=0.0)
    llm.generate([item], SamplingParams(max_tokens=4, temperature=0.0), use_tqdm=False)  # warm-up

    t0 = time.perf_counter()
    for _ in range(naive_pages):
        llm.generate([item], sp, use_tqdm=False)
    naive_pps = naive_pages / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    items = [item] * docs
    t_gen = time.perf_counter()
    outs = llm.generate(items, sp, use_tqdm=False)
    generating = time.perf_counter() - t_gen
    wall = time.perf_counter() - t0
    assert all(len(o.outputs[0].token_ids) == out_tokens for o in outs)
    pps = docs / wall
    if torch.cuda.is_available():  # the engine runs in its own process: the device's used memory
        free, total = torch.cuda.mem_get_info()
        peak = (total - free) / 2**30
    else:
        peak = 0.0
    print(f"naive {naive_pps:.3f} pages/s; ours {docs} pages in {wall:.1f}s = {pps:.3f} pages/s "
          f"({len(outs[0].prompt_token_ids)} prompt tokens per page)")
    print(f"RESULT device={device} backend=vllm pages_per_s={pps:.3f} speedup_vs_naive={pps / naive_pps:.2f} "
          f"output_tok_per_s={docs * out_tokens / wall:.1f} gpu_idle_share={max(0.0, 1 - generating / wall):.4f} "
          f"peak_gpu_gb={peak:.2f}")


if __name__ == "__main__":
    main()
