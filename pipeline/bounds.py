"""What an answer filled to the bounds its wrapped schema gives it (pipeline/wrap.py): lists as long as
one answer may hold, and strings as long as one value may be. Either may have more on the pages, so the
request is asked again (pipeline/longanswers.py): in parts for lists, with longer strings for values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.wrap import item_limit, longer_allowed, more_allowed, string_limit
from schemas.shape import Shape


def full_lists(answer: Any, shape: Shape) -> tuple[str, ...]:
    """The top-level fields of a wrapped `answer` holding a list (at any depth) with as many items as one
    answer may hold, where the schema lets it hold more: more items may be on the pages."""
    if shape.kind != "object" or not isinstance(answer, dict):
        return ()
    return tuple(name for name, sub in shape.props if _full(sub, answer.get(name)))


def _full(shape: Shape, value: Any) -> bool:
    if shape.kind == "array" and isinstance(value, list):
        if len(value) >= item_limit(shape) and more_allowed(shape):
            return True
        return any(_full(shape.items, v) for v in value)
    if shape.kind == "object" and isinstance(value, dict):
        return any(_full(sub, value.get(name)) for name, sub in shape.props)
    return False


@dataclass(frozen=True)
class LongValues:
    """Top-level fields of an answer holding a string value as long as its bound: `again`, where asking
    with longer strings lets it run on; `at_limit`, where the bound is the longest a value may be
    (the schema's own maxLength above LONG_STRING, or an answer asked with longer strings already)."""

    again: tuple[str, ...] = ()
    at_limit: tuple[str, ...] = ()


def long_values(answer: Any, shape: Shape, longer: bool = False) -> LongValues:
    """The fields of a wrapped `answer` (asked with `longer` strings or not) holding a string value cut at
    its bound: as many characters as the bound, where the schema lets it run longer."""
    if shape.kind != "object" or not isinstance(answer, dict):
        return LongValues()
    again, at_limit = [], []
    for name, sub in shape.props:
        cut = _cut_leaves(sub, answer.get(name), longer)
        if any(string_limit(leaf, True) > string_limit(leaf, longer) for leaf in cut):
            again.append(name)
        elif cut:
            at_limit.append(name)
    return LongValues(tuple(again), tuple(at_limit))


def _cut_leaves(shape: Shape, value: Any, longer: bool) -> list[Shape]:
    """The string leaves under `shape` whose value in `value` fills its bound where more is allowed."""
    if shape.kind == "leaf":
        text = value.get("value") if isinstance(value, dict) else None
        cut = (isinstance(text, str) and shape.type == "string" and "enum" not in shape.node
               and len(text) >= string_limit(shape, longer) and longer_allowed(shape, longer))
        return [shape] if cut else []
    if shape.kind == "array" and isinstance(value, list) and shape.items is not None:
        return [leaf for v in value for leaf in _cut_leaves(shape.items, v, longer)]
    if shape.kind == "object" and isinstance(value, dict):
        return [leaf for name, sub in shape.props for leaf in _cut_leaves(sub, value.get(name), longer)]
    return []
