"""The scripted backend: a test double for what happens after the model (parsing, grounding, outputs,
flows), registered as `--model scripted:...` by the test suite and the benchmarks, never by production.

Two modes. With a queue of scripted answers (`ScriptedBackend(answers=[...])`) each request takes the
next one: a string (the raw answer text, however malformed) or a `Scripted` (text plus finish reason), so
a test can feed one exact wrong, malformed or truncated answer. With the queue empty it fills the
request's schema with valid JSON, quoting words from the request's own text layer, so downstream stages
see realistic citations (the scale benchmark uses this). Token counts are character-based.

    PYTHONPATH=. GEMMADOC_BACKEND_PLUGINS=tests.doubles gemmadoc run data/samples --model scripted:   (from a checkout)
    --model scripted:delay=0.01,fail=NAME    (seconds per request; raise when the prompt names NAME)
    --model scripted:rate=20[,overlap=0]     (an engine serving 20 requests/s, one call at a time, as a
                                              GPU does; with overlap the flow keeps two calls queued)
    --model scripted:reader=statement        (`StatementReader`: every row of a statement's text layer as a
                                              list item, as many as the request's schema allows)
    --model scripted:reader=values           (`ValueReader`: the text layers' prose as long string values, as
                                              long as the request's schema allows)"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from model.backend import timeout_message
from model.registry import register_backend
from pipeline.wrap import MAX_QUOTE
from schemas.records import Generation, ImageSegment, Request, TextSegment

SCHEME = "scripted"


@dataclass
class Scripted:
    """One scripted answer: its raw text and how generation ended."""

    text: str
    finish_reason: Literal["stop", "length", "time", "error"] = "stop"


class ScriptedBackend:
    is_random = False

    def __init__(self, model_id: str = "scripted", delay_s: float = 0.0, fail_on: str | None = None,
                 answers: list[str | Scripted] = ()):
        self.model_id = model_id
        self.delay_s = delay_s
        self.fail_on = fail_on  # a document name substring that makes generation raise (transient error tests)
        self.answers = deque(Scripted(a) if isinstance(a, str) else a for a in answers)
        self.calls = 0
        self.requests: list[Request] = []  # every request seen, for assertions on prompts

    @classmethod
    def from_spec(cls, spec: str) -> "ScriptedBackend":
        """`scripted:` or `scripted:delay=0.01,fail=name`, or an engine: `scripted:rate=20[,overlap=0]`."""
        opts = dict(kv.split("=", 1) for kv in spec.partition(":")[2].split(",") if "=" in kv)
        if "reader" in opts:  # a reader of lists from the text layers: `reader=lines` or `reader=statement`
            return {"lines": ListReader, "statement": StatementReader, "values": ValueReader}[opts["reader"]]()
        if "rate" in opts:  # one engine per process, as the flow's chunks and its idle-share count must share it
            return _ENGINES.setdefault(spec, ScriptedEngine(float(opts["rate"]), overlap=opts.get("overlap", "1") != "0"))
        return cls(delay_s=float(opts.get("delay", 0)), fail_on=opts.get("fail"))

    def image_tokens(self, width: int, height: int, budget: int) -> int:
        return budget + 2

    def control_tokens(self) -> list[str]:
        return []

    def text_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def count_tokens(self, request: Request) -> int:
        n = self.text_tokens(request.system)
        for s in request.segments:
            n += s.budget + 2 if isinstance(s, ImageSegment) else self.text_tokens(s.text)
        return n

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        """Each request takes `delay_s`; past `max_seconds` for the batch, the rest are cut off ("time")."""
        out = []
        start = time.monotonic()
        for r in requests:
            self.calls += 1
            self.requests.append(r)
            if self.delay_s:
                time.sleep(self.delay_s)
            text = "\n".join(s.text for s in r.segments if isinstance(s, TextSegment))
            if self.fail_on and self.fail_on in text:
                raise RuntimeError(f"scripted failure for {self.fail_on}")
            if self.answers:
                scripted = self.answers.popleft()
                out.append(Generation(request_id=r.request_id, text=scripted.text, prompt_tokens=self.count_tokens(r),
                                      output_tokens=max(1, len(scripted.text) // 4), model_id=self.model_id,
                                      finish_reason=scripted.finish_reason))
                continue
            answer = fill(r.response_schema, r.response_schema, _Quotes(text))
            body = json.dumps(answer)
            elapsed = time.monotonic() - start
            if max_seconds is not None and elapsed > max_seconds:
                out.append(Generation(request_id=r.request_id, text=body[:len(body) // 2], prompt_tokens=self.count_tokens(r),
                                      output_tokens=len(body) // 8, model_id=self.model_id, finish_reason="time",
                                      error=timeout_message(elapsed, max_seconds)))
                continue
            out.append(Generation(request_id=r.request_id, text=body, prompt_tokens=self.count_tokens(r),
                                  output_tokens=len(body) // 4, model_id=self.model_id))
        return out


class _Quotes:
    """Hands out (label, quote) pairs from the request's text layer: `[page N]` / `[mm:ss]` blocks."""

    def __init__(self, text: str):
        self.items: list[tuple[str, str, str]] = []
        doc = ""
        for block in re.split(r"\n(?=Document: |\[)", text):
            if block.startswith("Document: "):
                doc = block.split("\n", 1)[0].removeprefix("Document: ").strip()
                continue
            m = re.match(r"\[(page (\d+)|(\d+:\d\d(?::\d\d)?))\]\s*(.*)", block, re.S)
            if not m:
                continue
            words = m.group(4).replace("Text layer:", "").split()
            if len(words) >= 3:
                self.items.append((m.group(2) or m.group(3), doc, " ".join(words[:4])))
        self.i = 0

    def next(self) -> tuple[str, str, str] | None:
        if not self.items:
            return None
        item = self.items[self.i % len(self.items)]
        self.i += 1
        return item


def fill(node: dict, root: dict, quotes: _Quotes):
    """A value that validates against the wrapped schema `node`, with citations taken from `quotes`."""
    if "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        return fill(target, root, quotes)
    if "anyOf" in node:
        branch = next((b for b in node["anyOf"] if b.get("type") != "null"), node["anyOf"][0])
        return fill(branch, root, quotes)
    if "enum" in node:
        return node["enum"][0]
    t = node.get("type")
    if t == "object":
        props = node.get("properties", {})
        if set(props) == {"value", "citations"}:
            return _leaf(props, root, quotes)
        return {k: fill(v, root, quotes) for k, v in props.items()}
    if t == "array":
        n = max(node.get("minItems", 0), min(node.get("maxItems", 2), 2))
        return [fill(node["items"], root, quotes) for _ in range(n)]
    if t == "string":
        return "x"
    if t == "integer":
        return 1
    if t == "number":
        return 1.5
    if t == "boolean":
        return True
    return None


def _leaf(props: dict, root: dict, quotes: _Quotes):
    item = quotes.next()
    cite_schema = props["citations"]["items"]
    cprops = cite_schema["properties"]
    if item is None:
        return {"value": fill(props["value"], root, quotes), "citations": [fill(cite_schema, root, quotes)]}
    label, doc, quote = item
    value_schema = props["value"]
    vt = value_schema.get("type")
    value = quote if (vt == "string" or vt is None) and "enum" not in value_schema else fill(value_schema, root, quotes)
    cite: dict = {"quote": quote}
    if "page" in cprops:
        pages = cprops["page"].get("enum", [])
        cite["page"] = int(label) if label.isdigit() and int(label) in pages else (pages[0] if pages else 1)
    if "t" in cprops:
        ts = cprops["t"].get("enum", [])
        cite["t"] = label if label in ts else (ts[0] if ts else "00:00")
    if "doc" in cprops:
        docs = cprops["doc"].get("enum", [])
        cite["doc"] = doc if doc in docs else (docs[0] if docs else "")
    return {"value": value, "citations": [cite]}


register_backend(SCHEME, ScriptedBackend.from_spec)


ROW = re.compile(r"^(\d{4}-\d{2}-\d{2}) (.+?) (-?\d+\.\d{2})$")
HOLDER = re.compile(r"^Account holder: (.+)$")


class ListReader(ScriptedBackend):
    """A reader of lists as a model under constrained decoding answers: an item of the list `field` for
    each line of the request's text layers that `item` reads (quoting the line), in order, but no more
    items than the request's schema allows. An answer longer than the request's `max_new_tokens` (4
    characters a token) is cut off there, as a model's is ("length"). `answers_rows`: the items of each
    answer. As it stands it reads every line as `{"text": line}` (bench/long_lists.py's corpus pages)."""

    field = "lines"

    def __init__(self):
        super().__init__(model_id=f"{type(self).__name__.lower()}")
        self.answers_rows: list[int] = []

    def item(self, where: tuple[int, str | None], line: str) -> dict | None:
        return {"text": _cited(line, where, line)}

    def others(self, props: dict, lines: list[tuple[tuple[int, str | None], str]]) -> dict:
        """The answer's other fields (none here)."""
        return {}

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        out = []
        for r in requests:
            self.calls += 1
            self.requests.append(r)
            lines, page, doc = [], None, None
            for seg in r.segments:
                if not isinstance(seg, TextSegment):
                    continue
                if seg.text.startswith("Document: "):
                    doc = seg.text.removeprefix("Document: ") if len(r.doc_ids) > 1 else None  # cited by name in a collection
                elif m := re.match(r"\[page (\d+)\]", seg.text):
                    page = int(m.group(1))
                elif seg.text.startswith("Text layer: "):
                    lines.extend(((page, doc), line) for line in seg.text.removeprefix("Text layer: ").splitlines())
            props = r.response_schema["properties"]
            answer = self.others(props, lines)
            if self.field in props:
                items = [i for i in (self.item(p, line) for p, line in lines) if i is not None]
                answer[self.field] = items[:props[self.field].get("maxItems", len(items))]
                self.answers_rows.append(len(answer[self.field]))
            text = json.dumps({name: answer[name] for name in props if name in answer})  # in the schema's order, as a grammar writes it
            cut = len(text) // 4 > r.max_new_tokens
            out.append(Generation(request_id=r.request_id, text=text[:r.max_new_tokens * 4] if cut else text,
                                  prompt_tokens=self.count_tokens(r), output_tokens=min(len(text) // 4, r.max_new_tokens),
                                  model_id=self.model_id, finish_reason="length" if cut else "stop"))
        return out


class StatementReader(ListReader):
    """The list reader for bank statements (tests/statements.py): each `DATE DESCRIPTION AMOUNT` line a
    `transactions` item, and the account holder where asked and shown."""

    field = "transactions"

    def item(self, where: tuple[int, str | None], line: str) -> dict | None:
        if (m := ROW.match(line)) is None:
            return None
        date, desc, amount = m.groups()
        return {"date": _cited(date, where, line), "description": _cited(desc, where, line),
                "amount": _cited(float(amount), where, line)}

    def others(self, props: dict, lines: list[tuple[tuple[int, str | None], str]]) -> dict:
        if "account_holder" not in props:
            return {}
        holder = next(((p, line, m.group(1)) for p, line in lines if (m := HOLDER.match(line))), None)
        return {"account_holder": None if holder is None else _cited(holder[2], holder[0], holder[1])}


class ValueReader(ListReader):
    """A reader of long values as a model under constrained decoding answers them: `title` the first line of
    the request's text layers, `passage` all their lines joined by spaces (their prose), and a `pages` item
    for each page with its own lines joined; each cited by its first line, and cut to the characters the
    request's schema allows. `passage` is answered from `passages` where given (document name -> text,
    cited by its first 100 characters): bench/long_values.py's longest paragraph of each page."""

    field = None

    def __init__(self, passages: dict[str, str] | None = None):
        super().__init__()
        self.passages = passages or {}

    def others(self, props: dict, lines: list[tuple[tuple[int, str | None], str]]) -> dict:
        (where, first), out = lines[0] if lines else ((1, None), ""), {}
        if "title" in props:
            out["title"] = _cited(first[:_max_length(props["title"])], where, first) if first else None
        if "passage" in props:
            name = self.requests[-1].doc_labels[0]  # the request being answered (ListReader.generate)
            text, quote = (self.passages[name], self.passages[name][:100]) if name in self.passages else \
                (" ".join(line for _, line in lines), first)
            out["passage"] = _cited(text[:_max_length(props["passage"])], where, quote[:MAX_QUOTE]) if text else None
        if "pages" in props:
            node = props["pages"]
            limit = _max_length(node["items"]["properties"]["text"])
            pages: dict[tuple[int, str | None], list[str]] = {}
            for w, line in lines:
                pages.setdefault(w, []).append(line)
            out["pages"] = [{"text": _cited(" ".join(ls)[:limit], w, ls[0][:MAX_QUOTE])}
                            for w, ls in pages.items()][:node.get("maxItems", len(pages))]
        return out


def _max_length(node: dict) -> int | None:
    """The maxLength the wrapped schema gives a cited string leaf's value."""
    return node["anyOf"][0]["properties"]["value"].get("maxLength")


def _cited(value, where: tuple[int, str | None], quote: str) -> dict:
    """A cited leaf: `where` is (page, document name in a collection's request, else None)."""
    page, doc = where
    return {"value": value, "citations": [{"page": page, "quote": quote, **({"doc": doc} if doc else {})}]}


_ENGINES: dict[str, "ScriptedEngine"] = {}


class ScriptedEngine(ScriptedBackend):
    """An engine like vLLM's, for the flow's feeding: every request of a chunk in one call, the calls
    served one at a time ("the GPU") at `rate` requests per second; `busy_seconds` is the time serving.
    With `overlap` the flow may call it from two threads, so the next chunk waits at the GPU while this
    one is served (`overlapping_calls`); without, each chunk's call ends before the next starts."""

    continuous_batching = True

    def __init__(self, rate: float, overlap: bool = True):
        super().__init__(model_id="scripted-engine")
        self.rate = rate
        self.overlapping_calls = overlap
        self.busy_seconds = 0.0
        self._gpu = threading.Lock()

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        with self._gpu:
            t0 = time.perf_counter()
            time.sleep(len(requests) / self.rate)
            self.busy_seconds += time.perf_counter() - t0
        return super().generate(requests, max_seconds)
