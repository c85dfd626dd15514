"""Wrap a user schema so every leaf carries citations, and unwrap answers back into Extraction rows.

Each leaf X becomes `{"value": X, "citations": [{"page"|"t" (+ "doc"), "quote"}]}` or null (not found).
Page numbers / timestamps / document names are enums of what is actually in the request. Strings and
arrays get bounds so that constrained decoding always terminates, even with a random-weight model."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from schemas.catalog import LEAF_TYPES, resolve_ref
from schemas.records import ClaimedCitation, parse_timestamp

MAX_STRING = 200
MAX_QUOTE = 160
MAX_ITEMS = 12
MAX_CITATIONS = 3
_KEEP = ("description", "title", "enum", "minimum", "maximum", "pattern", "format")


@dataclass(frozen=True)
class CitationTargets:
    """What a citation may point at in one request."""

    pages: tuple[int, ...] = ()
    timestamps: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()  # document names, only for collection requests


def citation_schema(targets: CitationTargets) -> dict:
    props: dict[str, Any] = {}
    if targets.docs:
        props["doc"] = {"type": "string", "enum": list(targets.docs)}
    if targets.timestamps:
        props["t"] = {"type": "string", "enum": list(targets.timestamps)}
    else:
        props["page"] = {"type": "integer", "enum": list(targets.pages or (1,))}
    props["quote"] = {"type": "string", "minLength": 1, "maxLength": MAX_QUOTE}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def wrap_schema(schema: dict, targets: CitationTargets) -> dict:
    """The schema the model is constrained to: the user's schema with a citation list on every leaf."""
    cite = citation_schema(targets)
    return _wrap(schema, schema, cite, depth=0)


def _wrap(node: dict, root: dict, cite: dict, depth: int) -> dict:
    if depth > 12:
        raise ValueError("schema nests deeper than 12 levels")
    node = resolve_ref(node, root)
    t = node.get("type")
    if t == "object" and "enum" not in node:
        props = {k: _wrap(v, root, cite, depth + 1) for k, v in (node.get("properties") or {}).items()}
        out = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
        if "description" in node:
            out["description"] = node["description"]
        return out
    if t == "array":
        out = {"type": "array", "items": _wrap(node["items"], root, cite, depth + 1),
               "maxItems": min(int(node.get("maxItems", MAX_ITEMS)), MAX_ITEMS)}
        if "description" in node:
            out["description"] = node["description"]
        return out
    leaf = {k: copy.deepcopy(v) for k, v in node.items() if k in _KEEP}
    if t in LEAF_TYPES:
        leaf["type"] = t
    if leaf.get("type") == "string" and "enum" not in leaf:
        leaf["maxLength"] = min(int(node.get("maxLength", MAX_STRING)), MAX_STRING)
        leaf.pop("format", None)
    cited = {"type": "object",
             "properties": {"value": leaf,
                            "citations": {"type": "array", "items": cite, "minItems": 1, "maxItems": MAX_CITATIONS}},
             "required": ["value", "citations"], "additionalProperties": False}
    return {"anyOf": [cited, {"type": "null"}]}


@dataclass
class Leaf:
    path: str
    value: Any
    citations: list[ClaimedCitation] = field(default_factory=list)


def unwrap(answer: Any, schema: dict, doc_ids_by_name: dict[str, str], default_doc: str) -> tuple[Any, list[Leaf]]:
    """(plain values shaped like the user's schema, cited leaves) from a wrapped answer."""
    leaves: list[Leaf] = []
    values = _unwrap(answer, schema, schema, "", leaves, doc_ids_by_name, default_doc)
    return values, leaves


def _unwrap(node_val, node, root, path, leaves, names, default_doc):
    node = resolve_ref(node, root)
    t = node.get("type")
    if t == "object" and "enum" not in node:
        src = node_val if isinstance(node_val, dict) else {}
        return {k: _unwrap(src.get(k), sub, root, f"{path}.{k}" if path else k, leaves, names, default_doc)
                for k, sub in (node.get("properties") or {}).items()}
    if t == "array":
        items = node_val if isinstance(node_val, list) else []
        out = [_unwrap(v, node["items"], root, f"{path}[{i}]", leaves, names, default_doc) for i, v in enumerate(items)]
        return [v for v in out if v is not None]
    if not isinstance(node_val, dict) or "value" not in node_val:
        return None
    value = node_val.get("value")
    if value is None:
        return None
    cites = []
    for c in node_val.get("citations") or []:
        if not isinstance(c, dict) or not str(c.get("quote", "")).strip():
            continue
        doc_id = names.get(str(c.get("doc", "")), default_doc)
        t_sec = None
        if c.get("t") is not None:
            try:
                t_sec = parse_timestamp(str(c["t"]))
            except ValueError:
                t_sec = None
        page = c.get("page") if isinstance(c.get("page"), int) else None
        cites.append(ClaimedCitation(doc_id=doc_id, page=page, t_seconds=t_sec, quote=str(c["quote"])))
    leaves.append(Leaf(path=path, value=value, citations=cites))
    return value
