"""Wrap a user schema so every leaf carries citations, and unwrap answers back into Extraction rows.

Each leaf X becomes `{"value": X, "citations": [{"page"|"t" (+ "doc"), "quote"}]}` or null (not found).
Page numbers / timestamps / document names are enums of what is actually in the request. Strings and
arrays get bounds so that constrained decoding always terminates, even with a random-weight model (and a
real one caught repeating itself): a string holds the schema's own `maxLength` (at most LONG_STRING
characters), or MAX_STRING where the schema sets none; a value that fills MAX_STRING is asked for again
with LONG_STRING (pipeline/longanswers.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from schemas.shape import LEAF_TYPES, Shape
from schemas.records import ClaimedCitation, parse_timestamp

MAX_STRING = 200  # characters of a string value in a first answer, where the schema sets no maxLength
LONG_STRING = 4000  # ... in an answer asked again for values that filled MAX_STRING; the most a schema's maxLength gets
MAX_QUOTE = 160
MAX_ITEMS = 12  # items of one list in one answer; a longer list is asked for again in parts (pipeline/parts.py)
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


def wrap_schema(shape: Shape, targets: CitationTargets, longer: bool = False) -> dict:
    """The schema the model is constrained to: the user's schema with a citation list on every leaf;
    `longer`: strings without a maxLength of their own may hold LONG_STRING characters (else MAX_STRING)."""
    cite = citation_schema(targets)

    def leaf(s: Shape) -> dict:
        value = {k: copy.deepcopy(v) for k, v in s.node.items() if k in _KEEP}
        if s.node.get("type") in LEAF_TYPES:
            value["type"] = s.node["type"]
        if value.get("type") == "string" and "enum" not in value:
            value["maxLength"] = string_limit(s, longer)
            value.pop("format", None)
        cited = {"type": "object",
                 "properties": {"value": value,
                                "citations": {"type": "array", "items": cite, "minItems": 1, "maxItems": MAX_CITATIONS}},
                 "required": ["value", "citations"], "additionalProperties": False}
        return {"anyOf": [cited, {"type": "null"}]}

    def obj(s: Shape, props: dict) -> dict:
        out = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
        return _described(out, s)

    def arr(s: Shape, items: dict) -> dict:
        return _described({"type": "array", "items": items, "maxItems": item_limit(s)}, s)

    return shape.fold(leaf, obj, arr)


def item_limit(array: Shape) -> int:
    """How many items of the list `array` one answer may hold: the schema's own `maxItems`, at most MAX_ITEMS."""
    return min(int(array.node.get("maxItems", MAX_ITEMS)), MAX_ITEMS)


def string_limit(leaf: Shape, longer: bool = False) -> int:
    """How many characters a string value of `leaf` may hold in one answer: the schema's own maxLength (at
    most LONG_STRING), else MAX_STRING, or LONG_STRING in an answer asked again for longer values."""
    own = leaf.node.get("maxLength")
    if own is not None:
        return max(0, min(int(own), LONG_STRING))
    return LONG_STRING if longer else MAX_STRING


def longer_allowed(leaf: Shape, longer: bool = False) -> bool:
    """Whether the schema lets a string value of `leaf` run past the characters one answer (asked with
    `longer` strings or not) gives it: it sets no maxLength, or one above that bound."""
    own = leaf.node.get("maxLength")
    return own is None or int(own) > string_limit(leaf, longer)


def more_allowed(array: Shape) -> bool:
    """Whether the schema lets the list `array` hold more items than one answer may."""
    return int(array.node.get("maxItems", MAX_ITEMS + 1)) > MAX_ITEMS


def _described(out: dict, s: Shape) -> dict:
    if "description" in s.node:
        out["description"] = s.node["description"]
    return out


@dataclass
class Leaf:
    """One cited value of an answer, at its concrete path (`items[2].amount`)."""

    path: str
    value: Any
    citations: list[ClaimedCitation] = field(default_factory=list)


def unwrap(answer: Any, shape: Shape, doc_ids_by_name: dict[str, str], default_doc: str) -> list[Leaf]:
    """The cited leaves of a wrapped answer, in schema order (leaves without a value are left out)."""
    leaves: list[Leaf] = []

    def leaf(_: Shape, cited: Any, path: str) -> Any:
        if not isinstance(cited, dict) or cited.get("value") is None:
            return None
        claims = (_claim(c, doc_ids_by_name, default_doc) for c in cited.get("citations") or [])
        leaves.append(Leaf(path, cited["value"], [c for c in claims if c]))
        return cited["value"]

    shape.walk(answer, leaf)
    return leaves


def _claim(c: Any, names: dict[str, str], default_doc: str) -> ClaimedCitation | None:
    """One citation of the answer as claimed (a missing or empty quote: None)."""
    if not isinstance(c, dict) or not str(c.get("quote", "")).strip():
        return None
    t_sec = None
    if c.get("t") is not None:
        try:
            t_sec = parse_timestamp(str(c["t"]))
        except ValueError:
            t_sec = None
    page = c.get("page") if isinstance(c.get("page"), int) else None
    return ClaimedCitation(doc_id=names.get(str(c.get("doc", "")), default_doc), page=page, t_seconds=t_sec,
                           quote=str(c["quote"]))
