"""Gemma 4 through Hugging Face transformers: exact token counts, left-padded batched generation,
xgrammar-constrained JSON, optional thinking, and batch halving on out-of-memory."""

from __future__ import annotations

import logging
import threading
import time

import torch

from model.backend import ModelUnavailable, timeout_message
from model.experts import decode_with
from model.grammar import GrammarCache, ThinkThenJson, tokenizer_info
from model.images import load_image
from model.prefill import PREFILL_TOKENS, generate_inputs
from model.prompts import CountingBackend, PromptCounter, chat_messages, request_budget
from model.quantize import (
    QuantizationUnsupported,
    check_supported,
    load_kwargs,
    no_grad_for,
    parameter_bytes,
    prequantized,
    quantize_nf4,
    wrap_int8_experts,
)
from model.vision_groups import encode_images_in_groups
from schemas.records import Generation, ImageSegment, Request

log = logging.getLogger("gemmadoc.model")
# torchao, when installed, is imported by transformers at load time: its GPU-only kernels and torch's pytree
# deprecation notes are noise on every run (the int8 path works without them)
for _noisy in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)
THINK_BUDGET = 512


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class TransformersBackend(CountingBackend):
    """Loads `AutoModelForImageTextToText.from_pretrained(path_or_id)` and the matching processor once."""

    def __init__(self, path_or_id: str, model_id: str | None = None, *, revision: str | None = None,
                 dtype: str = "auto", device_map: str | None = None, attn_implementation: str = "sdpa",
                 experts_implementation: str | None = None, decode_experts: str | None = None, quantization: str = "none", prefill_tokens: int = PREFILL_TOKENS,
                 is_random: bool = False):
        from model.processor import load_processor

        self.model_id = model_id or path_or_id
        self.is_random = is_random
        kwargs: dict = {"attn_implementation": attn_implementation}
        if revision:
            kwargs["revision"] = revision
        if experts_implementation:
            kwargs["experts_implementation"] = experts_implementation
        if dtype == "auto":
            kwargs["dtype"] = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        else:
            kwargs["dtype"] = getattr(torch, dtype)
        if device_map:
            kwargs["device_map"] = device_map
        elif torch.cuda.is_available():
            kwargs["device_map"] = "cuda"
        self.quantization = quantization
        self.prefill_tokens = prefill_tokens
        try:
            self.processor = load_processor(path_or_id, revision=revision) if revision else load_processor(path_or_id)
            self.model = self._load(path_or_id, kwargs, quantization)
        except (OSError, ValueError) as e:
            if isinstance(e, QuantizationUnsupported):
                raise
            raise ModelUnavailable(
                f"cannot load model {path_or_id!r}: {e}\n"
                "Get the weights with `huggingface-cli download google/gemma-4-26B-A4B-it` (needs hub access and the "
                "licence accepted), then pass --model PATH to the downloaded folder; or run with --model tiny-random "
                "for an offline demo (random weights: its values are meaningless)."
            ) from e
        encode_images_in_groups(self.model)  # bounded vision-tower memory, same answers
        decode_with(self.model, decode_experts)  # not transformers' switch to batched_mm on GPUs
        self.parameter_bytes = parameter_bytes(self.model)  # per part, after quantization (the runs table)
        self.tokenizer = self.processor.tokenizer
        self.counter = PromptCounter(self.processor)
        self.device = next(self.model.parameters()).device
        tok = self.tokenizer
        self.end_thought_id = self.counter.thought_end
        self.stop_ids = [i for i in {tok.eos_token_id, tok.convert_tokens_to_ids("<turn|>")} if i is not None]
        vocab_size = self.model.config.get_text_config().vocab_size
        self.grammars = GrammarCache(tokenizer_info(tok, vocab_size, self.stop_ids))
        self.vocab_size = vocab_size
        self._lock = threading.Lock()  # one generate at a time per process
        self.oom_events = 0

    def _load(self, path_or_id: str, kwargs: dict, quantization: str):
        """from_pretrained, quantizing while loading (nf4: loaded in bf16 on the CPU, quantized, then moved,
        so the GPU never holds bf16 experts). A checkpoint already quantized is used as it is."""
        from transformers import AutoConfig, AutoModelForImageTextToText

        if quantization == "none":
            return AutoModelForImageTextToText.from_pretrained(path_or_id, **kwargs).eval()
        check_supported(quantization)
        config = AutoConfig.from_pretrained(path_or_id, revision=kwargs.get("revision"))
        already = prequantized(config)
        if already:
            log.warning("%s is already quantized (%s): loaded as it is, --quantization %s ignored", path_or_id, already, quantization)
            self.quantization = f"checkpoint:{already}"
            return AutoModelForImageTextToText.from_pretrained(path_or_id, **kwargs).eval()
        if kwargs["dtype"] == torch.float32:
            kwargs["dtype"] = torch.bfloat16  # quantized weights compute in bf16
        if quantization == "nf4":
            device = kwargs.pop("device_map", None)
            model = quantize_nf4(AutoModelForImageTextToText.from_pretrained(path_or_id, **kwargs).eval())
            return model.to(device) if device else model
        model = AutoModelForImageTextToText.from_pretrained(path_or_id, **{**kwargs, **load_kwargs(quantization)}).eval()
        return wrap_int8_experts(model) if quantization == "int8" else model

    # ----------------------------------------------------------------------------------- encoding
    def encode(self, request: Request) -> dict:
        images = [load_image(s.image) for s in request.segments if isinstance(s, ImageSegment)]
        enc = self.processor.apply_chat_template(
            chat_messages(request, images), add_generation_prompt=True, tokenize=True, return_dict=True,
            return_tensors="pt", enable_thinking=request.thinking,
            processor_kwargs={"images_kwargs": {"max_soft_tokens": request_budget(request)}})
        return {k: v for k, v in enc.items() if k != "num_soft_tokens_per_image"}

    def collate(self, encodings: list[dict]) -> tuple[dict, list[int]]:
        """Left-pad a batch of single-request encodings; pad image patches so budgets can differ by row."""
        pad_id = self.tokenizer.pad_token_id
        width = max(e["input_ids"].shape[1] for e in encodings)
        ids, mask, mm, pads = [], [], [], []
        for e in encodings:
            n = e["input_ids"].shape[1]
            pad = width - n
            pads.append(pad)
            ids.append(torch.cat([torch.full((1, pad), pad_id, dtype=e["input_ids"].dtype), e["input_ids"]], 1))
            mask.append(torch.cat([torch.zeros((1, pad), dtype=e["attention_mask"].dtype), e["attention_mask"]], 1))
            mm.append(torch.cat([torch.zeros((1, pad), dtype=e["mm_token_type_ids"].dtype), e["mm_token_type_ids"]], 1))
        batch = {"input_ids": torch.cat(ids), "attention_mask": torch.cat(mask), "mm_token_type_ids": torch.cat(mm)}
        with_images = [e for e in encodings if "pixel_values" in e]
        if with_images:
            patches = max(e["pixel_values"].shape[1] for e in with_images)
            pv, pos = [], []
            for e in with_images:
                extra = patches - e["pixel_values"].shape[1]
                v, p = e["pixel_values"], e["image_position_ids"]
                if extra:
                    v = torch.cat([v, v.new_zeros((v.shape[0], extra, v.shape[2]))], 1)
                    p = torch.cat([p, p.new_full((p.shape[0], extra, p.shape[2]), -1)], 1)
                pv.append(v)
                pos.append(p)
            batch["pixel_values"] = torch.cat(pv)
            batch["image_position_ids"] = torch.cat(pos)
        return batch, pads

    # ----------------------------------------------------------------------------------- generation
    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        if not requests:
            return []
        encodings = [self.encode(r) for r in requests]  # image loading and preprocessing outside the lock
        with self._lock:
            return self._generate_split(requests, encodings, oom_retries=0, max_seconds=max_seconds)

    def _generate_split(self, requests, encodings, oom_retries: int, max_seconds: float | None = None) -> list[Generation]:
        try:
            return self._generate_batch(requests, encodings, oom_retries, max_seconds)
        except Exception as e:  # noqa: BLE001 - only OOM is handled here
            if not is_oom(e):
                raise
            self.oom_events += 1
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if len(requests) == 1:
                return [Generation(request_id=requests[0].request_id, text="", finish_reason="error", model_id=self.model_id,
                                   error=f"out of memory even at batch size 1 ({requests[0].n_tokens} prompt tokens)",
                                   oom_retries=oom_retries + 1)]
            half = len(requests) // 2
            log.warning("out of memory on a batch of %d; retrying as %d + %d", len(requests), half, len(requests) - half)
            return (self._generate_split(requests[:half], encodings[:half], oom_retries + 1, max_seconds)
                    + self._generate_split(requests[half:], encodings[half:], oom_retries + 1, max_seconds))

    def _generate_batch(self, requests, encodings, oom_retries: int, max_seconds: float | None = None) -> list[Generation]:
        batch, pads = self.collate(encodings)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.model.dtype)
        grammars = [self.grammars.get(r.response_schema) for r in requests]
        constraint = ThinkThenJson(grammars, [r.thinking for r in requests], self.end_thought_id, THINK_BUDGET,
                                   self.stop_ids, self.vocab_size)
        max_new = max(r.max_new_tokens + (THINK_BUDGET + 8 if r.thinking else 0) for r in requests)
        t0 = time.perf_counter()
        with no_grad_for(self.quantization):
            inputs = generate_inputs(self.model, batch, self.prefill_tokens)  # long batches prefilled in pieces
            left = None if max_seconds is None else max(1e-3, max_seconds - (time.perf_counter() - t0))
            out = self.model.generate(**inputs, max_new_tokens=max_new, do_sample=False, logits_processor=[constraint],
                                      pad_token_id=self.tokenizer.pad_token_id, max_time=left)
        seconds = time.perf_counter() - t0
        width = batch["input_ids"].shape[1]
        # transformers' max_time stops the whole batch; a row then short of its stop token ran out of time
        timed_out = max_seconds is not None and seconds >= max_seconds and out.shape[1] - width < max_new
        gens = []
        for i, r in enumerate(requests):
            g = self._decode_row(r, out[i, width:].tolist(), width - pads[i], pads[i], oom_retries)
            if timed_out and g.finish_reason == "length":
                g = g.model_copy(update={"finish_reason": "time", "error": timeout_message(seconds, max_seconds)})
            gens.append(g)
        log.debug("generated %d rows in %.2fs", len(requests), seconds)
        return gens

    def _decode_row(self, request: Request, new: list[int], prompt_tokens: int, pad: int, oom_retries: int) -> Generation:
        pad_id = self.tokenizer.pad_token_id
        while new and new[-1] == pad_id:
            new.pop()
        finish = "stop" if new and new[-1] in self.stop_ids else "length"
        text, thought, complete = self.counter.decode(new, request.thinking)
        if not complete:
            finish = "length"
        return Generation(request_id=request.request_id, text=text, thought=thought, prompt_tokens=prompt_tokens,
                          output_tokens=len(new), padding_tokens=pad, finish_reason=finish, model_id=self.model_id,
                          oom_retries=oom_retries)
