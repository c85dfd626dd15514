"""How much GPU memory Gemma 4 26B A4B needs per `--quantization`, and which settings fit a GPU: what
`gemmadoc doctor` reports. Weights + KV cache at the context and batch + activations (attention masks
included) + CUDA overhead. `bench/gpu_throughput.py --context N --batch B` measures the same on a GPU.

Parameter counts per part from the real config built on the meta device (`python bench/gpu_throughput.py
--meta`; tied embeddings counted once); the architecture figures from that config: 30 layers, 25 with
sliding-window attention (window 1024, 8 KV heads of 256) and 5 global (2 KV heads of 512)."""

from __future__ import annotations

from dataclasses import dataclass

from model.prefill import PREFILL_TOKENS
from model.quantize import EXPERT_GROUP
from model.vision_groups import VISION_GROUP

PARTS_B = {"experts": 22.838, "text": 1.657, "embeddings": 0.738, "vision": 0.573}  # billions of parameters
TOTAL_PARAMS_B = round(sum(PARTS_B.values()), 2)
# bits per weight, scales included: int8 per-row scales, NF4 one fp32 absmax per 64 weights, fp8 128x128 blocks.
# Embeddings and the vision tower stay bf16 in every method (see model/quantize.py).
BITS = {
    "none": {"experts": 16, "text": 16, "embeddings": 16, "vision": 16},
    "int8": {"experts": 8.0, "text": 8.0, "embeddings": 16, "vision": 16},
    "nf4": {"experts": 4.5, "text": 4.5, "embeddings": 16, "vision": 16},
    "fp8": {"experts": 8.0, "text": 8.0, "embeddings": 16, "vision": 16},
}
LAYERS_SLIDING, WINDOW, KV_HEADS, HEAD_DIM = 25, 1024, 8, 256
LAYERS_GLOBAL, GLOBAL_KV_HEADS, GLOBAL_HEAD_DIM = 5, 2, 512
HIDDEN, HEADS, EXPERTS, TOP_K, EXPERT_INTERMEDIATE = 2816, 16, 128, 8, 704
PAGE_PATCHES = 1120 * 9  # vision patches of a page at the largest budget (3x3 pooled into each soft token)
PAGE_TOKENS = 1092  # soft tokens of an A4 page at that budget
CUDA_OVERHEAD_GB = 1.5  # CUDA context, allocator fragmentation, the vision tower's activations


@dataclass(frozen=True)
class Estimate:
    quantization: str
    weights_gb: float
    kv_cache_gb: float
    activations_gb: float
    total_gb: float
    supported: bool = True  # fp8 needs compute capability 8.9+
    fits: bool | None = None  # against the GPU it was checked for (None: no GPU)


def weights_gb(quantization: str) -> float:
    """Weights in GB for a quantization (bf16 for `none`)."""
    return sum(PARTS_B[p] * BITS[quantization][p] / 8 for p in PARTS_B)


def kv_cache_gb(context: int, batch: int) -> float:
    """bf16 KV cache of `batch` sequences of `context` tokens (sliding layers keep only their window)."""
    per_seq = (LAYERS_GLOBAL * 2 * GLOBAL_KV_HEADS * GLOBAL_HEAD_DIM * context
               + LAYERS_SLIDING * 2 * KV_HEADS * HEAD_DIM * min(context, WINDOW)) * 2
    return per_seq * batch / 1e9


def activations_gb(tokens: int) -> float:
    """Peak activations of one prefill pass over `tokens` tokens, in bf16: a few hidden-state copies
    (residual, norms, attention and MLP outputs), a global layer's queries and attention output, and the
    routed experts' per-(token, expert) copies (grouped_mm: 8 per token of the input, gate-up, activation
    and output; transformers.integrations.moe)."""
    per_token = HIDDEN * 6 + 2 * HEADS * GLOBAL_HEAD_DIM + TOP_K * (2 * HIDDEN + 3 * EXPERT_INTERMEDIATE)
    return tokens * per_token * 2 / 1e9


def text_masks_gb(tokens: int, context: int) -> float:
    """The dense boolean masks transformers' sdpa path builds for one prefill pass over `tokens` queries:
    up to `context` keys each, for each attention type (full and sliding)."""
    return 2 * tokens * context / 1e9


def masks_gb(tokens: int, context: int) -> float:
    """One prefill pass's text masks, and one group of page images x patches^2 for the vision tower
    (model/vision_groups.py; a pass holds at most its tokens' worth of pages)."""
    pages = min(VISION_GROUP, tokens // PAGE_TOKENS + 1)
    return text_masks_gb(tokens, context) + pages * PAGE_PATCHES * PAGE_PATCHES / 1e9


def estimate(quantization: str, context: int = 16384, batch: int = 8, batch_tokens: int | None = None,
             compute_capability: tuple[int, int] | None = None, gpu_gb: float | None = None,
             prefill_tokens: int = PREFILL_TOKENS) -> Estimate:
    """Memory of one loaded model serving `batch` requests of `context` tokens (generate() batches of at
    most `batch_tokens`, default context x batch, prefilled in passes of `prefill_tokens`: model/prefill.py;
    0 = the whole batch in one pass); `fits` when a GPU size is given."""
    w = weights_gb(quantization)
    kv = kv_cache_gb(context, batch)
    rows_tokens = min(batch_tokens or context * batch, context * batch)
    one_pass = min(prefill_tokens, rows_tokens) if prefill_tokens else rows_tokens
    act = activations_gb(one_pass) + masks_gb(one_pass, context)
    if quantization in ("nf4", "int8"):  # a group of one layer's experts dequantized to bf16 for a prefill (model/quantize.py)
        act += PARTS_B["experts"] / (LAYERS_SLIDING + LAYERS_GLOBAL) * 2 * min(1.0, EXPERT_GROUP / EXPERTS)
    total = w + kv + act + CUDA_OVERHEAD_GB
    supported = quantization != "fp8" or compute_capability is None or compute_capability >= (8, 9)
    fits = None if gpu_gb is None else (supported and total <= gpu_gb)
    return Estimate(quantization, round(w, 1), round(kv, 1), round(act, 1), round(total, 1), supported, fits)


BEST_FIRST = ("none", "fp8", "int8", "nf4")  # quality, then speed (fp8 runs on tensor cores)


def fits(gpu_gb: float, compute_capability: tuple[int, int] = (9, 0), context: int = 16384, batch: int = 8,
         batch_tokens: int | None = None, prefill_tokens: int = PREFILL_TOKENS) -> list[Estimate]:
    """Every quantization's estimate against a GPU of `gpu_gb`, best first."""
    return [estimate(q, context, batch, batch_tokens, compute_capability, gpu_gb, prefill_tokens) for q in BEST_FIRST]


SMALLER_PREFILLS = (4096, 2048)  # --prefill-tokens to try before fewer requests per batch


def advice(gpu_gb: float, compute_capability: tuple[int, int] = (9, 0), context: int = 16384, batch: int = 8,
           prefill_tokens: int = PREFILL_TOKENS) -> str:
    """One line: the best-quality setting that fits, as the flags to pass (smaller prefill passes first,
    then fewer requests per generate() batch)."""
    for e in fits(gpu_gb, compute_capability, context, batch, prefill_tokens=prefill_tokens):
        if e.fits:
            flag = f"--quantization {e.quantization}" if e.quantization != "none" else "no --quantization (bf16 weights)"
            return (f"{flag} fits: {e.total_gb} GB of {gpu_gb:.0f} GB ({e.weights_gb} weights + {e.kv_cache_gb} KV cache "
                    f"+ {e.activations_gb} activations at {context} tokens x {batch})")
    smallest = estimate("nf4", context, batch, prefill_tokens=prefill_tokens)
    for rows in range(batch, 0, -1):
        pieces = [prefill_tokens] if rows < batch else []  # the given prefill passes with fewer rows, then smaller ones
        pieces += [p for p in SMALLER_PREFILLS if not prefill_tokens or p < prefill_tokens]
        for piece in pieces:
            for e in fits(gpu_gb, compute_capability, context, rows, prefill_tokens=piece):
                if e.fits:
                    flags = f"--quantization {e.quantization}"
                    if piece != prefill_tokens:
                        flags += f" --prefill-tokens {piece}"
                    if rows < batch:
                        flags += f" --batch-tokens {rows * context} ({rows} x {context} per batch)"
                    return (f"at {context} tokens x {batch} nothing fits {gpu_gb:.0f} GB as set (nf4 needs "
                            f"{smallest.total_gb} GB); {flags} fits: {e.total_gb} GB")
    return (f"nothing fits {gpu_gb:.0f} GB at {context} tokens x {batch} (nf4 needs {smallest.total_gb} GB): lower "
            "--max-context, or use --tensor-parallel-size over several GPUs")
