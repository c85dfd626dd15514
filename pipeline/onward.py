"""A full list asked on from where its answer stopped, not again from the top.

An answer that holds as many items of a list as one answer may (pipeline/parts.py) read its pages down to
the line its last item quotes. The items above that line stand; the list is asked for again from that
line on (the line itself too, as it may hold more items: its items are dropped from the first answer and
read again), as a band of its page below the lines above it, then the pages after it, in as many parts
as the lines left promise items for. So a list of 13 to 24 items takes two requests, not three, and no
item is read twice. Where the answer's items cannot be placed among the lines (no text layer, quotes
the lines do not hold), or the page does not read top to bottom past that line (columns), the list is
asked again from the top in parts, as before."""

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
    """The line each item's first quote found among `lines` lies on (None: not found), looked for from
    the previous item's line on, then from the top."""
    at, out = 0, []
    for item in items:
        found = None
        for quote in quotes_in(item):
            key = folded(quote)[:QUOTE_KEY]
            if key:
                found = next((i for i in [*range(at, len(lines)), *range(0, at)] if key in lines[i].text), None)
            if found is not None:
                break
        out.append(found)
        at = found if found is not None else at
    return out


def onward(part: Part, answer: Any, field: str) -> Onward | None:
    """How to ask the full list `field` of `part`'s answer on from the line its last item quotes: the
    parts, and the items that stand; None where it cannot be (no item placed, none above that line, a
    page that does not read top to bottom past it)."""
    items = answer.get(field) if isinstance(answer, dict) else None
    if not isinstance(items, list) or not items:
        return None
    lines = reading_lines(part)
    placed = item_lines(items, lines)
    if not any(i is not None for i in placed):
        return None
    last = max(i for i in placed if i is not None)
    keep = next(k for k, i in enumerate(placed) if i is not None and i >= last)
    if keep == 0:
        return None
    u, top = lines[last].unit, lines[last].top
    above = [line for line in lines[:last] if line.unit == u]
    below = [line for line in lines[last + 1:] if line.unit == u]
    if any(line.bottom > top for line in above) or any(line.top < top for line in below):
        return None  # the page reads on elsewhere (another column): ask from the top
    units = part.units()
    n = max(1, min(MAX_SPLIT, math.ceil((len(lines) - last) / ((last + 1) * FILL))))
    fields = (field,)
    if above and (part.cuts >= parts.MAX_BAND_CUTS or not can_band(part.item.units[part.start + u])):
        return None  # its page may not be cut again
    if above:
        cut = (max(line.bottom for line in above) + top) / 2
        bottom = part.band[1] if part.band else float(upright_size(units[u])[1])
        band = dataclasses.replace(part, start=part.start + u, end=part.start + u + 1, band=(cut, bottom),
                                   fields=fields, key=part.key + (0,), cuts=part.cuts + 1)
        rest = [band] if part.start + u + 1 == part.end else \
            [band, dataclasses.replace(part, start=part.start + u + 1, band=None, fields=fields, key=part.key + (1,))]
    else:
        rest = [dataclasses.replace(part, start=part.start + u, band=None, fields=fields, key=part.key + (0,))]
    asked = [p for piece in rest for p in (piece.split(fields, _share(piece, n, len(rest))) or [piece])]
    return Onward(asked, items[:keep])


def _share(piece: Part, n: int, pieces: int) -> int:
    """Parts for `piece`, one of `pieces` that take `n` in all: a band the lines left on its page share,
    the pages after it the rest; 1 asks it whole."""
    return max(1, n - (pieces - 1)) if piece.end - piece.start > 1 or pieces == 1 else 1
