"""What an answer cut off by its token allowance still holds.

Under constrained decoding a cut-off answer is the start of a valid answer. Where it was cut inside a
top-level list after one item or more (an invoice's line items, a statement's rows: the usual reason an
answer runs long), the fields before that list and the list's complete items are kept, and the rest is
asked on (pipeline/longanswers.py) instead of asking the whole request again with twice the tokens and
throwing the first answer away."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Salvaged:
    """A cut-off answer's complete part: its top-level fields up to the list it was writing, `field`, with
    that list's complete items (`items` of them)."""

    answer: dict
    field: str
    items: int


def salvaged(text: str) -> Salvaged | None:
    """The complete part of `text`, a JSON object cut off inside one of its top-level lists after one item
    or more; None where it was cut anywhere else (or is not such a start)."""
    stack: list[str] = []
    in_string = escape = scalar = False
    string_start = -1
    last_string: tuple[int, int] | None = None  # the last string read in the root object (a key, or a value)
    key = None  # the root object's key being written
    field, done = None, -1  # the open top-level list, and where its last complete item ends
    for i, ch in enumerate(text):
        item_level = len(stack) == 2 and _in_list(stack)
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
                if len(stack) == 1:
                    last_string = (string_start, i + 1)
                elif item_level:
                    done = i + 1  # a string item ends
            continue
        if ch == '"':
            in_string, string_start = True, i
        elif ch == ":" and len(stack) == 1 and last_string:
            key = json.loads(text[last_string[0]:last_string[1]])
        elif ch in "{[":
            stack.append(ch)
            if ch == "[" and len(stack) == 2:
                field, done, scalar = key, -1, False
        elif ch in "}]":
            if not stack:
                return None
            stack.pop()
            if not stack:
                return None  # the answer is whole: not cut off
            if len(stack) == 2 and _in_list(stack):
                done = i + 1  # an object or list item ends
        elif ch == "," and item_level:
            if scalar:
                done, scalar = i, False  # a number, boolean or null item ends
        elif item_level and not ch.isspace():
            scalar = True
    if not (_in_list(stack) and field is not None and done > 0):
        return None
    try:
        answer = json.loads(text[:done] + "]}", strict=False)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get(field), list) or not answer[field]:
        return None
    return Salvaged(answer, field, len(answer[field]))


def _in_list(stack: list[str]) -> bool:
    """Whether the open containers are the root object, then a list (and whatever lies inside it)."""
    return len(stack) >= 2 and stack[0] == "{" and stack[1] == "["
