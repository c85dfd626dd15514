#!/usr/bin/env python3
"""Peak memory of a long batch's prefill: in pieces (model/prefill.py, the backend's way) against one pass
(generate() alone), on real-width Gemma 4 26B-A4B layers with random weights, in one process.

The real hidden size, heads, 128 experts (top 8) and the dense MLP, but `--layers` of them (default 2: one
sliding, one global) and a small vocabulary, so that it runs on a CPU: a prefill's activations are
transient per layer, so their peak does not grow with depth. Text prompts of `--context` tokens x `--rows`.
On CPU the peak is the resident set sampled every 2 ms above what it was before the call; on a GPU,
torch.cuda.max_memory_allocated above the allocation before the call. Beside each figure, what
model/fit.py (`gemmadoc doctor`) estimates for the same pass. Each variant runs in a fresh process (same
seed, same weights), so no allocator pool carries over from one to the other.

    python bench/prefill_memory.py                     # CPU, ~13 minutes on 2 cores: 4 x 4096 tokens, pieces of 2048
    python bench/prefill_memory.py --rows 8 --context 16384 --prefill-tokens 8192   # on a GPU, issue 18's size

Ends with: RESULT device=... layers=... rows=... context=... prefill_tokens=... pieces_gb=... one_pass_gb=...
one_pass_over_pieces=... estimate_pieces_gb=... estimate_one_pass_gb=... same_tokens=...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from model.fit import activations_gb, text_masks_gb  # noqa: E402
from model.prefill import generate_inputs  # noqa: E402


def layers_config(layers: int, vocab: int):
    """The real 26B-A4B text widths (bench/gpu_throughput.py real_config) with `layers` layers."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gpu_throughput import real_config

    cfg = real_config()
    text = cfg.text_config
    pattern = ["sliding_attention", "full_attention"] if layers >= 2 else ["sliding_attention"]
    text.num_hidden_layers = layers
    text.layer_types = (pattern * layers)[:layers]
    text.vocab_size = vocab
    cfg.vision_config.num_hidden_layers = 1  # text prompts here: the tower is built, never run
    return cfg


class PeakResident:
    """The largest resident set seen while in the block, sampled every 2 ms (CPU)."""

    def __enter__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.base = self.peak = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._now())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._now())

    @property
    def gb(self) -> float:
        return (self.peak - self.base) / 1e9


class PeakAllocated:
    """torch.cuda.max_memory_allocated above the allocation at the start of the block (GPU)."""

    def __enter__(self):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.base = torch.cuda.memory_allocated()
        return self

    def __exit__(self, *exc):
        torch.cuda.synchronize()
        self.gb = (torch.cuda.max_memory_allocated() - self.base) / 1e9


def prefill_peak(model, batch, prefill_tokens: int, device: str) -> tuple[float, list]:
    """Peak memory above the start of one generate() of 2 tokens, prefilled in pieces (or in one pass: 0)."""
    with PeakAllocated() if device == "cuda" else PeakResident() as peak, torch.inference_mode():
        out = model.generate(**generate_inputs(model, batch, prefill_tokens), max_new_tokens=2, do_sample=False, pad_token_id=0)
    return peak.gb, out.tolist()


def measure(args) -> None:
    """One variant (`--only P`) in this process: prints `PEAK <gb> <output token ids>`."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)  # the same random weights in every process
    from transformers import AutoModelForImageTextToText

    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(layers_config(args.layers, args.vocab), dtype=torch.bfloat16).eval()
    gen = torch.Generator(device="cpu").manual_seed(1)
    ids = torch.randint(300, args.vocab, (args.rows, args.context), generator=gen)
    ids[:, 0] = 2  # bos
    batch = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids, device=device),
             "mm_token_type_ids": torch.zeros_like(ids, device=device)}
    gb, out = prefill_peak(model, batch, args.only, device)
    print("PEAK", f"{gb:.4f}", json.dumps([row[-2:] for row in out]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--context", type=int, default=4096)
    ap.add_argument("--prefill-tokens", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--only", type=int, default=None, help=argparse.SUPPRESS)  # one variant, in a child process
    args = ap.parse_args()
    if args.only is not None:
        return measure(args)
    results = {}
    for prefill_tokens in (args.prefill_tokens, 0):  # each in a fresh process: no allocator pool carried over
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", str(prefill_tokens)],
                               capture_output=True, text=True, check=False)
        peak = [line.split(" ", 2) for line in child.stdout.splitlines() if line.startswith("PEAK ")]
        if child.returncode or not peak:
            sys.exit(f"variant --prefill-tokens {prefill_tokens} failed:\n{child.stdout[-2000:]}{child.stderr[-2000:]}")
        results[prefill_tokens] = (float(peak[0][1]), json.loads(peak[0][2]))
        how = f"pieces of {prefill_tokens} tokens" if prefill_tokens else "one pass"
        print(f"{args.rows} x {args.context} tokens, {args.layers} layers, {how}: peak {results[prefill_tokens][0]:.2f} GB "
              f"above the start ({time.perf_counter() - t0:.1f}s with model set-up)")
    tokens = args.rows * args.context

    def estimate(pass_tokens: int) -> float:  # model/fit.py's activations and text masks of one pass
        return activations_gb(pass_tokens) + text_masks_gb(pass_tokens, args.context)

    pieces, one_pass = results[args.prefill_tokens][0], results[0][0]
    same = results[args.prefill_tokens][1] == results[0][1]
    name = torch.cuda.get_device_name(0).replace(" ", "_") if torch.cuda.is_available() else "cpu"
    print(f"RESULT device={name} layers={args.layers} rows={args.rows} context={args.context} "
          f"prefill_tokens={args.prefill_tokens} pieces_gb={pieces:.2f} one_pass_gb={one_pass:.2f} "
          f"one_pass_over_pieces={one_pass / max(pieces, 1e-9):.2f} "
          f"estimate_pieces_gb={estimate(min(args.prefill_tokens, tokens)):.2f} "
          f"estimate_one_pass_gb={estimate(tokens):.2f} same_tokens={int(same)}")


if __name__ == "__main__":
    main()
