"""Answers too long for one request, asked for again in parts.

One answer holds at most MAX_ITEMS items of a list (the grammar's bound, so that decoding always ends)
and at most --max-new-tokens tokens (twice that on its retry). An invoice of 40 line items, or a bank
statement page of 30 transactions, came back with its first 12 items and nothing said the rest were
missing; an answer longer than its token allowance was lost whole. Now a request whose answer fills a
list the schema lets run longer, or runs out of tokens, is asked again in parts: its pages in runs of
about even text lines, or its one page in bands cut between text lines (the band's picture and the band's
words only). A full answer is asked on from the line its last item quotes where it can be
(pipeline/onward.py), else again in as many parts as its text lines promise items for (`parts_wanted`:
its items reach down to the line its last item quotes; the lines below are taken to hold items as
densely), an answer cut off in two. Parts are cut again until their lists fit, down to bands
of MIN_BAND_LINES lines, MAX_BAND_CUTS levels deep. A part is asked for the full lists alone (the rest of
the first answer stands), or for everything when the answer was cut off. The parts' items replace the
first answer's, in reading order; a list still full in a part that cannot be cut further is kept with a
`list_at_limit` warning."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.records import FrameUnit, PageUnit
from schemas.shape import Shape

MIN_BAND_LINES = 2  # text lines each band of a page holds, at least
LINE_CORE = 0.6  # the share of a line's height a cut between lines never crosses
MAX_BAND_CUTS = 6  # levels of bands a page is cut in, at most (a table's rows, two or three at a time)
MAX_SPLIT = 8  # parts one full answer is asked again in, at most
FILL = 0.9  # the share of one answer's items a part is sized to hold
QUOTE_KEY = 24  # characters of a quote looked for among the part's lines
MAX_PARTS = 256  # parts one request is asked in, at most (a runaway answer never multiplies without end)

if TYPE_CHECKING:
    from pipeline.prepare import Prepared

Unit = PageUnit | FrameUnit


@dataclass(frozen=True)
class Part:
    """What one request asks about: units `start:end` of one document, or a band (top, bottom of the unit
    shown upright, in its own coordinates) of its one unit; `fields`: the top-level fields asked (None: all); `key`: its
    place in reading order among the parts of the first request (a tuple: parts sort by it); `longer`: asked
    with strings that may run to LONG_STRING characters (pipeline/wrap.py)."""

    item: "Prepared"
    start: int
    end: int
    band: tuple[float, float] | None = None
    fields: tuple[str, ...] | None = None
    key: tuple[int, ...] = ()
    cuts: int = 0
    longer: bool = False

    def units(self) -> list[Unit]:
        """The units the part's request shows: a band is its unit cut to the band (`band_unit`)."""
        units = self.item.units[self.start:self.end]
        return [band_unit(units[0], self.band)] if self.band is not None else units

    def split(self, fields: tuple[str, ...] | None, n: int = 2, longer: bool = False) -> list["Part"]:
        """The part in `n` parts (fewer where it has not the lines), each asking for `fields` (with longer
        strings where `longer` or the part was): its units in runs of about even text lines, or its one unit
        in bands cut between text lines; [] when it cannot be cut."""
        if self.end - self.start > 1:
            bounds = unit_runs([_line_count(u) for u in self.item.units[self.start:self.end]], n)
            spans = [(self.start + a, self.start + b, None) for a, b in bounds]
        else:
            unit = self.item.units[self.start]
            cuts = band_cuts(unit, self.band, n) if self.cuts < MAX_BAND_CUTS else []
            if not cuts:
                return []
            edges = [self.band[0] if self.band else 0.0, *cuts, self.band[1] if self.band else float(upright_size(unit)[1])]
            spans = [(self.start, self.end, (a, b)) for a, b in zip(edges, edges[1:])]
        cuts = self.cuts + (spans[0][2] is not None)
        return [dataclasses.replace(self, start=s, end=e, band=b, fields=fields, key=self.key + (k,), cuts=cuts,
                                    longer=self.longer or longer) for k, (s, e, b) in enumerate(spans)]

    def again(self, fields: tuple[str, ...], k: int = 0, longer: bool = True) -> "Part":
        """The part asked again for `fields` alone (with longer strings, or not); `k`: its place after its
        siblings."""
        return dataclasses.replace(self, fields=fields, key=self.key + (k,), longer=longer)


def parts_wanted(part: Part, answer: Any, fields: tuple[str, ...]) -> int:
    """How many parts to ask `part` in, its first answer's lists `fields` being full: as many as hold
    the items its text lines promise at FILL of one answer each. The items read reach down to the line the
    last of them quotes; the rest of the lines are taken to hold items as densely. 2 where no quote is
    found among the lines (no text layer, or quotes the lines do not hold), at most MAX_SPLIT."""
    from pipeline.prompt import layer_text

    lines = [folded(line) for u in part.units() for line in layer_text(u).splitlines()]
    last, at = -1, 0
    for quote in quotes_in([answer.get(f) for f in fields]):
        key = folded(quote)[:QUOTE_KEY]
        if not key:
            continue
        found = next((i for i in [*range(at, len(lines)), *range(0, at)] if key in lines[i]), None)
        if found is not None:
            last, at = max(last, found), found
    if last < 0:
        return 2
    return max(2, min(MAX_SPLIT, math.ceil(len(lines) / ((last + 1) * FILL))))


def quotes_in(value: Any) -> list[str]:
    """The quotes of every citation in a wrapped value, in order."""
    if isinstance(value, dict):
        if "citations" in value and "value" in value:
            return [c.get("quote", "") for c in value.get("citations") or [] if isinstance(c, dict)]
        return [q for v in value.values() for q in quotes_in(v)]
    if isinstance(value, list):
        return [q for v in value for q in quotes_in(v)]
    return []


def folded(text: str) -> str:
    """`text` in lower case with its runs of spaces as one, as quotes are looked for among lines."""
    return " ".join(str(text).casefold().split())


def _line_count(unit: Unit) -> int:
    return len({w.line for w in unit.words})


def unit_runs(weights: list[int], n: int) -> list[tuple[int, int]]:
    """`len(weights)` units in at most `n` runs (start, end) of about even weight (their text lines;
    each unit weighs at least 1), each at least one unit, in order."""
    weights = [max(1, w) for w in weights]
    n = max(1, min(n, len(weights)))
    total, bounds, run = sum(weights), [0], 0
    for k, w in enumerate(weights[:-1]):
        run += w
        left = len(weights) - (k + 1)  # units after this one
        wanted = n - len(bounds)  # runs still to start
        if wanted > 0 and (run >= total * len(bounds) / n or left == wanted):
            bounds.append(k + 1)
    bounds.append(len(weights))
    return list(zip(bounds, bounds[1:]))


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
        y0, y1 = upright_span(unit, w)
        s = spans.setdefault(w.line, [y0, y1])
        s[0], s[1] = min(s[0], y0), max(s[1], y1)
    top, bottom = band or (float("-inf"), float("inf"))
    cores = []
    for a, b in spans.values():
        middle, half = (a + b) / 2, (b - a) * LINE_CORE / 2
        if top <= middle < bottom:
            cores.append((middle - half, middle + half))
    return sorted(cores)


def can_band(unit: Unit) -> bool:
    """Whether `unit` can be cut into bands: a whole picture with words (not a band already)."""
    return unit.image.crop is None and unit.height > 0 and unit.width > 0 and bool(unit.words)


def upright_size(unit: Unit) -> tuple[float, float]:
    """(width, height) of `unit` as the model is shown it, in the unit's own coordinates: a scan OCR read
    turned is shown turned upright (`ImageRef.turn`), its words keep the picture's coordinates as given."""
    return (unit.width, unit.height) if unit.image.turn % 2 == 0 else (unit.height, unit.width)


def upright_span(unit: Unit, word) -> tuple[float, float]:
    """(top, bottom) of `word` on `unit` shown upright (turned `ImageRef.turn` quarters counter-clockwise),
    in the unit's own coordinates."""
    turn = unit.image.turn % 4
    if turn == 1:
        return unit.width - word.x1, unit.width - word.x0
    if turn == 2:
        return unit.height - word.y1, unit.height - word.y0
    if turn == 3:
        return word.x0, word.x1
    return word.y0, word.y1


def band_cuts(unit: Unit, band: tuple[float, float] | None, n: int = 2) -> list[float]:
    """Where to cut `band` of `unit` (its own coordinates) into `n` bands: at gaps between text lines (no
    line crosses a gap), each nearest to an even share of the lines, each band holding MIN_BAND_LINES lines
    at least; fewer cuts where the lines do not allow them, [] where none."""
    if not can_band(unit):
        return []
    lines = _lines(unit, band)
    gaps = []  # (lines above, where to cut)
    reach = float("-inf")  # the lowest bottom of the lines above the gap
    for k in range(len(lines) - 1):
        reach = max(reach, lines[k][1])
        if lines[k + 1][0] > reach:
            gaps.append((k + 1, (reach + lines[k + 1][0]) / 2))
    cuts, above = [], 0
    for j in range(1, n):
        target = j * len(lines) / n
        usable = [g for g in gaps if g[0] - above >= MIN_BAND_LINES and len(lines) - g[0] >= MIN_BAND_LINES]
        if not usable:
            break
        best = min(usable, key=lambda g: (abs(g[0] - target), g[0]))
        if cuts and best[1] <= cuts[-1]:
            break
        cuts.append(best[1])
        above = best[0]
    return cuts


def band_cut(unit: Unit, band: tuple[float, float] | None) -> float | None:
    """Where to cut `band` of `unit` in two (the most even cut of `band_cuts`), or None."""
    cuts = band_cuts(unit, band, 2)
    return cuts[0] if cuts else None


def band_unit(unit: Unit, band: tuple[float, float]) -> Unit:
    """`unit` cut to `band` (top, bottom of the unit shown upright, in its own coordinates): the upright
    picture cropped to the band's full width, and the words whose middle lies in it (still in the unit's
    coordinates, so citations are verified and boxed on the whole unit)."""
    top, bottom = band
    scale = unit.image_height / upright_size(unit)[1]
    y0, y1 = max(0, round(top * scale)), min(unit.image_height, round(bottom * scale))
    y1 = max(y1, y0 + 1)
    words = [w for w in unit.words if top <= sum(upright_span(unit, w)) / 2 < bottom]
    return unit.model_copy(update={"image": unit.image.model_copy(update={"crop": (0, y0, unit.image_width, y1)}),
                                   "image_height": y1 - y0, "words": words})
