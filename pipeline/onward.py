"""A full list asked on from where its answer stopped, not again from the top.

An answer that holds as many items of a list as one answer may (pipeline/parts.py), or that was cut off
by its token allowance inside the list (pipeline/salvage.py), read its pages down to the line its last
item quotes. The items above that line stand; the list is asked for again from that
line on (the line's row too, as it may hold more items: the items on it are dropped from the first answer and read
again), as a band of its page below the lines above that row, then the pages after it, in as many parts
as the lines left promise items for. So a list of 13 to 24 items takes two requests, not three, and no
item is read twice. Where the answer's items cannot be placed among the lines (no text layer, quotes
the lines do not hold), or the page reads on above that row (another column), the list is asked again
from the top in parts, as before."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from pipeline import parts
from pipeline.parts import FILL, LINE_CORE, MAX_SPLIT, QUOTE_KEY, Part, can_band, folded, quotes_in, upright_size, upright_span


@dataclass(frozen=True)
class Line:
    """One text line of a part, in reading order: its unit (index among the part's units), its folded
    text, and the core (top, bottom) of its height on the unit shown upright."""

    unit: int
    text: str
    top: float
    bottom: float

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Onward:
    """The parts to ask a list on in, and the items of the first answer that stand."""

    parts: list[Part]
    kept: list


def reading_lines(part: Part) -> list[Line]:
    """The part's text lines in reading order, as the prompt's text layer gives them (`layer_text`)."""
    out: list[Line] = []
    for k, unit in enumerate(part.units()):
        last = None
        words: list[str] = []
        span: list[float] = []
        for w in [*unit.words, None]:
            if w is None or w.line != last:
                if words:
                    middle, half = (span[0] + span[1]) / 2, (span[1] - span[0]) * LINE_CORE / 2
                    out.append(Line(k, folded(" ".join(words)), middle - half, middle + half))
                if w is None:
                    break
                last, words, span = w.line, [], list(upright_span(unit, w))
            y0, y1 = upright_span(unit, w)
            words.append(w.text)
            span[0], span[1] = min(span[0], y0), max(span[1], y1)
    return out


def item_lines(items: list, lines: list[Line]) -> list[int | None]:
    """The line each item's first quote found among `lines` lies on (None: not found), looked for after
    the previous item's line, then on it (items that share a line), then from the top: items read in order
    down lines that repeat a text (a quantity of 1 on every row) each get their own line."""
    at, out = -1, []
    for item in items:
        found = None
        for quote in quotes_in(item):
            key = folded(quote)[:QUOTE_KEY]
            if key:
                order = [*range(at + 1, len(lines)), *([at] if at >= 0 else []), *range(0, max(at, 0))]
                found = next((i for i in order if key in lines[i].text), None)
            if found is not None:
                break
        out.append(found)
        at = found if found is not None else at
    return out


def onward(part: Part, answer: Any, field: str) -> Onward | None:
    """How to ask the full list `field` of `part`'s answer on from the row of the line its last item
    quotes: the parts, and the items that stand; None where it cannot be (no item placed, none standing,
    a page that reads on above that row)."""
    items = answer.get(field) if isinstance(answer, dict) else None
    if not isinstance(items, list) or not items:
        return None
    lines = reading_lines(part)
    placed = item_lines(items, lines)
    if not any(i is not None for i in placed):
        return None
    last = max(i for i in placed if i is not None)
    u, row = lines[last].unit, lines[last]
    above = [line for line in lines if line.unit == u and line.bottom <= row.top]  # the lines above its row
    cut = (max(line.bottom for line in above) + row.top) / 2 if above else None
    if cut is not None and any(line.unit == u and line.middle < cut for line in lines[last + 1:]):
        return None  # the page reads on above that row (another column): ask from the top
    if cut is not None and (part.cuts >= parts.MAX_BAND_CUTS or not can_band(part.item.units[part.start + u])):
        cut = None  # its page may not be cut again: ask on from the page's top
    kept = [item for item, i in zip(items, placed) if i is None or not _asked_again(lines[i], u, cut)]
    if not kept or len(kept) == len(items):
        return None
    fields = (field,)
    n = max(1, min(MAX_SPLIT, math.ceil((len(lines) - last) / ((last + 1) * FILL))))
    if cut is not None:
        bottom = part.band[1] if part.band else float(upright_size(part.units()[u])[1])
        band = dataclasses.replace(part, start=part.start + u, end=part.start + u + 1, band=(cut, bottom),
                                   fields=fields, key=part.key + (0,), cuts=part.cuts + 1)
        rest = [band] if part.start + u + 1 == part.end else \
            [band, dataclasses.replace(part, start=part.start + u + 1, band=None, fields=fields, key=part.key + (1,))]
    else:
        rest = [dataclasses.replace(part, start=part.start + u, band=None, fields=fields, key=part.key + (0,))]
    asked = [p for piece in rest for p in (piece.split(fields, _share(piece, n, len(rest))) or [piece])]
    return Onward(asked, kept)


def _asked_again(line: Line, u: int, cut: float | None) -> bool:
    """Whether `line` is shown again when a list is asked on from unit `u` below `cut` (None: from its top)."""
    return line.unit > u or (line.unit == u and (cut is None or line.middle >= cut))


def _share(piece: Part, n: int, pieces: int) -> int:
    """Parts for `piece`, one of `pieces` that take `n` in all: a band the lines left on its page share,
    the pages after it the rest; 1 asks it whole."""
    return max(1, n - (pieces - 1)) if piece.end - piece.start > 1 or pieces == 1 else 1
