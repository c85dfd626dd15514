"""Prefill a batch's prompts a piece at a time, so that peak GPU memory follows the piece, not batch x context.

transformers' generate() runs the whole left-padded batch through the model in one forward pass. At 8
requests of 16k tokens that is 131k tokens at once: the routed-expert intermediates alone take ~16 GB
(8 copies of every token), and the sdpa masks rows x 16k x 16k per attention type. `prefill` instead runs
pieces of at most `max_tokens` tokens (whole rows together when they fit, else one row in column ranges)
into a KV cache, joins the rows' caches, and lets generate() continue from the prompts' last token. The
cache is the one a single pass builds: the same positions (attention-mask cumsum, as generate computes
them), the same masks; a cut never falls inside an image, whose tokens attend to each other both ways.
Imports torch only: bench/gpu_throughput.py uses it on the GPU image (transformers 5.17 there, newer here).
"""

from __future__ import annotations

import inspect

import torch

PREFILL_TOKENS = 8192  # tokens per prefill forward pass (rows x columns)


def image_spans(image_tokens: torch.Tensor) -> list[tuple[int, int]]:
    """(start, end) column ranges of the runs of image soft tokens in one row (a bool vector)."""
    edges = torch.nn.functional.pad(image_tokens.to(torch.int8), (1, 1)).diff()
    starts, ends = (edges == 1).nonzero().flatten().tolist(), (edges == -1).nonzero().flatten().tolist()
    return list(zip(starts, ends))


def column_cuts(spans: list[tuple[int, int]], end: int, columns: int) -> list[int]:
    """Piece ends over columns [0, end) of at most `columns` each, never inside an image span (a piece
    grows past `columns` only to finish an image longer than that)."""
    inside = [0] * (end + 2)
    for s, e in spans:  # columns c with s < c < e cut an image
        inside[min(s + 1, end + 1)] += 1
        inside[min(e, end + 1)] -= 1
    valid, depth = [], 0
    for c in range(end + 1):
        depth += inside[c]
        valid.append(depth == 0 or c == end)
    cuts, start = [], 0
    while start < end:
        limit = min(start + columns, end)
        cut = next((c for c in range(limit, start, -1) if valid[c]), None)
        if cut is None:
            cut = next(c for c in range(limit + 1, end + 1) if valid[c])
        cuts.append(cut)
        start = cut
    return cuts


def cache_argument(model) -> str:
    """The forward keyword for the KV cache: `cache` in newer transformers, `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def prefill(model, batch: dict, max_tokens: int = PREFILL_TOKENS):
    """Fill a DynamicCache with every row's prompt but its last column, in pieces of at most `max_tokens`
    tokens; return it, or None when the batch is small enough for one pass (generate() then prefills).

    `batch`: the left-padded input_ids, attention_mask, mm_token_type_ids, and pixel_values with
    image_position_ids for the images in row order. Pass the result to generate() with the same batch
    minus the images (the last column is text: the turn's generation prompt)."""
    from transformers import DynamicCache

    ids, mask = batch["input_ids"], batch["attention_mask"]
    rows, width = ids.shape
    if rows * width <= max_tokens or width < 2:
        return None
    image_id = model.config.image_token_id
    is_image = ids == image_id
    if bool(is_image[:, -1].any()):
        return None  # a prompt ending in an image: cannot happen with a chat template; let generate() do it
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    spans = [image_spans(is_image[r]) for r in range(rows)]
    first_image = [0]
    for row_spans in spans:
        first_image.append(first_image[-1] + len(row_spans))
    pixels = batch.get("pixel_values")
    if pixels is not None and pixels.shape[0] != first_image[-1]:
        raise ValueError(f"{pixels.shape[0]} images for {first_image[-1]} image blocks in the prompts")
    key = cache_argument(model)
    end = width - 1
    group = max(1, max_tokens // end)
    caches = []
    for r0 in range(0, rows, group):
        r1 = min(rows, r0 + group)
        cache = DynamicCache(config=model.config.get_text_config())
        group_spans = sorted({s for r in range(r0, r1) for s in spans[r]})
        start = 0
        for cut in column_cuts(group_spans, end, max(1, max_tokens // (r1 - r0))):
            inputs = {"input_ids": ids[r0:r1, start:cut], "attention_mask": mask[r0:r1, :cut],
                      "position_ids": positions[r0:r1, start:cut], key: cache, "use_cache": True, "logits_to_keep": 1}
            if "mm_token_type_ids" in batch:
                inputs["mm_token_type_ids"] = batch["mm_token_type_ids"][r0:r1, :cut]
            images = [first_image[r] + i for r in range(r0, r1) for i, (s, _) in enumerate(spans[r]) if start <= s < cut]
            if images:
                inputs["pixel_values"] = pixels[images[0]:images[-1] + 1]
                inputs["image_position_ids"] = batch["image_position_ids"][images[0]:images[-1] + 1]
            model(**inputs)
            start = cut
        caches.append(cache)
    return join_rows(caches)


def join_rows(caches: list):
    """One cache for the whole batch from the caches of its row groups (same columns), layer by layer,
    freeing each group's tensors as it goes."""
    joined = caches[0]
    if len(caches) == 1:
        return joined
    for i, layer in enumerate(joined.layers):
        if not getattr(layer, "is_initialized", False) or layer.keys is None or layer.keys.numel() == 0:
            continue  # a layer that reads another's keys (KV sharing) holds none
        parts = [c.layers[i] for c in caches]
        layer.keys = torch.cat([p.keys for p in parts])
        layer.values = torch.cat([p.values for p in parts])
        for p in parts[1:]:
            p.keys = p.values = None
    return joined


def generate_inputs(model, batch: dict, max_tokens: int = PREFILL_TOKENS) -> dict:
    """The keyword arguments for generate(): `batch` as it is when one pass holds it (or `max_tokens` is 0),
    else the batch prefilled in pieces: its cache, and no images (they are in the cache)."""
    cache = prefill(model, batch, max_tokens) if max_tokens else None
    if cache is None:
        return batch
    inputs = {k: v for k, v in batch.items() if k not in ("pixel_values", "image_position_ids")}
    inputs[cache_argument(model)] = cache
    return inputs
