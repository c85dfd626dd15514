"""Gemma 4 prompts through the Hugging Face processor: the chat messages of a request and its exact
token counts. Every backend (transformers, vLLM, an OpenAI-compatible server with a local processor)
counts with this, so that packing plans the same requests whichever engine runs them."""

from __future__ import annotations

from schemas.records import ImageSegment, Request

DEFAULT_BUDGET = 280


def request_budget(request: Request) -> int:
    """The request's one image budget (`max_soft_tokens`; the processor applies one per call)."""
    budgets = {s.budget for s in request.segments if isinstance(s, ImageSegment)}
    if len(budgets) > 1:
        raise ValueError("one image budget per request (the processor applies one max_soft_tokens per call)")
    return budgets.pop() if budgets else DEFAULT_BUDGET


def chat_messages(request: Request, images: list | None = None) -> list[dict]:
    """System turn, then one user turn of the request's images and texts in order (`images`: the
    loaded pictures, or None for placeholders)."""
    content = []
    k = 0
    for seg in request.segments:
        if isinstance(seg, ImageSegment):
            content.append({"type": "image", "image": images[k] if images else None})
            k += 1
        else:
            content.append({"type": "text", "text": seg.text})
    return [{"role": "system", "content": request.system}, {"role": "user", "content": content}]


class PromptCounter:
    """Token counts and prompt text from a loaded Gemma 4 processor."""

    def __init__(self, processor):
        self.processor = processor
        self.tokenizer = tok = processor.tokenizer
        self.thought_start = tok.convert_tokens_to_ids("<|channel>")
        self.thought_end = tok.convert_tokens_to_ids("<channel|>")
        # a tokenizer that adds BOS itself would double the template's one when it tokenizes the text
        self.adds_bos = bool(tok.bos_token) and tok("", add_special_tokens=True)["input_ids"][:1] == [tok.bos_token_id]

    def decode(self, ids: list[int], thinking: bool, may_skip_thought: bool = False) -> tuple[str, str | None, bool]:
        """(answer text, thought, complete) of generated token ids. With thinking the answer follows the
        end-of-thought token; without that token the thought never ended (complete False, no answer),
        unless `may_skip_thought` (an engine whose grammar starts when no thought is opened) and the
        output never opened one."""
        end, start = self.thought_end, self.thought_start
        if not thinking or (may_skip_thought and end not in ids and start not in ids):
            return self.tokenizer.decode(ids, skip_special_tokens=True), None, True
        if end not in ids:
            return "", None, False
        cut = ids.index(end)
        thought = self.tokenizer.decode(ids[:cut], skip_special_tokens=True).removeprefix("thought").strip()
        return self.tokenizer.decode(ids[cut + 1:], skip_special_tokens=True), thought, True

    def soft_tokens(self, width: int, height: int, budget: int) -> int:
        """Soft tokens of one image at `budget`: the image processor's own resize rule (aspect kept, at most
        budget x pooling^2 patches), as Gemma4Processor counts them. Computed here rather than through the
        processor's private `_get_num_multimodal_tokens`, whose signature changed between transformers
        5.19 and 5.24 (and which, in 5.19, writes the budget into the class-wide defaults)."""
        from transformers.models.gemma4.image_processing_pil_gemma4 import get_aspect_ratio_preserving_size

        ip = self.processor.image_processor
        patch, pool = ip.patch_size, ip.pooling_kernel_size
        h, w = get_aspect_ratio_preserving_size(height=height, width=width, patch_size=patch,
                                                max_patches=budget * pool**2, pooling_kernel_size=pool)
        return (h // patch) * (w // patch) // pool**2

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        """Soft tokens of one image at `budget`, with its begin/end markers."""
        return self.soft_tokens(width, height, budget) + 2

    def text_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def control_tokens(self) -> list[str]:
        tok = self.tokenizer
        return sorted(set(tok.all_special_tokens) | set(tok.get_added_vocab()))

    def prompt_text(self, request: Request) -> str:
        """The chat template's text of the request, one image placeholder per image."""
        return self.processor.apply_chat_template(chat_messages(request), add_generation_prompt=True, tokenize=False,
                                                  enable_thinking=request.thinking)

    def engine_text(self, text: str) -> str:
        """Template text for an engine that tokenizes it with special tokens on (vLLM): without the
        template's BOS when the tokenizer adds one itself."""
        return text.removeprefix(self.tokenizer.bos_token) if self.adds_bos else text

    def count_tokens(self, request: Request) -> int:
        """Exact length: the chat template's text with each image expanded to its soft tokens."""
        parts = self.prompt_text(request).split(self.processor.image_token)
        budget = request_budget(request)
        counts = [self.soft_tokens(s.width, s.height, budget) for s in request.segments if isinstance(s, ImageSegment)]
        p = self.processor
        expanded = parts[0] + "".join(p.boi_token + p.image_token * n + p.eoi_token + rest for n, rest in zip(counts, parts[1:]))
        return len(self.tokenizer(expanded, add_special_tokens=False)["input_ids"])


class CountingBackend:
    """The counting half of the Backend protocol, delegated to `self.counter` (a PromptCounter, or any
    object with the same four methods): mixed into every backend so they count alike."""

    counter: PromptCounter

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        return self.counter.image_tokens(width, height, budget)

    def text_tokens(self, text: str) -> int:
        return self.counter.text_tokens(text)

    def count_tokens(self, request: Request) -> int:
        return self.counter.count_tokens(request)

    def control_tokens(self) -> list[str]:
        return self.counter.control_tokens()
