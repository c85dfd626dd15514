"""Verify citations made by any tool against an opened `Document`, with the pipeline's own grounding
(one implementation: `DocumentGrounder`), plus converters from other tools' outputs into citations.
A malformed citation gives a verdict with a reason, never an exception."""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from pipeline.grounding import UNSET, DocumentGrounder
from pipeline.textnorm import storable
from schemas.records import ClaimedCitation
from schemas.verify import CitationInput, ContinuedPart, Document, VerifiedCitation

_grounders: dict[int, DocumentGrounder] = {}


def grounder_for(doc: Document) -> DocumentGrounder:
    """The document's grounder, built once per Document object (its word indexes are the costly part)
    and dropped with it."""
    g = _grounders.get(id(doc))
    if g is None:
        g = _grounders[id(doc)] = DocumentGrounder(doc.units)
        weakref.finalize(doc, _grounders.pop, id(doc), None)
    return g


def as_input(item: Any) -> CitationInput:
    """A citation from a mapping or a record; raises ValueError with a readable message."""
    if isinstance(item, CitationInput):
        return item
    if hasattr(item, "model_dump"):
        item = item.model_dump()
    if not isinstance(item, Mapping):
        raise ValueError(f"a citation must be an object with a 'quote', got {type(item).__name__}")
    item = dict(item)
    if "t" not in item and "t_seconds" in item:
        item["t"] = item["t_seconds"]
    try:
        return CitationInput.model_validate(item)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "citation"
        raise ValueError(f"{where}: {first['msg']}") from None


def verify_citations(doc: Document, citations: Iterable[Any]) -> list[VerifiedCitation]:
    """One verdict per citation, in order."""
    g = grounder_for(doc)
    out = []
    for k, item in enumerate(citations):
        try:
            c = as_input(item)
        except ValueError as e:
            quote = item.get("quote") if isinstance(item, Mapping) else None
            out.append(VerifiedCitation(index=k, quote=str(quote or ""), reason=f"invalid citation: {e}"))
            continue
        claim = ClaimedCitation(doc_id=doc.doc_id, page=c.page, t_seconds=c.t, quote=c.quote)
        cit, *rest = g.ground_all(claim, value=c.value if "value" in c.model_fields_set else UNSET)
        out.append(VerifiedCitation(
            index=k, quote=c.quote, field=c.field, value=c.value, claimed_page=c.page, claimed_t_seconds=c.t,
            match=cit.match, score=cit.score, page=cit.page, t_seconds=cit.t_seconds, boxes=cit.boxes,
            boxes_norm=cit.boxes_norm, value_supported=cit.value_supported,
            continued=[ContinuedPart(page=r.page, boxes=r.boxes, boxes_norm=r.boxes_norm) for r in rest],
            verified=cit.located and cit.value_supported is not False, reason=cit.reason))
    return out


# --- converters -------------------------------------------------------------------------------------

def from_langextract(record: Mapping) -> list[dict]:
    """Citations from one LangExtract annotated document (a line of its JSONL output): each extraction's
    text is the quote and the value, its class the field. LangExtract has no pages; the verifier finds
    the page and its boxes."""
    text = record.get("text") or ""
    out = []
    for e in record.get("extractions") or []:
        quote = e.get("extraction_text") or ""
        ci = e.get("char_interval") or {}
        start, end = ci.get("start_pos"), ci.get("end_pos")
        if text and isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            quote = text[start:end]  # the aligned source span, verbatim
        out.append({"quote": quote, "value": e.get("extraction_text"), "field": e.get("extraction_class")})
    return out


def from_fields(obj: Mapping) -> list[dict]:
    """Citations from a generic `{field: {value, quote, page | t}}` object (nested objects and lists of
    such leaves are walked; a leaf may carry `quotes` or `citations` lists)."""
    out: list[dict] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping) and ("quote" in node or "citations" in node or "quotes" in node):
            base = {k: node[k] for k in ("value", "page", "t") if k in node}
            cites = node.get("citations") or [{"quote": q} for q in node.get("quotes") or []] or [node]
            for c in cites:
                c = c if isinstance(c, Mapping) else {"quote": c}
                out.append({**base, **{k: c[k] for k in ("quote", "page", "t") if k in c}, "field": path})
        elif isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(obj, "")
    return out


def citations_from_line(line: str, kind: str = "auto") -> list[dict]:
    """Citations from one JSON line: a citation (`{quote, page|t, value?}`), a LangExtract annotated
    document, or a `{field: {value, quote, page}}` object. Raises ValueError for a bad line."""
    try:
        obj = storable(json.loads(line))
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, Mapping):
        raise ValueError("a line must be a JSON object")
    if kind == "citations":
        return [dict(obj)]
    if kind == "langextract" or (kind == "auto" and "extractions" in obj):
        return from_langextract(obj)
    if kind == "fields" or (kind == "auto" and "quote" not in obj):
        found = from_fields(obj)
        if not found:
            raise ValueError("no citation in this line: expected a 'quote', LangExtract 'extractions', "
                             "or {field: {value, quote, page}} objects")
        return found
    return [dict(obj)]
