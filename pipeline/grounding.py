"""Citation verification: find each quoted passage among the cited unit's words and return the boxes
of the words that matched. The model's coordinates are never used.

Stages, first hit wins: exact (verbatim in the page text) -> normalised (NFKC, case, whitespace,
line-end hyphenation, ligatures, quote/dash variants, Arabic/Indic marks; compared without spaces, so
CJK text and any spacing difference match) -> fuzzy (rapidfuzz alignment, tolerant of OCR confusions and
edge words). A quote not on the cited page is searched on the other pages, nearest first (`relocated`).
Anything else stays in the output as `unverified` with a reason."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz import fuzz

from schemas.records import Box, Citation, ClaimedCitation, FrameUnit, PageUnit, format_timestamp

Unit = PageUnit | FrameUnit

FUZZY_CUTOFF = 82.0
MIN_FUZZY_CHARS = 8
CANDIDATE_PAGES = 4

_TRANSLATE = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹣": "-", "－": "-",
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    "\u0640": None,  # Arabic tatweel
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه",
})


def _strip_marks(text: str) -> str:
    """Drop combining marks of Arabic/Hebrew vowel points and Indic nukta/virama variants' spacing."""
    return "".join(ch for ch in text if not (unicodedata.category(ch) == "Mn" and _is_rtl_or_indic_mark(ch)))


def _is_rtl_or_indic_mark(ch: str) -> bool:
    o = ord(ch)
    return 0x0591 <= o <= 0x05C7 or 0x0610 <= o <= 0x061A or 0x064B <= o <= 0x065F or o == 0x0670 or o == 0x093C


def normalise(text: str) -> str:
    """Canonical form for matching: NFKC (ligatures, full-width forms), casefold, unified quotes and
    dashes, no invisible characters or vowel marks, whitespace removed."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).casefold()
    text = _strip_marks(text)
    return "".join(text.split())


_CONFUSABLE = str.maketrans({"0": "o", "1": "l", "|": "l"})


def fold_confusables(norm: str) -> str:
    """Fold characters OCR and VLMs confuse (rn/m, 0/O, 1/l) in an already normalised string."""
    return norm.replace("rn", "m").translate(_CONFUSABLE)


@dataclass
class UnitIndex:
    """Searchable text of one unit: the joined words plus a compact normalised form mapped to words."""

    unit: Unit
    text: str = ""
    starts: list[int] = field(default_factory=list)
    norm: str = ""
    norm_word: list[int] = field(default_factory=list)
    fold: str = ""
    fold_word: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, unit: Unit) -> "UnitIndex":
        idx = cls(unit=unit)
        parts, pos = [], 0
        words = unit.words
        for i, w in enumerate(words):
            idx.starts.append(pos)
            parts.append(w.text)
            pos += len(w.text) + 1
            token = normalise(w.text)
            last_in_line = i + 1 == len(words) or words[i + 1].line != w.line
            if last_in_line and token.endswith("-") and len(token) > 1 and i + 1 < len(words) and words[i + 1].text[:1].islower():
                token = token[:-1]  # "exam-" at a line end + "ple" -> "example"
            idx.norm += token
            idx.norm_word.extend([i] * len(token))
            folded = fold_confusables(token)
            idx.fold += folded
            idx.fold_word.extend([i] * len(folded))
        idx.text = " ".join(parts)
        return idx

    @cached_property
    def shingles(self) -> set[str]:
        return {self.norm[i:i + 4] for i in range(max(0, len(self.norm) - 3))}

    @cached_property
    def word_bounds(self) -> tuple[set[int], set[int]]:
        """Char offsets where words start and end, in `text`."""
        return set(self.starts), {s + len(w.text) for s, w in zip(self.starts, self.unit.words)}

    @cached_property
    def norm_bounds(self) -> tuple[set[int], set[int]]:
        """Offsets in `norm` where a word's characters start and end."""
        starts, ends = set(), set()
        for k, w in enumerate(self.norm_word):
            if k == 0 or self.norm_word[k - 1] != w:
                starts.add(k)
                if k:
                    ends.add(k)
        ends.add(len(self.norm_word))
        return starts, ends

    def words_in_text_span(self, start: int, end: int) -> list[int]:
        return [i for i, s in enumerate(self.starts) if s < end and s + len(self.unit.words[i].text) > start]


@dataclass
class Match:
    kind: str
    score: float
    words: list[int]
    index: UnitIndex
    norm_span: tuple[int, int] | None = None  # matched span in `index.norm`, to trim partly quoted words


def match_unit(quote: str, idx: UnitIndex, fuzzy: bool = True) -> Match | None:
    """Best match of `quote` on one unit (exact, normalised or fuzzy), or None."""
    q = quote.strip()
    if not q or not idx.unit.words:
        return None
    pos = find_aligned(idx.text, q, *idx.word_bounds)
    if pos >= 0:
        return Match("exact", 1.0, idx.words_in_text_span(pos, pos + len(q)), idx)
    nq = normalise(q)
    if not nq:
        return None
    pos = find_aligned(idx.norm, nq, *idx.norm_bounds)
    if pos >= 0:
        return Match("normalised", 0.98, sorted(set(idx.norm_word[pos:pos + len(nq)])), idx, (pos, pos + len(nq)))
    if not fuzzy or len(nq) < MIN_FUZZY_CHARS:
        return None
    fq = fold_confusables(nq)
    pos = idx.fold.find(fq)
    if pos >= 0:  # only OCR-style confusions differ
        return Match("fuzzy", 0.95, sorted(set(idx.fold_word[pos:pos + len(fq)])), idx)
    for variant in edge_trims(q):  # an extra or repeated word at either edge
        nv = normalise(variant)
        pos = find_aligned(idx.norm, nv, *idx.norm_bounds)
        if pos >= 0:
            return Match("fuzzy", round(0.95 * len(nv) / len(nq), 4), sorted(set(idx.norm_word[pos:pos + len(nv)])), idx,
                         (pos, pos + len(nv)))
    al = fuzz.partial_ratio_alignment(nq, idx.norm, score_cutoff=FUZZY_CUTOFF)
    if al is None or al.dest_end <= al.dest_start:
        return None
    words = sorted(set(idx.norm_word[al.dest_start:al.dest_end]))
    return Match("fuzzy", round(al.score / 100.0, 4), words, idx, (al.dest_start, al.dest_end)) if words else None


def edge_trims(quote: str, min_chars: int = 12) -> list[str]:
    """The quote with a repeated word collapsed, or without its first word, its last word, or both,
    when enough is left to stay specific."""
    words = quote.split()
    out = []
    deduped = [w for k, w in enumerate(words) if k == 0 or normalise(w) != normalise(words[k - 1])]
    if len(deduped) < len(words) and len(deduped) >= 2:
        out.append(" ".join(deduped))  # a word the model repeated
    if len(words) >= 3:
        out += [" ".join(words[1:]), " ".join(words[:-1])]
    if len(words) >= 4:
        out.append(" ".join(words[1:-1]))
    return [v for v in out if len(normalise(v)) >= min_chars or (v in out[:1] and len(deduped) < len(words))]


def find_aligned(hay: str, needle: str, starts: set[int], ends: set[int]) -> int:
    """First occurrence of `needle` that begins and ends on word boundaries, else the first occurrence
    at all (a quote may cut a word), else -1."""
    first = pos = hay.find(needle)
    while pos >= 0:
        if pos in starts and pos + len(needle) in ends:
            return pos
        pos = hay.find(needle, pos + 1)
    return first


class DocumentGrounder:
    """Grounds citations against one document's units; indexes are built once per document."""

    def __init__(self, units: list[Unit]):
        self.units = units
        self.indexes = [UnitIndex.build(u) for u in units]

    def _find_unit(self, claim: ClaimedCitation) -> int | None:
        if claim.t_seconds is not None:
            frames = [(abs(u.t_seconds - claim.t_seconds), i) for i, u in enumerate(self.units) if isinstance(u, FrameUnit)]
            return min(frames)[1] if frames else None
        for i, u in enumerate(self.units):
            if isinstance(u, PageUnit) and u.page == claim.page:
                return i
        return None

    def _nearest_first(self, origin: int | None) -> list[int]:
        """The other units, nearest to the cited one first."""
        return sorted((i for i in range(len(self.units)) if i != origin),
                      key=lambda i: (abs(i - origin) if origin is not None else i, i))

    def ground(self, claim: ClaimedCitation) -> Citation:
        base = dict(doc_id=claim.doc_id, quote=claim.quote, claimed_page=claim.page, claimed_t_seconds=claim.t_seconds)
        i = self._find_unit(claim)
        if i is not None:
            m = match_unit(claim.quote, self.indexes[i])
            if m:
                return self._citation(m, m.kind, base)
        # relocation: exact / normalised everywhere, nearest first; fuzzy on the most similar pages
        order = self._nearest_first(i)
        for j in order:
            m = match_unit(claim.quote, self.indexes[j], fuzzy=False)
            if m:
                return self._citation(m, "relocated", base)
        nq = normalise(claim.quote)
        if len(nq) >= MIN_FUZZY_CHARS and order:
            grams = {nq[k:k + 4] for k in range(len(nq) - 3)}
            ranked = sorted(order, key=lambda j: -len(grams & self.indexes[j].shingles))[:CANDIDATE_PAGES]
            best = None
            for j in ranked:
                m = match_unit(claim.quote, self.indexes[j])
                if m and (best is None or m.score > best.score):
                    best = m
            if best:
                return self._citation(best, "relocated", base)
        return self._unverified(claim, i, base)

    def _unverified(self, claim: ClaimedCitation, i: int | None, base: dict) -> Citation:
        if i is None:
            where = f"t={format_timestamp(claim.t_seconds)}" if claim.t_seconds is not None else f"page {claim.page}"
            reason = f"cited {where} is not in the document, and the quote was not found on any unit"
        elif not self.units[i].words:
            reason = ("frame has no OCR text; citation is timestamp-only" if isinstance(self.units[i], FrameUnit)
                      else "cited page has no text layer or OCR words")
        else:
            reason = "quote not found on the cited unit or elsewhere in the document"
        unit = self.units[i] if i is not None else None
        return Citation(**base, match="unverified", score=0.0, reason=reason,
                        page=unit.page if isinstance(unit, PageUnit) else claim.page,
                        t_seconds=unit.t_seconds if isinstance(unit, FrameUnit) else claim.t_seconds)

    def _citation(self, m: Match, kind: str, base: dict) -> Citation:
        idx = m.index
        u = idx.unit
        boxes = line_boxes(u, m.words, trimmed_edges(m))
        start = idx.starts[m.words[0]]
        end = idx.starts[m.words[-1]] + len(u.words[m.words[-1]].text)
        w, h = max(u.width, 1e-9), max(u.height, 1e-9)
        return Citation(**base, match=kind, score=m.score, boxes=boxes,
                        boxes_norm=[Box(x0=b.x0 / w, y0=b.y0 / h, x1=b.x1 / w, y1=b.y1 / h) for b in boxes],
                        char_start=start, char_end=end,
                        page=u.page if isinstance(u, PageUnit) else None,
                        t_seconds=u.t_seconds if isinstance(u, FrameUnit) else None)


def trimmed_edges(m: Match) -> dict[int, tuple[float, float]]:
    """For a first/last word only partly inside the matched span (OCR often runs words together), the
    covered fraction (start, end) of its characters, so its box can be cut to the quoted part."""
    if m.norm_span is None:
        return {}
    idx, (a, b) = m.index, m.norm_span
    out = {}
    for w in {m.words[0], m.words[-1]}:
        first, n = idx.norm_word.index(w), idx.norm_word.count(w)  # a word's characters are contiguous
        lo, hi = max(a, first), min(b, first + n)
        if hi - lo < n and n >= 6:
            out[w] = ((lo - first) / n, (hi - first) / n)
    return out


def line_boxes(unit: Unit, word_ids: list[int], trim: dict[int, tuple[float, float]] | None = None) -> list[Box]:
    """Union of the matched words' boxes, one box per text line, in reading order; horizontal words
    only partly quoted are cut to the quoted share of their characters."""
    by_line: dict[int, Box] = {}
    for i in word_ids:
        w = unit.words[i]
        if trim and i in trim and (w.x1 - w.x0) > (w.y1 - w.y0):
            f0, f1 = trim[i]
            width = w.x1 - w.x0
            w = w.model_copy(update={"x0": w.x0 + f0 * width, "x1": w.x0 + f1 * width})
        b = by_line.get(w.line)
        by_line[w.line] = Box(x0=w.x0, y0=w.y0, x1=w.x1, y1=w.y1) if b is None else Box(
            x0=min(b.x0, w.x0), y0=min(b.y0, w.y0), x1=max(b.x1, w.x1), y1=max(b.y1, w.y1))
    return list(by_line.values())

