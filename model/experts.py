"""Which MoE experts kernel decodes (`--decode-experts`).

Once the prompts are prefilled, transformers' `generate()` switches the experts from grouped_mm to
batched_mm on every device but the CPU (`_optimize_model_for_decode`, transformers 5.x). batched_mm copies
each selected expert's weights for every (row, expert) pair: ~95 MB per row per layer for Gemma 4 26B A4B in
bf16, so a batch of 100 rows moves ~285 GB per decoded token, where grouped_mm reads each routed expert
once (~46 GB for the whole model). gemmadoc replaces that device-dependent switch with an explicit choice:
by default the decode keeps the prefill's kernel; `bench/gpu_throughput.py --compare-decode` times both on a GPU.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial


def decode_with(model, experts: str | None) -> None:
    """Make `model.generate()` decode with the `experts` kernel (None: the model's own, the prefill's) in
    place of transformers' switch to batched_mm. Nothing to replace on a transformers without that switch."""
    if hasattr(type(model), "_optimize_model_for_decode"):
        model._optimize_model_for_decode = partial(_decoding, model, experts)


@contextmanager
def _decoding(model, experts: str | None):
    """Decode with `experts`, then restore the model's kernels for the next prefill."""
    before = model.get_experts_implementation()
    if experts is None or set(before.values()) <= {experts, None}:
        yield
        return
    model.set_experts_implementation({k: experts if v is not None else v for k, v in before.items()})
    try:
        yield
    finally:
        model.set_experts_implementation(before)
