"""Answers too long for one request, asked for again in parts.

One answer holds at most MAX_ITEMS items of a list (the grammar's bound, so that decoding always ends)
and at most --max-new-tokens tokens (twice that on its retry). An invoice of 40 line items, or a bank
statement page of 30 transactions, came back with its first 12 items and nothing said the rest were
missing; an answer longer than its token allowance was lost whole. Now a request whose answer fills a
list the schema lets run longer, or runs out of tokens, is asked again in two parts: its pages in two
halves, or its one page in an upper and a lower band cut between text lines (the band's picture and the
band's words only), down to bands of MIN_BAND_LINES lines, at most MAX_BAND_CUTS cuts deep. A part is
asked for the full lists alone (the rest of the first answer stands), or for everything when the answer
was cut off. The parts' items replace the first answer's, in reading order; a list still full in a part
that cannot be cut further is kept with a `list_at_limit` warning."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.wrap import item_limit, more_allowed
from schemas.records import FrameUnit, PageUnit
from schemas.shape import Shape

MIN_BAND_LINES = 2  # text lines each band of a page holds, at least
LINE_CORE = 0.6  # the share of a line's height a cut between lines never crosses
MAX_BAND_CUTS = 6  # a page is cut into at most 2**6 = 64 bands (a table's rows, two or three at a time)
MAX_PARTS = 256  # parts one request is asked in, at most (a runaway answer never multiplies without end)

if TYPE_CHECKING:
    from pipeline.prepare import Prepared

Unit = PageUnit | FrameUnit


@dataclass(frozen=True)
class Part:
    """What one request asks about: units `start:end` of one document, or a band (top, bottom, in the
    unit's own coordinates) of its one unit; `fields`: the top-level fields asked (None: all); `key`: its
    place in reading order among the parts of the first request (a tuple: parts sort by it)."""

    item: "Prepared"
    start: int
    end: int
    band: tuple[float, float] | None = None
    fields: tuple[str, ...] | None = None
    key: tuple[int, ...] = ()
    cuts: int = 0

    def units(self) -> list[Unit]:
        """The units the part's request shows: a band is its unit cut to the band (`band_unit`)."""
        units = self.item.units[self.start:self.end]
        return [band_unit(units[0], self.band)] if self.band is not None else units

    def halves(self, fields: tuple[str, ...] | None) -> list["Part"]:
        """The part in two, each asking for `fields`: its units in halves, or its one unit in two bands
        at the gap between text lines nearest its middle line; [] when it cannot be cut."""
        if self.end - self.start > 1:
            mid = (self.start + self.end) // 2
            spans = [(self.start, mid, None), (mid, self.end, None)]
        else:
            unit = self.item.units[self.start]
            cut = band_cut(unit, self.band) if self.cuts < MAX_BAND_CUTS else None
            if cut is None:
                return []
            top, bottom = self.band or (0.0, float(unit.height))
            spans = [(self.start, self.end, (top, cut)), (self.start, self.end, (cut, bottom))]
        cuts = self.cuts + (spans[0][2] is not None)
        return [dataclasses.replace(self, start=s, end=e, band=b, fields=fields, key=self.key + (k,), cuts=cuts)
                for k, (s, e, b) in enumerate(spans)]


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


def asking(shape: Shape, fields: tuple[str, ...] | None) -> Shape:
    """The schema a part is asked with: `shape` with only the top-level `fields` (all when None)."""
    if fields is None or shape.kind != "object":
        return shape
    return dataclasses.replace(shape, props=tuple((name, sub) for name, sub in shape.props if name in fields))


def without(answer: dict, fields: tuple[str, ...]) -> dict:
    """A wrapped answer with `fields` left empty (their values come from the parts)."""
    return {name: (None if name in fields else value) for name, value in answer.items()}


def _lines(unit: Unit, band: tuple[float, float] | None) -> list[tuple[float, float]]:
    """The core (top, bottom) of each text line of `unit` whose middle lies in `band` (the whole unit when
    None): the middle LINE_CORE of its height, as lines set close have boxes that touch or overlap."""
    spans: dict[int, list[float]] = {}
    for w in unit.words:
        s = spans.setdefault(w.line, [w.y0, w.y1])
        s[0], s[1] = min(s[0], w.y0), max(s[1], w.y1)
    top, bottom = band or (float("-inf"), float("inf"))
    cores = []
    for a, b in spans.values():
        middle, half = (a + b) / 2, (b - a) * LINE_CORE / 2
        if top <= middle < bottom:
            cores.append((middle - half, middle + half))
    return sorted(cores)


def can_band(unit: Unit) -> bool:
    """Whether `unit`'s picture can be cut by its words' heights: shown as its words lie (a PDF page's
    rotation is applied to both; a scan OCR read turned is shown turned upright, its words are not)."""
    return unit.image.turn % 4 == 0 and unit.image.crop is None and unit.height > 0 and bool(unit.words)


def band_cut(unit: Unit, band: tuple[float, float] | None) -> float | None:
    """Where to cut `band` of `unit` (its own coordinates) in two: the middle of the gap between text
    lines (no line crosses it) that leaves the most even count of lines above and below, each at least
    MIN_BAND_LINES; None when no such gap exists."""
    if not can_band(unit):
        return None
    lines = _lines(unit, band)
    best = None
    reach = float("-inf")  # the lowest bottom of the lines above the gap
    for k in range(len(lines) - 1):
        reach = max(reach, lines[k][1])
        gap_top, gap_bottom = reach, lines[k + 1][0]
        above = k + 1
        if gap_bottom <= gap_top or min(above, len(lines) - above) < MIN_BAND_LINES:
            continue
        balance = abs(len(lines) - 2 * above)
        if best is None or balance < best[0]:
            best = (balance, (gap_top + gap_bottom) / 2)
    return None if best is None else best[1]


def band_unit(unit: Unit, band: tuple[float, float]) -> Unit:
    """`unit` cut to `band` (top, bottom in its own coordinates): the picture cropped to the band's full
    width, and the words whose middle lies in it (still in the unit's coordinates, so citations are
    verified and boxed on the whole unit)."""
    top, bottom = band
    scale = unit.image_height / unit.height
    y0, y1 = max(0, round(top * scale)), min(unit.image_height, round(bottom * scale))
    y1 = max(y1, y0 + 1)
    words = [w for w in unit.words if top <= (w.y0 + w.y1) / 2 < bottom]
    return unit.model_copy(update={"image": unit.image.model_copy(update={"crop": (0, y0, unit.image_width, y1)}),
                                   "image_height": y1 - y0, "words": words})
