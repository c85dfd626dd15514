"""Turn generations into extraction rows, and merge the rows of a document's windows."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.errors import StageError
from pipeline.ingest.layout import shared_area
from pipeline.textnorm import storable
from schemas.shape import Shape
from schemas.records import Extraction, Generation

_INDEX = re.compile(r"\[(\d+)\]")


def parse_generation(gen: Generation) -> Any:
    """The JSON object of a generation. Control characters inside strings are tolerated (xgrammar's
    bounded strings can let them through), a lone surrogate escape becomes U+FFFD; truncated and invalid
    outputs raise StageError."""
    if gen.finish_reason == "error":
        raise StageError("model", "generation_failed", gen.error or "generation failed", permanent=False)
    if gen.finish_reason == "time":
        raise StageError("model", "generation_timeout", gen.error or "generation stopped by its time limit", permanent=False)
    if gen.finish_reason == "length":
        raise StageError("parse", "truncated_output",
                         f"answer was cut at {gen.output_tokens} tokens before the JSON closed; raise --max-new-tokens",
                         permanent=False)
    try:
        obj = storable(json.loads(gen.text, strict=False))
    except json.JSONDecodeError as e:
        raise StageError("parse", "invalid_json", f"answer is not valid JSON ({e.msg} at char {e.pos})") from e
    if not isinstance(obj, dict):
        raise StageError("parse", "invalid_json", "answer is not a JSON object")
    return obj


def citation_weight(e: Extraction) -> float:
    """How well a value is supported: sum of its citations' match scores (unverified count 0)."""
    return sum(c.score for c in e.citations if c.located and c.value_supported is not False)


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def merge_windows(windows: list[list[Extraction]]) -> list[Extraction]:
    """Merge the extractions of overlapping windows of one document.

    Scalar fields keep the best-cited value; the other values seen go to `conflicts`. List fields are
    concatenated in window order and renumbered; an item read again by a later window (pages shared by
    two windows) is left out there: same values, cited at the same place. Items of one window are never
    merged, nor equal items cited at different places (a monthly fee on every page of a statement)."""
    if len(windows) == 1:
        return _numbered(windows[0])
    scalars: dict[str, list[Extraction]] = {}
    items: dict[str, dict[tuple[int, int], list[Extraction]]] = {}
    order: list[str] = []
    for w, rows in enumerate(windows):
        for e in rows:
            m = _INDEX.search(e.field)
            if m is None:
                if e.field not in scalars:
                    order.append(e.field)
                scalars.setdefault(e.field, []).append(e)
            else:
                root = e.field[:m.start()]
                if root not in items:
                    order.append(root)
                items.setdefault(root, {}).setdefault((w, int(m.group(1))), []).append(e)
    merged: list[Extraction] = []
    for key in order:
        if key in scalars:
            cands = scalars[key]
            best = max(cands, key=lambda e: (citation_weight(e), -cands.index(e)))
            others = []
            for e in cands:
                if _canon(e.value) != _canon(best.value) and _canon(e.value) not in map(_canon, others):
                    others.append(e.value)
            cites = [c for e in cands if _canon(e.value) == _canon(best.value) for c in e.citations]
            merged.append(best.model_copy(update={"conflicts": others, "citations": _dedupe_citations(cites)}))
            continue
        kept: list[tuple[int, list[Extraction]]] = []  # (window, rows) of each item kept
        for (w, _), rows in sorted(items[key].items()):
            if not any(v != w and same_item(rows, other, len(key)) for v, other in kept):
                kept.append((w, rows))
        merged.extend(_renumbered(r, key, n) for n, (_, rows) in enumerate(kept) for r in rows)
    return merged


def _numbered(rows: list[Extraction]) -> list[Extraction]:
    """`rows` with each list's items numbered from 0 without gaps (a collection's answer gives a document
    only the items cited on it: `[10]`, `[11]` become `[0]`, `[1]`); rows already so are kept as they are."""
    numbers: dict[tuple[str, int], int] = {}
    count: dict[str, int] = {}
    out = []
    for e in rows:
        m = _INDEX.search(e.field)
        if m is None:
            out.append(e)
            continue
        root, index = e.field[:m.start()], int(m.group(1))
        if (root, index) not in numbers:
            numbers[root, index] = count[root] = count.get(root, -1) + 1
        out.append(e if numbers[root, index] == index else _renumbered(e, root, numbers[root, index]))
    return out


def _renumbered(row: Extraction, root: str, n: int) -> Extraction:
    """`row` of an item of the list at `root`, moved to item `n` of that list."""
    return row.model_copy(update={"field": f"{root}[{n}]{row.field[len(root):].split(']', 1)[1]}"})


def same_item(a: list[Extraction], b: list[Extraction], root: int) -> bool:
    """Whether two list items (their rows; `root`: the length of the list's path) are one item read by two
    windows: the same values at the same sub-paths, cited at the same place."""
    def values(rows: list[Extraction]) -> list[tuple[str, str]]:
        return sorted((r.field[root:].split("]", 1)[1], _canon(r.value)) for r in rows)

    return values(a) == values(b) and _same_place([c for r in a for c in r.citations], [c for r in b for c in r.citations])


def _same_place(a: list, b: list) -> bool:
    """Citations of two items point at one place: located ones share a box (or, boxless, a quote) on one
    page or frame; otherwise they name a page or frame in common (or neither cites anything)."""
    la, lb = [c for c in a if c.located], [c for c in b if c.located]
    if la and lb:
        return any(_one_place(x, y) for x in la for y in lb)
    pages_a, pages_b = {(c.page, c.t_seconds) for c in a}, {(c.page, c.t_seconds) for c in b}
    return bool(pages_a & pages_b) or not (pages_a or pages_b)


def _one_place(x, y) -> bool:
    if (x.page, x.t_seconds) != (y.page, y.t_seconds):
        return False
    if not x.boxes or not y.boxes:
        return x.quote == y.quote
    return any(_shared(p, q) >= 0.5 for p in x.boxes for q in y.boxes)


def _shared(p, q) -> float:
    """The share of the smaller of two boxes that lies in both."""
    a, b = (p.x0, p.y0, p.x1, p.y1), (q.x0, q.y0, q.x1, q.y1)
    smaller = min((p.x1 - p.x0) * (p.y1 - p.y0), (q.x1 - q.x0) * (q.y1 - q.y0))
    return shared_area(a, b) / smaller if smaller > 0 else 0.0


def _dedupe_citations(cites):
    out, seen = [], set()
    for c in cites:
        k = (c.page, c.t_seconds, c.quote)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out


def values_from_extractions(shape: Shape, rows: list[Extraction]) -> dict:
    """Plain values shaped like the user's schema (null where nothing was extracted, [] for empty lists)."""
    out: dict = {}
    for e in rows:
        _set_path(out, e.field, e.value)
    return shape.declared(shape.walk(out, lambda _, value, __: value))


def _set_path(obj: Any, path: str, value: Any) -> None:
    tokens = [t for t in re.split(r"\.|(\[\d+\])", path) if t]
    cur = obj
    for k, tok in enumerate(tokens):
        last = k == len(tokens) - 1
        nxt = tokens[k + 1] if not last else None
        if tok.startswith("["):
            i = int(tok[1:-1])
            while len(cur) <= i:
                cur.append(None)
            if last:
                cur[i] = value
            else:
                if cur[i] is None:
                    cur[i] = [] if nxt.startswith("[") else {}
                cur = cur[i]
        else:
            if last:
                cur[tok] = value
            else:
                if cur.get(tok) is None:
                    cur[tok] = [] if nxt.startswith("[") else {}
                cur = cur[tok]
