"""Citation verification: find each quoted passage among the cited unit's words and return the boxes
of the words that matched. The model's coordinates are never used.

Stages, first hit wins: exact (verbatim in the page text) -> normalised (NFKC, case, whitespace,
line-end hyphenation, ligatures, quote/dash variants, Arabic/Indic marks; compared without spaces, so
CJK text and any spacing difference match) -> fuzzy: folded (m/rn, 0/o, 1/l/i, periods and commas
ignored), then a repeated or extra edge word, then a rapidfuzz alignment. A quote not on the cited page
is searched on the other pages, nearest first (`relocated`). Anything else stays in the output as
`unverified` with a reason. Text-layer words are boxed whole; an OCR token that runs words together is
cut at its character edges to the quoted part."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from rapidfuzz import fuzz

from schemas.records import Box, Citation, ClaimedCitation, FrameUnit, PageUnit, Word, format_timestamp

Unit = PageUnit | FrameUnit

FUZZY_CUTOFF = 82.0
MIN_FUZZY_CHARS = 8
MIN_RELOCATED_FUZZY_CHARS = 16  # away from the cited page, a short quote must match exactly or folded
MIN_FOLD_CHARS = 4
CANDIDATE_PAGES = 4

_TRANSLATE = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹣": "-", "－": "-",
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    "\u0640": None,  # Arabic tatweel
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه",
})


# Arabic/Hebrew vowel points and the Devanagari nukta: combining marks dropped for matching
_TRANSLATE.update({o: None for lo, hi in ((0x0591, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670),
                                         (0x093C, 0x093C)) for o in range(lo, hi + 1) if unicodedata.category(chr(o)) == "Mn"})


def normalise(text: str) -> str:
    """Canonical form for matching: NFKC (ligatures, full-width forms), casefold, unified quotes and
    dashes, no invisible characters or vowel marks, whitespace removed."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).casefold()
    return "".join(text.split())


_LINE_END_HYPHEN = re.compile(r"(?<=\w)[-\u00ad\u2010\u2011]\s+(?=\w)")
_MARKS = ".,;:'\"·"  # marks OCR and quoting add or lose
_FOLD_KEEP = str.maketrans({"m": "rn", "0": "o", "1": "l", "i": "l", "|": "l"})
_FOLD = str.maketrans({"m": "rn", "0": "o", "1": "l", "i": "l", "|": "l", **{c: None for c in _MARKS}})


def fold_confusables(norm: str, drop_marks: bool = True) -> str:
    """Fold what OCR and VLMs confuse in an already normalised string (m/rn, 0/o, 1/l/i/|) and drop
    periods, commas, colons and quote marks. A character-by-character map ("m" becomes "rn", not the
    other way), so a folded page is the concatenation of its folded words."""
    return norm.translate(_FOLD if drop_marks else _FOLD_KEEP)


def _bounds(owners: list[int]) -> tuple[set[int], set[int]]:
    """Offsets where a word's characters start and end, given each character's word."""
    starts, ends = set(), set()
    for k, w in enumerate(owners):
        if k == 0 or owners[k - 1] != w:
            starts.add(k)
            if k:
                ends.add(k)
    ends.add(len(owners))
    return starts, ends


@dataclass
class Folded:
    """A unit's normalised text with confusables folded: the text, each word's first offset (one more
    entry for the end) and each character's word."""

    text: str
    first: list[int]
    owners: list[int]
    bounds: tuple[set[int], set[int]]


@dataclass
class UnitIndex:
    """Searchable text of one unit: the joined words plus a compact normalised form mapped to words."""

    unit: Unit
    text: str = ""
    starts: list[int] = field(default_factory=list)
    norm: str = ""
    norm_first: list[int] = field(default_factory=list)  # each word's first offset in `norm`, and the end
    norm_word: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, unit: Unit) -> "UnitIndex":
        idx = cls(unit=unit)
        parts, tokens, pos, npos = [], [], 0, 0
        words = unit.words
        for i, w in enumerate(words):
            idx.starts.append(pos)
            parts.append(w.text)
            pos += len(w.text) + 1
            token = normalise(w.text)
            last_in_line = i + 1 == len(words) or words[i + 1].line != w.line
            if last_in_line and token.endswith("-") and len(token) > 1 and i + 1 < len(words) and words[i + 1].text[:1].islower():
                token = token[:-1]  # "exam-" at a line end + "ple" -> "example"
            tokens.append(token)
            idx.norm_first.append(npos)
            npos += len(token)
            idx.norm_word.extend([i] * len(token))
        idx.norm_first.append(npos)
        idx.norm = "".join(tokens)
        idx.text = " ".join(parts)
        return idx

    def token(self, word: int) -> str:
        """A word's normalised characters."""
        return self.norm[self.norm_first[word]:self.norm_first[word + 1]]

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
        return _bounds(self.norm_word)

    @cached_property
    def folded(self) -> Folded:
        """Built on first use: most quotes are settled before the fuzzy stages."""
        parts, first, owners, pos = [], [], [], 0
        for i in range(len(self.unit.words)):
            f = fold_confusables(self.token(i))
            parts.append(f)
            first.append(pos)
            owners.extend([i] * len(f))
            pos += len(f)
        first.append(pos)
        return Folded("".join(parts), first, owners, _bounds(owners))

    def extent(self, word: int, space: str) -> tuple[int, int]:
        """(first offset, length) of a word's characters in the `text`, `norm` or `fold` string."""
        if space == "text":
            return self.starts[word], len(self.unit.words[word].text)
        first = self.norm_first if space == "norm" else self.folded.first
        return first[word], first[word + 1] - first[word]

    def fold_to_norm(self, a: int, b: int) -> tuple[int, int]:
        """The `norm` span that the folded span [a, b) came from."""
        f = self.folded

        def source(k: int) -> int:  # norm offset of folded character k
            w = f.owners[k]
            origins = [j for j, ch in enumerate(self.token(w)) for _ in fold_confusables(ch)]
            return self.norm_first[w] + origins[k - f.first[w]]

        return source(a), source(b - 1) + 1

    def words_in_text_span(self, start: int, end: int) -> list[int]:
        return [i for i, s in enumerate(self.starts) if s < end and s + len(self.unit.words[i].text) > start]


@dataclass
class Match:
    kind: str
    score: float
    words: list[int]
    index: UnitIndex
    span: tuple[int, int] | None = None  # matched characters, to trim partly quoted OCR tokens
    space: str = "norm"  # which string of the index `span` is in: text | norm | fold


class Quote:
    """A quote prepared once for matching against many units: stripped, normalised, folded."""

    def __init__(self, text: str):
        self.text = text.strip()
        self.norm = normalise(self.text)
        # a line-end hyphen copied into the quote ("byte-\ncode"), for a page that joined the word
        joined = normalise(_LINE_END_HYPHEN.sub("", self.text))
        self.norms = [self.norm] + ([joined] if joined != self.norm else [])

    @cached_property
    def fold(self) -> str:
        return fold_confusables(self.norm)

    @cached_property
    def variants(self) -> list[str]:
        """Normalised edge-trimmed variants (see `edge_trims`)."""
        out = []
        for v in edge_trims(self.text):
            out += dict.fromkeys((normalise(v), normalise(_LINE_END_HYPHEN.sub("", v))))
        return out


def relocated_cutoff(n: int) -> float:
    """Alignment score needed on a page the model did not cite: about one edit in a 16-character quote,
    growing to the usual 18% from 24 characters on."""
    allowed = max(1.0, (n - 12) * 0.35)
    return max(FUZZY_CUTOFF, 100.0 * (1 - allowed / n))


def match_unit(quote: str | Quote, idx: UnitIndex, fuzzy: bool = True, cutoff: float = FUZZY_CUTOFF) -> Match | None:
    """Best match of `quote` on one unit (exact, normalised or fuzzy, the alignment scoring at least
    `cutoff`), or None."""
    quote = quote if isinstance(quote, Quote) else Quote(quote)
    q = quote.text
    if not q or not idx.unit.words:
        return None
    pos = find_aligned(idx.text, q, *idx.word_bounds)
    if pos >= 0:
        span = (pos, pos + len(q))
        return Match("exact", 1.0, idx.words_in_text_span(*span), idx, span, "text")
    nq = quote.norm
    if not nq:
        return None
    for nv in quote.norms:
        pos = find_aligned(idx.norm, nv, *idx.norm_bounds)
        if pos >= 0:
            return Match("normalised", 0.98, sorted(set(idx.norm_word[pos:pos + len(nv)])), idx, (pos, pos + len(nv)))
    if not fuzzy:
        return None
    fq = quote.fold
    if len(fq) >= MIN_FOLD_CHARS:  # only OCR-style confusions or punctuation differ
        m = match_folded(nq, fq, idx)
        if m:
            return m
    for nv in quote.variants:  # an extra or repeated word at either edge
        pos = find_aligned(idx.norm, nv, *idx.norm_bounds)
        if pos >= 0:
            return Match("fuzzy", round(0.95 * len(nv) / len(nq), 4), sorted(set(idx.norm_word[pos:pos + len(nv)])), idx,
                         (pos, pos + len(nv)))
    if len(nq) < MIN_FUZZY_CHARS:
        return None
    al = fuzz.partial_ratio_alignment(nq, idx.norm, score_cutoff=cutoff)
    if al is None or al.dest_end <= al.dest_start:
        return None
    words = sorted(set(idx.norm_word[al.dest_start:al.dest_end]))
    m = Match("fuzzy", round(al.score / 100.0, 4), words, idx, (al.dest_start, al.dest_end))
    return drop_grazed_edges(m) if words else None


def match_folded(nq: str, fq: str, idx: UnitIndex, limit: int = 50) -> Match | None:
    """Where the folded quote occurs on the unit: of its occurrences (word-aligned ones first), the one
    whose marks are closest to the quote's, so "in 2004." prefers "in 2004." over "in 2004,"."""
    f = idx.folded
    marked = fold_confusables(nq, drop_marks=False)
    best, best_key = None, None
    pos = f.text.find(fq)
    while pos >= 0 and limit:
        end = pos + len(fq)
        a, b = idx.fold_to_norm(pos, end)
        while a and idx.norm[a - 1] in _MARKS:  # with the marks the fold dropped on either side
            a -= 1
        while b < len(idx.norm) and idx.norm[b] in _MARKS:
            b += 1
        key = (pos in f.bounds[0] and end in f.bounds[1], fuzz.ratio(marked, fold_confusables(idx.norm[a:b], drop_marks=False)))
        if best_key is None or key > best_key:
            best, best_key = (pos, end), key
        pos, limit = f.text.find(fq, pos + 1), limit - 1
    if best is None:
        return None
    return Match("fuzzy", 0.95, sorted(set(f.owners[best[0]:best[1]])), idx, best, "fold")


def drop_grazed_edges(m: Match) -> Match:
    """An alignment often grazes a neighbouring word with a character or two (a word of the next column
    in OCR reading order, say); such an edge word is not part of the quote."""
    a, b = m.span
    words = list(m.words)
    for end in (0, -1):
        if len(words) < 2:
            break
        first, n = m.index.extent(words[end], m.space)
        covered = min(b, first + n) - max(a, first)
        if covered <= 2 and covered * 3 < n:
            words.pop(end)
    return Match(m.kind, m.score, words, m.index, m.span, m.space)


def edge_trims(quote: str, min_chars: int = 12) -> list[str]:
    """The quote with a repeated word collapsed, or without its first word, its last word, or both,
    when enough is left to stay specific."""
    words = quote.split()
    out = []
    deduped = [w for k, w in enumerate(words) if k == 0 or normalise(w) != normalise(words[k - 1])]
    if len(deduped) < len(words) and len(normalise(" ".join(deduped))) >= MIN_FOLD_CHARS:
        out.append(" ".join(deduped))  # a word the model repeated ("requirements. requirements.")
    drops = []
    if len(words) >= 3:
        drops += [" ".join(words[1:]), " ".join(words[:-1])]
    if len(words) >= 4:
        drops.append(" ".join(words[1:-1]))
    return out + [v for v in drops if len(normalise(v)) >= min_chars]


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

    @cached_property
    def _pages_by_shingle(self) -> dict[str, list[int]]:
        """Inverted index of 4-character shingles of the normalised text -> units holding them."""
        index: dict[str, list[int]] = {}
        for j, idx in enumerate(self.indexes):
            for gram in idx.shingles:
                index.setdefault(gram, []).append(j)
        return index

    def _most_similar(self, norm: str, among: list[int], n: int) -> list[int]:
        """The `n` units of `among` sharing the most 4-character shingles with `norm`."""
        counts: Counter[int] = Counter()
        for gram in {norm[k:k + 4] for k in range(len(norm) - 3)}:
            counts.update(self._pages_by_shingle.get(gram, ()))
        allowed = set(among)
        rank = {j: r for r, j in enumerate(among)}
        return sorted((j for j in counts if j in allowed), key=lambda j: (-counts[j], rank[j]))[:n]

    def ground(self, claim: ClaimedCitation) -> Citation:
        base = dict(doc_id=claim.doc_id, quote=claim.quote, claimed_page=claim.page, claimed_t_seconds=claim.t_seconds)
        quote = Quote(claim.quote)
        i = self._find_unit(claim)
        if i is not None:
            m = match_unit(quote, self.indexes[i])
            if m:
                return self._citation(m, m.kind, base)
        # relocation: exact / normalised everywhere, nearest first; fuzzy on the most similar pages
        order = self._nearest_first(i)
        for j in order:
            m = match_unit(quote, self.indexes[j], fuzzy=False)
            if m:
                return self._citation(m, "relocated", base)
        if len(quote.norm) >= MIN_RELOCATED_FUZZY_CHARS and order:
            best = None
            for j in self._most_similar(quote.norm, order, CANDIDATE_PAGES):
                m = match_unit(quote, self.indexes[j], cutoff=relocated_cutoff(len(quote.norm)))
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
    """For a first/last OCR token only partly inside the matched span, the covered fraction (start, end)
    of its characters, so its box can be cut to the quoted part. OCR runs words together
    ("conceptadequately.Such"), so a token may hold several words; a text layer's words are real
    words and are boxed whole."""
    if m.span is None or m.index.unit.text_source != "ocr":
        return {}
    (a, b), space = m.span, m.space
    if space == "fold":  # measure in `norm`, where a word's characters map one to one to its text
        (a, b), space = m.index.fold_to_norm(a, b), "norm"
    out = {}
    for w in {m.words[0], m.words[-1]}:
        first, n = m.index.extent(w, space)
        lo, hi = max(a, first), min(b, first + n)
        if hi - lo < n and len(m.index.unit.words[w].text) >= 6:
            out[w] = ((lo - first) / n, (hi - first) / n)
    return out


def line_boxes(unit: Unit, word_ids: list[int], trim: dict[int, tuple[float, float]] | None = None) -> list[Box]:
    """Union of the matched words' boxes, one box per text line, in reading order; horizontal words
    only partly quoted are cut to the quoted characters."""
    by_line: dict[int, Box] = {}
    for i in word_ids:
        w = unit.words[i]
        if trim and i in trim and (w.x1 - w.x0) > (w.y1 - w.y0):
            x0, x1 = cut(w, *trim[i])
            w = w.model_copy(update={"x0": x0, "x1": x1})
        b = by_line.get(w.line)
        by_line[w.line] = Box(x0=w.x0, y0=w.y0, x1=w.x1, y1=w.y1) if b is None else Box(
            x0=min(b.x0, w.x0), y0=min(b.y0, w.y0), x1=max(b.x1, w.x1), y1=max(b.y1, w.y1))
    return list(by_line.values())


def cut(word: Word, f0: float, f1: float) -> tuple[float, float]:
    """Horizontal extent of the characters from fraction f0 to f1 of a word: at OCR character edges
    where known (`Word.char_x`, in reading order: descending on a page read upside down), else in
    proportion to the character count."""
    ends = word.char_x
    if ends and len(ends) == len(word.text):
        n = len(ends)
        i0, i1 = min(n - 1, round(f0 * n)), max(1, round(f1 * n))
        start = ends[i0 - 1] if i0 else (word.x0 if ends[0] <= ends[-1] else word.x1)
        a, b = sorted((start, ends[max(i0, i1 - 1)]))
        return a, b
    width = word.x1 - word.x0
    return word.x0 + f0 * width, word.x0 + f1 * width
