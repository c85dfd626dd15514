"""JSON-schema-constrained decoding with xgrammar, with an optional free thinking phase first.

Thinking + grammar: the thought is generated unconstrained and the grammar starts at the token that
closes the thought channel (`<channel|>`). We chose this over a grammar that spells out the thought
block because the thought then keeps the model's own distribution (no grammar-induced drift inside free
text), its length is capped by a plain token budget (the channel is force-closed when it runs out), and
the JSON grammar stays the same compiled object with or without thinking, so its cache is shared."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import torch
from transformers import LogitsProcessor


def tokenizer_info(tokenizer, vocab_size: int, stop_ids: list[int]):
    """xgrammar TokenizerInfo with every special token blanked, so that `<pad>`, `<|image|>` or turn
    markers can never be emitted inside a JSON string; stop tokens stay allowed at the end."""
    import xgrammar as xgr

    base = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_ids)
    vocab = [""] * vocab_size
    for token, i in tokenizer.get_vocab().items():
        if i < vocab_size:
            vocab[i] = token
    for i in tokenizer.all_special_ids:
        if i < vocab_size:
            vocab[i] = ""
    return xgr.TokenizerInfo(vocab, vocab_type=base.vocab_type, vocab_size=vocab_size,
                             stop_token_ids=stop_ids, add_prefix_space=base.add_prefix_space)


class GrammarCache:
    """Compiles each distinct JSON schema once (keyed by its canonical JSON)."""

    def __init__(self, info) -> None:
        import xgrammar as xgr

        self.compiler = xgr.GrammarCompiler(info)
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, schema: dict):
        key = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
            return hit


class ThinkThenJson(LogitsProcessor):
    """Per-row constrained decoding. Rows with `thinking` start free and switch to the grammar after
    the end-of-thought token (forced once `think_budget` tokens are spent); other rows are constrained
    from the first token. One instance per generate() call."""

    def __init__(self, grammars: list, thinking: list[bool], end_thought_id: int, think_budget: int,
                 stop_ids: list[int], vocab_size: int):
        import xgrammar as xgr

        self.matchers = [xgr.GrammarMatcher(g) for g in grammars]
        self.phase = ["think" if t else "json" for t in thinking]
        self.think_len = [0] * len(grammars)
        self.end_thought_id = end_thought_id
        self.think_budget = think_budget
        self.stop_ids = stop_ids
        self.vocab_size = vocab_size
        self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self.batch = xgr.BatchGrammarMatcher()
        self.started = False
        self.done = [False] * len(grammars)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """One step for the whole batch: the last tokens come to the host once, the JSON rows accept
        them and fill their masks in one batched (multi-threaded) xgrammar call each, and the mask is
        applied to every row at once."""
        import xgrammar as xgr

        if self.started:
            last = input_ids[:, -1].tolist()  # one device-to-host copy per step, not one per row
            json_rows = []
            for i, tok in enumerate(last):
                if self.done[i]:
                    continue
                if self.phase[i] == "think":
                    self.think_len[i] += 1
                    if tok == self.end_thought_id:
                        self.phase[i] = "json"
                else:
                    json_rows.append(i)
            if json_rows:
                accepted = self.batch.batch_accept_token([self.matchers[i] for i in json_rows], [last[i] for i in json_rows])
                for i, ok in zip(json_rows, accepted):
                    # a refused token cannot happen under the mask; either way the row is no longer constrained
                    if not ok or self.matchers[i].is_terminated():
                        self.done[i] = True
        self.started = True
        self.bitmask.fill_(-1)  # all allowed
        live = [i for i in range(len(self.matchers)) if self.phase[i] == "json" and not self.done[i]]
        if live:
            self.batch.batch_fill_next_token_bitmask([self.matchers[i] for i in live], self.bitmask, indices=live)
        device = scores.device
        work = scores if device.type in ("cuda", "cpu") else scores.to("cpu")
        xgr.apply_token_bitmask_inplace(work, self.bitmask.to(work.device, non_blocking=True))
        thinking = [i for i in range(len(self.matchers)) if self.phase[i] == "think"]
        if thinking:
            rows = torch.tensor(thinking, device=work.device)
            work[rows.unsqueeze(1), torch.tensor(self.stop_ids, device=work.device)] = float("-inf")  # close the thought first
            over = [i for i in thinking if self.think_len[i] >= self.think_budget]
            for i in over:  # budget spent: only the end-of-thought token remains
                keep = work[i, self.end_thought_id].clone()
                work[i, :] = float("-inf")
                work[i, self.end_thought_id] = keep if torch.isfinite(keep) else 0.0
        return work.to(device) if work is not scores else work
