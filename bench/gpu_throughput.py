#!/usr/bin/env python3
"""Generation throughput on the real Gemma 4 26B-A4B architecture with random bf16 weights.

Same synthetic workload two ways, in one process:
  naive: one page per request, batch size 1;
  ours:  one request per document, requests grouped by length into token-bounded, left-padded batches
         (pipeline.batching.group_by_length, the planner's batching), prefilled in pieces (model/prefill.py)
         and decoded with the backend's experts kernel (model/experts.py), as the backend runs them.
One-page documents as in bench/vllm_throughput.py (--mixed: 1-8 pages, a request per document): an A4 page
image at budget 280, a ~300-token prompt, 256 forced output tokens (EOS ignored).

    python bench/gpu_throughput.py            # on a GPU (H100/H200), ~2 minutes
    python bench/gpu_throughput.py --tiny     # CPU smoke test with the tiny random Gemma 4
    python bench/gpu_throughput.py --meta     # the real config on the meta device: parameter counts, no GPU
    python bench/gpu_throughput.py --quantization nf4   # weights quantized at load (int8, nf4, fp8), experts included
    python bench/gpu_throughput.py --meta --quantization fp8   # bytes per part of the quantized model, no GPU
    python bench/gpu_throughput.py --quantization nf4 --context 16384 --batch 8   # first peak GPU memory at that size
    python bench/gpu_throughput.py --compare-decode 64   # last, decode speed of grouped_mm and batched_mm

Needs only torch, transformers and pillow (no pydantic), so it runs on the device image as is.
Ends with: RESULT device=... backend=transformers pages_per_s=... speedup_vs_naive=... output_tok_per_s=...
gpu_idle_share=... padding_share=... peak_gpu_gb=... decode_experts=... quantization=...  (bench/vllm_throughput.py
gives the vLLM line)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from contextlib import contextmanager

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from model.experts import decode_with  # noqa: E402
from model.prefill import PREFILL_TOKENS, generate_inputs  # noqa: E402
from model.quantize import no_grad_for  # noqa: E402
from model.vision_groups import encode_images_in_groups  # noqa: E402
from pipeline.batching import group_by_length  # noqa: E402

IMAGE_ID, BOI_ID, EOI_ID, BOS_ID, PAD_ID = 262_140, 262_141, 262_142, 2, 0
GENERATING = [0.0]  # seconds inside model.generate, for the idle share
DECODING = [0.0]  # seconds in generate()'s decode loop (after the prefill), for --compare-decode
IN_DECODE = [False]  # inside that loop now
QUANTIZATION = ["none"]  # --quantization, for the no-grad context generate runs under
PREFILL = [PREFILL_TOKENS]  # --prefill-tokens: tokens per prefill pass (0: the whole batch in one, as generate() does)


def real_config():
    """google/gemma-4-26B-A4B (values from transformers' convert_gemma4_weights.py, see ../shared/notes)."""
    from transformers import Gemma4Config, Gemma4TextConfig, Gemma4VisionConfig

    text = Gemma4TextConfig(
        vocab_size=262_144, hidden_size=2816, intermediate_size=2112, num_hidden_layers=30,
        layer_types=(["sliding_attention"] * 5 + ["full_attention"]) * 5, num_attention_heads=16,
        num_key_value_heads=8, head_dim=256, global_head_dim=512, num_global_key_value_heads=2,
        attention_k_eq_v=True, use_bidirectional_attention="vision", num_kv_shared_layers=0,
        hidden_size_per_layer_input=0, enable_moe_block=True, num_experts=128, top_k_experts=8,
        moe_intermediate_size=704, sliding_window=1024, final_logit_softcapping=30.0,
        max_position_embeddings=262_144, pad_token_id=PAD_ID, bos_token_id=BOS_ID, eos_token_id=[1, 106])
    vision = Gemma4VisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                                num_key_value_heads=16, head_dim=72, pooling_kernel_size=3, standardize=True,
                                use_clipped_linears=False)
    return Gemma4Config(text_config=text, vision_config=vision, audio_config=None, image_token_id=IMAGE_ID,
                        boi_token_id=BOI_ID, eoi_token_id=EOI_ID, tie_word_embeddings=True)


def import_no_init_weights():
    """transformers 5.x moved `no_init_weights` from modeling_utils to initialization."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:
        from transformers.modeling_utils import no_init_weights
    return no_init_weights


def quantize(model, method: str, device: str):
    """Quantize a built model in place the way `--quantization` loads one (model/quantize.py): int8 with
    torchao (experts by parameter name), nf4 with bitsandbytes (Nf4Linear, Nf4Experts), fp8 with
    transformers' FP8Linear/FP8Experts (random fp8 weights, unit scales). nf4 cannot run on meta."""
    if method == "none":
        return model
    if method == "int8":
        from torchao.quantization import quantize_

        from model.quantize import load_kwargs, wrap_int8_experts

        # the language model only: the vision tower, its projection and the output head (KEEP_BF16) sit
        # outside it and stay bf16, as from_pretrained leaves them
        quantize_(model.model.language_model, load_kwargs("int8")["quantization_config"].quant_type, filter_fn=None)
        model.set_experts_implementation("eager")
        wrap_int8_experts(model)  # as the backend loads it
    elif method == "nf4":
        from model.quantize import quantize_nf4

        quantize_nf4(model)
    elif method == "fp8":
        from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear

        from model.quantize import KEEP_BF16, load_kwargs

        with torch.device(device):  # the vision tower stays bf16 (its 4304-wide MLP is no multiple of 128 anyway)
            model = replace_with_fp8_linear(model, modules_to_not_convert=KEEP_BF16,
                                            quantization_config=load_kwargs("fp8")["quantization_config"])
        if device != "meta":
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if p.dtype == torch.float8_e4m3fn:
                        p.copy_((torch.randn(p.shape, device=p.device) * 0.02 * 448).to(p.dtype))
                    elif "scale" in name:
                        p.fill_(1 / 448)
    if device == "cuda":
        torch.cuda.empty_cache()
    return model


def meta_check(method: str = "none") -> dict:
    """The real 26B-A4B model built on the meta device (no memory, no GPU): total parameters and those
    active per token (8 of 128 routed experts; the dense shared MLP, attention and embeddings always),
    and the bytes per part after `method` (nf4: from the bf16 bytes, 4.5 bits per quantized weight)."""
    from transformers import Gemma4ForConditionalGeneration

    from model.quantize import parameter_bytes

    cfg = real_config()
    with torch.device("meta"), import_no_init_weights()():
        model = Gemma4ForConditionalGeneration(cfg).to(torch.bfloat16)
    total = experts = vision = embed = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if ".experts." in name:
            experts += p.numel()
        if "vision" in name:
            vision += p.numel()
        elif "embed_tokens" in name:
            embed += p.numel()
    t = cfg.text_config
    lm = total - vision - embed  # the usual count: without the (tied) token embedding table
    active_lm = lm - experts * (1 - t.top_k_experts / t.num_experts)
    if method == "nf4":  # bitsandbytes packs on real devices only: Linear layers and experts at 4.5 bits
        parts = parameter_bytes(model)
        parts = {k: v * (4.5 / 16 if k in ("experts", "text") else 1) for k, v in parts.items()}
    else:
        parts = parameter_bytes(quantize(model, method, "meta"))
    return {"total_b": total / 1e9, "lm_b": lm / 1e9, "active_lm_b": active_lm / 1e9, "vision_b": vision / 1e9,
            "embed_b": embed / 1e9, "bytes_gb": {k: v / 1e9 for k, v in parts.items()}}


def random_model(cfg, device: str):
    """Gemma 4 of `cfg` with random weights built straight on `device` (no slow default init): parameters
    N(0, 0.02), which keeps logits finite; the vision tower's standardisation buffers, which the skipped
    init would leave as uninitialised memory, at their identity values (bias 0, scale 1)."""
    from transformers import Gemma4ForConditionalGeneration

    with torch.device(device), import_no_init_weights()():
        model = Gemma4ForConditionalGeneration(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)  # throughput does not depend on the values
        for name, b in model.named_buffers():
            if name.endswith("std_bias"):
                b.zero_()
            elif name.endswith("std_scale"):
                b.fill_(1.0)
    return model


def build_model(args):
    if args.tiny:
        from transformers import AutoModelForImageTextToText

        from model.tiny import ensure_tiny

        path = ensure_tiny()
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32, attn_implementation=args.attn).eval()
        return model, "cpu"
    torch.set_default_dtype(torch.bfloat16)
    model = random_model(real_config(), "cuda")
    torch.set_default_dtype(torch.float32)
    model.set_attn_implementation(args.attn)
    if args.experts:
        model.set_experts_implementation(args.experts)
    return model.eval(), "cuda"


def time_decoding(model, experts: str | None, device: str) -> None:
    """`decode_with(model, experts)` as the backend does (not transformers' switch to batched_mm), with the
    decode loop's seconds added to DECODING (the GPU synchronised on the way in and out)."""
    decode_with(model, experts)
    chosen = getattr(model, "_optimize_model_for_decode", None)
    if chosen is None:
        return

    @contextmanager
    def timed():
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        IN_DECODE[0] = True
        try:
            with chosen():
                yield
        finally:
            IN_DECODE[0] = False
        if device == "cuda":
            torch.cuda.synchronize()
        DECODING[0] += time.perf_counter() - t0

    model._optimize_model_for_decode = timed


@contextmanager
def kernels_seen(seen: set):
    """Adds to `seen` the MoE experts kernels that run inside generate()'s decode loop, by name."""
    from transformers.integrations import moe

    mapping = moe.ALL_EXPERTS_FUNCTIONS._global_mapping
    saved = dict(mapping)

    def recording(name, kernel):
        def run(self, hidden_states, *args, **kwargs):
            if IN_DECODE[0]:
                seen.add(name)
            return kernel(self, hidden_states, *args, **kwargs)
        return run

    mapping.update({name: recording(name, kernel) for name, kernel in saved.items()})
    try:
        yield
    finally:
        mapping.update(saved)


def prefill_kernel(model) -> str:
    """The MoE experts kernel the language model runs its prefill with (the decode's unless --decode-experts)."""
    return model.get_experts_implementation().get("text_config") or "grouped_mm"


def compare_decode(model, device, device_name, args, pixels, positions, n_soft, vocab_ids) -> None:
    """Decode speed of each MoE experts kernel on the same batch: `--compare-decode` one-page requests,
    `--compare-tokens` new tokens, the decode loop timed alone (the prefill's kernel stays as it is);
    `decode_ran` names the kernels that did run on the decode steps (transformers' own switch included)."""
    prefill, default = prefill_kernel(model), args.decode_experts or prefill_kernel(model)
    rng = random.Random(2)
    reqs = [make_request(1, n_soft, args.prompt_tokens, 262_144, rng) for _ in range(args.compare_decode)]
    steps = args.compare_tokens - 1  # the first new token comes from the prefill
    kernels = dict.fromkeys([default, prefill, "batched_mm"])
    # then the default kernel over a static KV cache (written in place; a DynamicCache concatenates, copying
    # the whole cache each step), prefilled in one pass since the pieces fill a DynamicCache; not compiled
    runs = [(k, "dynamic", {}) for k in kernels] + [
        (default, "static", {"cache_implementation": "static", "disable_compile": True})]
    first = None  # the default run's tokens: each other run's rows with the same greedy tokens (same_rows)
    for experts, cache, extra in runs:
        time_decoding(model, experts, device)
        DECODING[0] = 0.0
        seen: set = set()
        PREFILL[0] = 0 if cache == "static" else args.prefill_tokens
        try:
            with kernels_seen(seen):
                tokens = run_batch(model, device, reqs, pixels, positions, args.compare_tokens, vocab_ids, **extra)[2]
            if not DECODING[0]:
                raise RuntimeError("generate() never entered the decode kernel choice (model/experts.py)")
        except Exception as e:  # noqa: BLE001 - the main figures are already printed
            print(f"RESULT device={device_name} mode=decode_kernels decode_experts={experts} cache={cache} failed=1 "
                  f"({type(e).__name__}: {e})"[:300])
            continue
        finally:
            PREFILL[0] = args.prefill_tokens
        secs = DECODING[0]
        first = first or tokens
        print(f"RESULT device={device_name} mode=decode_kernels decode_experts={experts} cache={cache} rows={len(reqs)} "
              f"same_rows={sum(a == b for a, b in zip(first, tokens))} "
              f"decode_ran={'+'.join(sorted(seen)) or 'other'} decode_tok_per_s={len(reqs) * steps / secs:.1f} "
              f"decode_step_ms={1000 * secs / steps:.2f} quantization={args.quantization}")
    time_decoding(model, args.decode_experts, device)


def page_pixels(budget: int):
    """Pixel patches of one synthetic A4 page (1240x1754 px) at `budget` soft tokens."""
    from PIL import Image, ImageDraw
    from transformers import Gemma4ImageProcessorPil

    img = Image.new("RGB", (1240, 1754), "white")
    d = ImageDraw.Draw(img)
    for i in range(60):
        d.text((60, 40 + 28 * i), f"Line {i}: the supplier shall deliver the goods within {i} days of the order.", fill="black")
    out = Gemma4ImageProcessorPil(max_soft_tokens=budget)(images=[img], return_tensors="pt")
    return out["pixel_values"], out["image_position_ids"], int(out["num_soft_tokens_per_image"][0])


def make_request(n_pages: int, n_soft: int, prompt_tokens: int, vocab: int, rng: random.Random):
    """input ids of one request: bos, prompt, then per page a label, an image block and a little text."""
    ids = [BOS_ID] + [rng.randrange(1000, min(vocab, 200_000)) for _ in range(prompt_tokens)]
    mm = [0] * len(ids)
    for _ in range(n_pages):
        label = [rng.randrange(1000, min(vocab, 200_000)) for _ in range(4)]
        ids += label + [BOI_ID] + [IMAGE_ID] * n_soft + [EOI_ID]
        mm += [0] * (len(label) + 1) + [1] * n_soft + [0]
    return ids, mm, n_pages


def run_batch(model, device, reqs, pixels, positions, out_tokens, vocab_ids, **generate_kwargs):
    """Left-pad a batch, generate `out_tokens` forced tokens; returns (pad tokens, real tokens, new token ids)."""
    width = max(len(r[0]) for r in reqs)
    ids, mask, mm = [], [], []
    pad_total = 0
    for r_ids, r_mm, _ in reqs:
        pad = width - len(r_ids)
        pad_total += pad
        ids.append([PAD_ID] * pad + r_ids)
        mask.append([0] * pad + [1] * len(r_ids))
        mm.append([0] * pad + r_mm)
    n_images = sum(r[2] for r in reqs)
    batch = {
        "input_ids": torch.tensor(ids, device=device), "attention_mask": torch.tensor(mask, device=device),
        "mm_token_type_ids": torch.tensor(mm, device=device),
        "pixel_values": pixels.expand(n_images, -1, -1).to(device, model.dtype),
        "image_position_ids": positions.expand(n_images, -1, -1).to(device),
    }
    if vocab_ids is not None:  # tiny model: map synthetic ids into its small vocabulary
        for k in ("input_ids",):
            batch[k] = vocab_ids[batch[k]]
    t0 = time.perf_counter()
    with no_grad_for(QUANTIZATION[0]):
        out = model.generate(**generate_inputs(model, batch, PREFILL[0]), max_new_tokens=out_tokens,
                             min_new_tokens=out_tokens, do_sample=False, pad_token_id=PAD_ID, **generate_kwargs)
    if device == "cuda":
        torch.cuda.synchronize()
    GENERATING[0] += time.perf_counter() - t0
    return pad_total, sum(len(r[0]) for r in reqs), out[:, width:].tolist()


def context_memory(model, device, device_name, args, vocab_ids) -> None:
    """Peak GPU memory of one generate() over `--batch` requests of `--context` prompt tokens each (pages at
    budget 1120 plus text), 32 new tokens: what `gemmadoc doctor` estimates for --max-context and a batch.
    Twice: prefilled in pieces of --prefill-tokens (as the backend runs), then in one pass (generate() alone)."""
    pixels, positions, n_soft = page_pixels(1120)
    page = n_soft + 6  # label, begin and end markers
    n_pages = max(0, (args.context - 64) // page)
    rng = random.Random(1)
    reqs = [make_request(n_pages, n_soft, args.context - n_pages * page - 1, 262_144, rng) for _ in range(args.batch)]
    outputs = []
    for prefill_tokens in dict.fromkeys([args.prefill_tokens, 0]):
        PREFILL[0] = prefill_tokens
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        oom = 0
        try:
            outputs.append(run_batch(model, device, reqs, pixels, positions, args.out_tokens or 32, vocab_ids)[2])
        except torch.OutOfMemoryError:
            oom = 1
        seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
        how = f"prefill pieces of {prefill_tokens} tokens" if prefill_tokens else "prefill in one pass"
        print(f"context {len(reqs[0][0])} tokens ({n_pages} pages at 1120) x {args.batch}, {how}: peak {peak:.2f} GiB, "
              f"{seconds:.1f}s{', out of memory' if oom else ''}")
        print(f"RESULT device={device_name} backend=transformers mode=context context={len(reqs[0][0])} batch={args.batch} "
              f"prefill_tokens={prefill_tokens} peak_gpu_gb={peak:.2f} oom={oom} seconds={seconds:.1f} "
              f"quantization={args.quantization}")
    PREFILL[0] = args.prefill_tokens
    if len(outputs) == 2:  # greedy tokens of the two prefills (bf16 on a GPU may part at a near-tie; fp32 on CPU may not)
        same = sum(a == b for a, b in zip(*outputs))
        print(f"RESULT device={device_name} mode=prefill_check rows={len(outputs[0])} same_rows={same} "
              f"quantization={args.quantization}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="CPU smoke test with the tiny random model")
    ap.add_argument("--meta", action="store_true", help="build the real config on the meta device and count parameters (no GPU)")
    ap.add_argument("--docs", type=int, default=None, help="one-page documents in the workload (default 128 GPU / 6 tiny)")
    ap.add_argument("--mixed", action="store_true",
                    help="documents of 1-8 pages (60%% one page) instead of one page each, one request per document")
    ap.add_argument("--naive-pages", type=int, default=None, help="pages timed for the naive baseline (default 6 GPU / 3 tiny)")
    ap.add_argument("--budget", type=int, default=280)
    ap.add_argument("--prompt-tokens", type=int, default=300)
    ap.add_argument("--out-tokens", type=int, default=None, help="forced output tokens (default 256 GPU / 16 tiny)")
    ap.add_argument("--batch-tokens", type=int, default=None,
                    help="padded prompt + answer tokens per batch (default 110k GPU: the 128 documents in one batch / 8k tiny)")
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--experts", default=None, help="experts implementation (grouped_mm, batched_mm, ...)")
    ap.add_argument("--decode-experts", default=None,
                    help="experts implementation while decoding, as the backend's --decode-experts (default: --experts')")
    ap.add_argument("--compare-decode", type=int, default=0, metavar="ROWS",
                    help="last, decode speed of each experts kernel (the default, batched_mm) on ROWS one-page requests")
    ap.add_argument("--compare-tokens", type=int, default=32, help="new tokens per row for --compare-decode")
    ap.add_argument("--quantization", default="none", choices=["none", "int8", "nf4", "fp8"])
    ap.add_argument("--context", type=int, default=None,
                    help="then --batch requests of this many prompt tokens (pages at budget 1120): peak GPU memory (--docs 0: only this)")
    ap.add_argument("--batch", type=int, default=8, help="requests in the --context batch")
    ap.add_argument("--expert-group", type=int, default=None,
                    help="experts dequantized at once by an nf4/int8 whole-layer forward (default model.quantize.EXPERT_GROUP)")
    ap.add_argument("--prefill-tokens", type=int, default=PREFILL_TOKENS,
                    help="most tokens per prefill pass, as the backend's --prefill-tokens (0: the whole batch in one pass)")
    args = ap.parse_args()
    if args.meta:
        c = meta_check(args.quantization)
        print(f"Gemma 4 26B-A4B on the meta device: {c['total_b']:.2f}B parameters: language model {c['lm_b']:.2f}B "
              f"without its {c['embed_b']:.2f}B token embeddings, vision {c['vision_b']:.3f}B; "
              f"{c['active_lm_b']:.2f}B active per token (8 of 128 experts)")
        parts = c["bytes_gb"]  # the untied meta build counts the output head beside the embeddings
        print(f"bytes per part with --quantization {args.quantization}: "
              + ", ".join(f"{k} {v:.2f} GB" for k, v in parts.items()) + f"; total {sum(parts.values()):.2f} GB")
        print(f"RESULT device=meta quantization={args.quantization} total_params_b={c['total_b']:.2f} lm_params_b={c['lm_b']:.2f} "
              f"active_params_b={c['active_lm_b']:.2f} weights_gb={sum(parts.values()):.2f} experts_gb={parts['experts']:.2f}")
        return
    tiny = args.tiny
    docs = args.docs if args.docs is not None else (6 if tiny else 128)
    naive_pages = args.naive_pages or (3 if tiny else 6)
    out_tokens = args.out_tokens or (16 if tiny else 256)
    batch_tokens = args.batch_tokens or (8192 if tiny else 110_000)
    if not tiny and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --tiny on CPU")

    t0 = time.perf_counter()
    model, device = build_model(args)
    model = encode_images_in_groups(quantize(model, args.quantization, device))  # as the backend does
    time_decoding(model, args.decode_experts, device)  # as the backend does: not transformers' switch to batched_mm
    QUANTIZATION[0] = args.quantization
    PREFILL[0] = args.prefill_tokens
    if args.expert_group:
        from model import quantize as quantize_module

        quantize_module.EXPERT_GROUP = args.expert_group
    device_name = torch.cuda.get_device_name(0).replace(" ", "_") if device == "cuda" else "cpu-tiny"
    vocab = model.config.get_text_config().vocab_size
    vocab_ids = None
    if tiny:  # use the tiny model's own special ids; other ids are folded into its vocabulary
        cfg = model.config
        remap = torch.arange(262_144) % (vocab - 300) + 280
        remap[IMAGE_ID], remap[BOI_ID], remap[EOI_ID] = cfg.image_token_id, cfg.boi_token_id, cfg.eoi_token_id
        remap[BOS_ID], remap[PAD_ID] = BOS_ID, PAD_ID
        vocab_ids = remap
    pixels, positions, n_soft = page_pixels(args.budget)
    print(f"model ready in {time.perf_counter() - t0:.1f}s on {device_name}; page = {n_soft} image tokens at budget {args.budget}")

    if args.context:  # first, so that a run cut short by its time limit still has the memory figures
        context_memory(model, device, device_name, args, vocab_ids)
    if args.docs == 0:  # memory mode only
        return

    rng = random.Random(0)
    sizes = [1] * docs  # the one-page documents bench/vllm_throughput.py uses: every backend decodes the same
    if args.mixed:
        sizes = [1] * int(docs * 0.6) + [rng.randint(2, 4) for _ in range(int(docs * 0.25))]
        sizes += [rng.randint(5, 8) for _ in range(docs - len(sizes))]
    workload = [make_request(n, n_soft, args.prompt_tokens, 262_144, rng) for n in sizes]
    pages = sum(sizes)

    # warm-up (kernels, allocator)
    run_batch(model, device, [workload[0]], pixels, positions, 4, vocab_ids)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    # naive: one page per request, batch 1
    single = [make_request(1, n_soft, args.prompt_tokens, 262_144, rng) for _ in range(naive_pages)]
    t0 = time.perf_counter()
    for r in single:
        run_batch(model, device, [r], pixels, positions, out_tokens, vocab_ids)
    if device == "cuda":
        torch.cuda.synchronize()
    naive_s = time.perf_counter() - t0
    naive_pps = naive_pages / naive_s
    print(f"naive: {naive_pages} pages in {naive_s:.1f}s = {naive_pps:.3f} pages/s, "
          f"{naive_pages * out_tokens / naive_s:.1f} output tok/s")

    # ours: one request per document, length-grouped token-bounded batches
    batches = group_by_length(workload, lambda r: len(r[0]) + out_tokens, batch_tokens)
    pad = real = 0
    oom_halvings = 0
    t0 = time.perf_counter()
    queue = list(batches)
    GENERATING[0] = 0.0
    while queue:
        b = queue.pop(0)
        try:
            p, r, _ = run_batch(model, device, b, pixels, positions, out_tokens, vocab_ids)
        except torch.OutOfMemoryError:
            torch.cuda.empty_cache()
            oom_halvings += 1
            half = len(b) // 2
            queue[:0] = [b[:half], b[half:]]
            continue
        pad += p
        real += r
    if device == "cuda":
        torch.cuda.synchronize()
    ours_s = time.perf_counter() - t0
    pps = pages / ours_s
    out_tps = len(workload) * out_tokens / ours_s
    padding_share = pad / (pad + real)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
    print(f"ours: {len(workload)} documents / {pages} pages in {len(batches)} batches, {ours_s:.1f}s = {pps:.3f} pages/s, "
          f"{out_tps:.1f} output tok/s, padding {padding_share:.1%}, OOM halvings {oom_halvings}, peak GPU {peak:.1f} GiB")
    idle = max(0.0, 1 - GENERATING[0] / ours_s)
    print(f"RESULT device={device_name} backend=transformers pages_per_s={pps:.3f} speedup_vs_naive={pps / naive_pps:.2f} "
          f"output_tok_per_s={out_tps:.1f} gpu_idle_share={idle:.4f} padding_share={padding_share:.4f} peak_gpu_gb={peak:.2f} "
          f"decode_experts={args.decode_experts or prefill_kernel(model)} quantization={args.quantization}")
    if args.compare_decode and args.quantization in ("none", "fp8"):  # nf4/int8 experts run their own loops
        compare_decode(model, device, device_name, args, pixels, positions, n_soft, vocab_ids)


if __name__ == "__main__":
    main()
