"""Citation verification: find each quoted passage among the cited unit's words and return the boxes
of the words that matched, then check the extracted value against those words. The model's
coordinates are never used.

Stages, first hit wins:
1. strict on the cited unit: exact (verbatim in the page text), then normalised (NFKC, case,
   whitespace, line-end hyphenation, ligatures, quote/dash variants, Persian/Arabic letter forms and
   digits; compared without spaces, so CJK text and any spacing difference match);
2. strict on the other units, nearest first (`relocated`): an exact match elsewhere beats a near one here;
3. on the cited unit, a quote with an ellipsis: its parts in order, each part boxed; then lenient:
   folded (m/rn, 0/o, 1/l/i, periods and commas ignored), a repeated word, an extra edge word
   (`partial`), then a rapidfuzz alignment (`fuzzy`);
4. the ellipsis parts on the other units, then lenient on the most similar other units, for quotes
   long enough to be specific (`relocated`);
5. strict across a page break: the body text of two consecutive pages read as one (the first page's
   bottom margin and the second's top margin, where running footers and headers sit, left out). Such a
   quote gets one citation per page, each with its page's boxes (`ground_all`).

Every candidate must respect word boundaries (a quote never matches inside a longer word or number),
its digits must be the page's digits exactly (separators aside; one changed digit is `digits_differ`),
and for a fuzzy alignment the quote's names (capitalised words) must be on the page. Anything else
stays in the output as `unverified` with a reason. Text-layer words are boxed whole; an OCR token that
runs words together is cut at its character edges to the quoted part."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz

from pipeline.support import value_supported
from pipeline.textnorm import (
    MARKS,
    digits_key,
    fold_confusables,
    has_digit,
    normalise,
    number_form,
    number_runs,
    right_to_left,
    word_char,
)
from schemas.records import Box, Citation, ClaimedCitation, FrameUnit, PageUnit, Word, format_timestamp

Unit = PageUnit | FrameUnit

FUZZY_CUTOFF = 82.0
MIN_FUZZY_CHARS = 8
MIN_RELOCATED_FUZZY_CHARS = 16  # away from the cited page, a short quote must match exactly or folded
MIN_FOLD_CHARS = 4
MIN_CUT_CHARS = 12  # a quote at least this long may end inside a word (letters only), as truncated quotes do
MIN_PARTIAL_CHARS = 6  # what is left of a short quote without its extra edge word
MIN_SPECIFIC_CHARS = 8  # ... and, when it has no number or name, at least this long
NEAR_MISS_RATIO = 60.0  # a dropped edge word this similar to the page's word in its place is a misquote
CANDIDATE_PAGES = 4
MAX_QUOTE_CHARS = 4000
FRAME_SLACK_S = 1.5  # a cited time this far outside the sampled frames is not in the video
RUNNING_MARGIN = 0.1  # share of the page height at the top and bottom where running headers and footers sit
UNSET: Any = object()

_LINE_END_HYPHEN = re.compile(r"(?<=\w)[-\u00ad\u2010\u2011]\s+(?=\w)")
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:…|\.{3,})\s*\]|…|\.{3,})\s*")
_THOUSANDS_GROUP = re.compile(r"\d{3}(?:[.,]\d+)?")


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
    def rtl(self) -> bool:
        return right_to_left(self.norm)

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

    def norm_to_text(self, a: int, b: int) -> tuple[int, int]:
        """The `text` span of the `norm` span [a, b): character for character inside a word whose
        normalised form has its length, else the whole word."""
        words = self.unit.words
        wa, wb = self.norm_word[a], self.norm_word[b - 1]
        same_a = len(self.token(wa)) == len(words[wa].text)
        same_b = len(self.token(wb)) == len(words[wb].text)
        ta = self.starts[wa] + (a - self.norm_first[wa] if same_a else 0)
        tb = self.starts[wb] + (b - self.norm_first[wb] if same_b else len(words[wb].text))
        return ta, tb

    def words_in_text_span(self, start: int, end: int) -> list[int]:
        """The words whose characters overlap the `text` span [start, end) (`starts` is sorted)."""
        first = max(0, bisect_right(self.starts, start) - 1)
        words = self.unit.words
        out = []
        for i in range(first, len(words)):
            if self.starts[i] >= end:
                break
            if self.starts[i] + len(words[i].text) > start:
                out.append(i)
        return out

    @cached_property
    def has_ocr(self) -> bool:
        """Some of the unit's words were read by OCR."""
        return self.unit.text_source == "ocr" or any(w.ocr for w in self.unit.words)

    def read_by_ocr(self, word_ids) -> bool:
        """Whether any of these words was read by OCR (a page OCR'd whole, or a picture on a page with a
        text layer)."""
        if self.unit.text_source == "ocr":
            return True
        words = self.unit.words
        return self.has_ocr and any(words[w].ocr for w in word_ids)

    def words_in(self, space: str, a: int, b: int) -> list[int]:
        """The words of the span [a, b) of the `text` or `norm` string."""
        return self.words_in_text_span(a, b) if space == "text" else sorted(set(self.norm_word[a:b]))

    def string(self, space: str) -> tuple[str, tuple[set[int], set[int]]]:
        """The `text` or `norm` string with its word start and end offsets."""
        return (self.text, self.word_bounds) if space == "text" else (self.norm, self.norm_bounds)

    def span_digits(self, a: int, b: int) -> str:
        """Digits of every number the `text` span [a, b) touches, each number taken whole."""
        out = []
        for w in self.words_in_text_span(a, b):
            s, text = self.starts[w], self.unit.words[w].text
            runs = number_runs(text)
            lo, hi = max(a - s, 0), min(b - s, len(text))
            if (lo, hi) != (0, len(text)) and runs:  # partly covered: runs it touches, offsets scaled to number_form
                scale = len(number_form(text)) / len(text)
                runs = [r for r in runs if r[1] > lo * scale and r[0] < hi * scale]
            out += [k for _, _, k in runs]
        return "".join(out)

    def spaced_group(self, word: int, step: int) -> Word | None:
        """The neighbouring word on the same line when it is set one space away, as the digit groups of
        "530 848 134" or "399 000" are (table cells sit further apart)."""
        other = self.neighbour(word, step)
        if other is None:
            return None
        w = self.unit.words[word]
        char_w = (w.x1 - w.x0) / max(1, len(w.text))
        gap = other.x0 - w.x1 if step > 0 else w.x0 - other.x1
        return other if gap <= char_w else None

    def neighbour(self, word: int, step: int) -> Word | None:
        """The word before (step -1) or after (+1) on the same line, if any."""
        j = word + step
        if 0 <= j < len(self.unit.words) and self.unit.words[j].line == self.unit.words[word].line:
            return self.unit.words[j]
        return None


@dataclass
class Match:
    kind: str
    score: float
    words: list[int]
    index: UnitIndex
    span: tuple[int, int] | None = None  # matched characters, to trim partly quoted OCR tokens
    space: str = "norm"  # which string of the index `span` is in: text | norm | fold
    groups: list[list[int]] | None = None  # the words of each part of an ellipsis quote


class Quote:
    """A quote prepared once for matching against many units: stripped, normalised, folded, its digits
    and names, edge-trimmed variants and ellipsis parts."""

    def __init__(self, text: str):
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")  # control characters
        self.text = re.sub(r"^(?:…|\.{3,})\s*|\s*(?:…|\.{3,})$", "", text.strip())  # leading or trailing ellipsis
        self.norm = normalise(self.text)
        # a line-end hyphen copied into the quote ("byte-\ncode"), for a page that joined the word
        joined = normalise(_LINE_END_HYPHEN.sub("", self.text))
        self.norms = [self.norm] + ([joined] if joined != self.norm else [])
        self.digits = digits_key(self.text)
        words = self.text.split()
        self.may_cut_end = len(words) >= 2 and len(self.norm) >= MIN_CUT_CHARS and not has_digit(words[-1])
        # a quote may end inside its last number when it is long, or plainly unfinished ("Date: 04/04/", "EUR 165.")
        self.may_cut_number = len(words) >= 2 and has_digit(words[-1]) and (
            len(self.norm) >= MIN_CUT_CHARS or re.search(r"\d[.,/:\-]$", self.text) is not None)

    @cached_property
    def problem(self) -> str | None:
        """Why this quote cannot be verified at all, or None."""
        if not self.norm:
            return "empty quote"
        if not any(ch.isalnum() for ch in self.norm):
            return "quote has no letters or digits"
        if len(self.text) > MAX_QUOTE_CHARS:
            return f"quote is {len(self.text)} characters long; quotes over {MAX_QUOTE_CHARS} are not verified"
        return None

    @cached_property
    def fold(self) -> str:
        return fold_confusables(self.norm)

    @cached_property
    def folds(self) -> list[str]:
        """Folded forms of the quote, with and without a line-end hyphen it copied."""
        return list(dict.fromkeys(fold_confusables(n) for n in self.norms))

    @cached_property
    def names(self) -> list[str]:
        """Folded capitalised words (3+ letters, no digits): names and terms a fuzzy match may not alter."""
        out = []
        for w in self.text.split():
            core = "".join(ch for ch in w if ch.isalnum())
            if core[:1].isupper() and sum(ch.isalpha() for ch in core) >= 3 and not has_digit(core):
                out.append(fold_confusables(normalise(core)))
        return out

    @cached_property
    def parts(self) -> list["Quote"]:
        """The pieces of a quote with an ellipsis in the middle ("first part ... last part")."""
        pieces = [p for p in _ELLIPSIS.split(self.text) if any(ch.isalnum() for ch in p)]
        return [Quote(p) for p in pieces] if len(pieces) > 1 else []

    @cached_property
    def trims(self) -> list[tuple[str, str, str, str, str]]:
        """(kind, normalised variant, word dropped at the start, word dropped at the end, its digits): the quote
        with a repeated word collapsed, or without an extra edge word (`partial`); see `edge_trims`."""
        out = []
        for kind, v, first, last in edge_trims(self.text):
            for n in dict.fromkeys((normalise(v), normalise(_LINE_END_HYPHEN.sub("", v)))):
                out.append((kind, n, first, last, digits_key(v)))
        return out

    @cached_property
    def rtl_variants(self) -> list["Quote"]:
        """The quote with its numbers written backwards, or their groups in reverse order, as some
        right-to-left text layers store dates and numbers."""
        words = self.text.split()
        if not any(has_digit(w) for w in words):
            return []
        out = []
        for flip in (lambda w: w[::-1], lambda w: "".join(reversed(re.split(r"([./\-])", w)))):
            alt = " ".join(flip(w) if has_digit(w) else w for w in words)
            if alt != self.text:
                out.append(Quote(alt))
        return out


def edge_trims(quote: str, min_chars: int = 12) -> list[tuple[str, str, str, str]]:
    """(kind, variant, dropped first word, dropped last word): a repeated word collapsed ("fuzzy"), or
    the first, the last or both edge words dropped ("partial") when enough is left to stay specific:
    `min_chars` for longer quotes, `MIN_PARTIAL_CHARS` for a quote of three words (whose rest must then
    occur once on the unit and be specific, see `match_lenient`). Words with digits and capitalised words (names) are
    never dropped."""
    words = quote.split()
    out = []
    deduped = [w for k, w in enumerate(words) if k == 0 or normalise(w) != normalise(words[k - 1])]
    if len(deduped) < len(words) and len(normalise(" ".join(deduped))) >= MIN_FOLD_CHARS:
        out.append(("fuzzy", " ".join(deduped), "", ""))  # a word the model repeated ("requirements. requirements.")
    if len(words) < 2:
        return out
    drops = [(words[1:], words[0], ""), (words[:-1], "", words[-1])] if len(words) >= 3 else []
    if len(words) >= 4:
        drops.append((words[1:-1], words[0], words[-1]))
    for kept, first, last in drops:
        if any(has_digit(w) or w[:1].isupper() for w in (first, last)):
            continue  # an extra number or name is a different value, never an extra word
        k = len(normalise(" ".join(kept)))
        if k >= (min_chars if len(words) >= 4 else MIN_PARTIAL_CHARS):
            out.append(("partial", " ".join(kept), first, last))
    return out


def relocated_cutoff(n: int) -> float:
    """Alignment score needed on a page the model did not cite: about one edit in a 16-character quote,
    growing to the usual 18% from 24 characters on."""
    allowed = max(1.0, (n - 12) * 0.35)
    return max(FUZZY_CUTOFF, 100.0 * (1 - allowed / n))


def _occurrences(hay: str, needle: str, start: int = 0, limit: int = 64):
    pos = hay.find(needle, start)
    while pos >= 0 and limit > 0:
        yield pos
        pos, limit = hay.find(needle, pos + 1), limit - 1


def _on_boundary(hay: str, p: int, bounds: set[int]) -> bool:
    """A word starts or ends at `p`, or the characters on either side do not both continue a word."""
    return p in bounds or p <= 0 or p >= len(hay) or not (word_char(hay[p - 1]) and word_char(hay[p]))


CUT_NUMBER = "cut_number"  # check_span's verdict for a long quote cut inside its last number: a partial match


def check_span(quote: Quote, idx: UnitIndex, a: int, b: int, space: str, may_cut_end: bool = False,
               digits: str | None = None, check_digits: bool = True) -> str | None:
    """Why the span [a, b) of `space` ('text' or 'norm') cannot be the quote's match, or None: it starts
    or ends inside a word or number, a number continues past it, or its digits differ from the quote's
    (or `digits`, for a variant of the quote). `CUT_NUMBER` when a quote that may be cut ends inside its
    last number, as truncated quotes do. `check_digits=False` checks word boundaries only (a folded
    match, whose folded text already keeps every digit but 0/1 apart from its look-alikes)."""
    expected = quote.digits if digits is None else digits
    hay, (starts, ends) = idx.string(space)
    run_together = (idx.has_ocr and (len(quote.norm) >= MIN_FUZZY_CHARS or " " in quote.text)
                    and idx.read_by_ocr(idx.words_in(space, a, b)))  # OCR joins words
    if not run_together and not _on_boundary(hay, a, starts):
        return "inside_word: the quote starts inside a longer word or number on the page"
    cut = False
    if not run_together and not _on_boundary(hay, b, ends):
        cut = quote.may_cut_number and not hay[b].isalpha()
        if not (may_cut_end and hay[b - 1].isalpha() and hay[b].isalpha()) and not cut:
            return "inside_word: the quote ends inside a longer word or number on the page"
    ta, tb = (a, b) if space == "text" else idx.norm_to_text(a, b)
    page = idx.span_digits(ta, tb)
    if not check_digits:
        if page != digits_key(idx.text[ta:tb]):
            return f"inside_number: the quote ends inside a number on the page ('{idx.text[ta:tb][:60]}')"
        return number_goes_on(idx, hay, a, b, ta, tb) if page else None
    if page != expected:
        if quote.may_cut_number and expected and page.startswith(expected):
            return CUT_NUMBER
        return f"digits_differ: the page reads '{idx.text[ta:tb][:60]}' where the quote has other digits"
    return number_goes_on(idx, hay, a, b, ta, tb) if expected else None


def number_goes_on(idx: UnitIndex, hay: str, a: int, b: int, ta: int, tb: int) -> str | None:
    """Why the span [a, b) of `hay` (text span [ta, tb)) is only part of a number whose digit groups are set
    one space apart ("6 783,00", "530 848 134"), or None: a quote of part of it is another number."""
    words = idx.words_in_text_span(ta, tb)
    if not words:
        return None
    after, before = idx.spaced_group(words[-1], 1), idx.spaced_group(words[0], -1)
    if hay[b - 1:b].isdigit() and after is not None and _THOUSANDS_GROUP.fullmatch(after.text.rstrip(MARKS)):
        return f"digits_differ: the number continues on the page ('{idx.text[ta:tb]} {after.text}')"
    if hay[a:a + 1].isdigit() and before is not None and re.search(r"(?:^|\D)\d{1,3}$", before.text) \
            and _THOUSANDS_GROUP.fullmatch(idx.unit.words[words[0]].text.rstrip(MARKS)):
        return f"digits_differ: the number starts earlier on the page ('{before.text} {idx.text[ta:tb]}')"
    return None


def match_strict(quote: Quote, idx: UnitIndex, rtl: bool = True) -> tuple[Match | None, str | None]:
    """Exact or normalised match of the quote on one unit (word-aligned occurrences first), or the
    reason the candidates were rejected."""
    reason = None
    if not quote.norm or not idx.unit.words:
        return None, None
    q = quote.text
    cut = None  # a quote cut inside its last number: located, but `partial`
    for space, needles, kind in (("text", [q], "exact"), ("norm", quote.norms, "normalised")):
        hay, (starts, ends) = idx.string(space)
        passing = None
        for needle in needles:
            for pos in _occurrences(hay, needle):
                end = pos + len(needle)
                why = check_span(quote, idx, pos, end, space, quote.may_cut_end)
                if why == CUT_NUMBER:
                    cut = cut or (space, pos, end)
                    continue
                if why:
                    reason = reason or why
                    continue
                if pos in starts and end in ends:
                    passing = (pos, end)
                    break
                passing = passing or (pos, end)
            if passing:
                break
        if passing:
            return Match(kind, 1.0 if kind == "exact" else 0.98, idx.words_in(space, *passing), idx, passing, space), None
    if rtl and idx.rtl:
        for alt in quote.rtl_variants:
            m, _ = match_strict(alt, idx, rtl=False)
            if m:
                return Match("normalised", 0.97, m.words, idx, m.span, m.space), None
    if cut:
        space, a, b = cut
        return Match("partial", 0.9, idx.words_in(space, a, b), idx, (a, b), space), None
    return None, reason


def match_parts(quote: Quote, idx: UnitIndex, limit: int = 16) -> Match | None:
    """An ellipsis quote: every part matched (exact or normalised) in order on one unit; of the places
    where the first part occurs, the one from which the rest follows most closely."""
    if not quote.parts or not idx.unit.words:
        return None

    def find(part: Quote, start: int) -> tuple[int, int] | None:
        for needle in part.norms:
            for p in _occurrences(idx.norm, needle, start):
                if check_span(part, idx, p, p + len(needle), "norm", part.may_cut_end) is None:
                    return p, p + len(needle)
        return None

    best = None
    first = quote.parts[0]
    for needle in first.norms:
        for p in _occurrences(idx.norm, needle, limit=limit):
            if check_span(first, idx, p, p + len(needle), "norm", first.may_cut_end) is not None:
                continue
            spans = [(p, p + len(needle))]
            for part in quote.parts[1:]:
                nxt = find(part, spans[-1][1])
                if nxt is None:
                    break
                spans.append(nxt)
            if len(spans) == len(quote.parts) and (best is None or spans[-1][1] - spans[0][0] < best[-1][1] - best[0][0]):
                best = spans
    if best is None:
        return None
    groups = [idx.words_in("norm", a, b) for a, b in best]
    return Match("normalised", 0.95, sorted({w for g in groups for w in g}), idx, None, "norm", groups)


def match_lenient(quote: Quote, idx: UnitIndex, cutoff: float = FUZZY_CUTOFF,
                  relocating: bool = False) -> tuple[Match | None, str | None]:
    """Folded, edge-trimmed (`partial`) or aligned (`fuzzy`) match on one unit, or the reason the
    candidates were rejected."""
    nq = quote.norm
    if not nq or not idx.unit.words:
        return None, None
    reason = None
    if len(quote.fold) >= MIN_FOLD_CHARS:  # only OCR-style confusions or punctuation differ
        m, why = match_folded(quote, idx)
        if m:
            return m, None
        reason = why
    short = len(quote.text.split()) < 4
    for kind, nv, first, last, digits in quote.trims:
        if relocating and kind == "partial" and len(nv) < MIN_RELOCATED_FUZZY_CHARS:
            continue
        found = list(_occurrences(idx.norm, nv))
        if kind == "partial" and short and (len(found) > 1 or not _specific(nv, quote.text, first or last)):
            continue  # a short quote's rest must be specific and single out one place
        for pos in found:
            end = pos + len(nv)
            why = check_span(quote, idx, pos, end, "norm", digits=digits) or _near_miss(idx, pos, end, first, last)
            if why:
                reason = reason or (why if why != CUT_NUMBER else None)
                continue
            words = idx.words_in("norm", pos, end)
            return Match(kind, round(0.95 * len(nv) / len(nq), 4), words, idx, (pos, end)), None
    if len(nq) < MIN_FUZZY_CHARS or len(nq) > 2 * len(idx.norm) + 8:
        return None, reason
    al = fuzz.partial_ratio_alignment(nq, idx.norm, score_cutoff=cutoff)
    if al is None or al.dest_end <= al.dest_start:
        return None, reason
    words = idx.words_in("norm", al.dest_start, al.dest_end)
    if not words:
        return None, reason
    m = drop_grazed_edges(Match("fuzzy", round(al.score / 100.0, 4), words, idx, (al.dest_start, al.dest_end)))
    a, b = idx.norm_first[m.words[0]], idx.norm_first[m.words[-1] + 1]
    a, b = max(a, al.dest_start), min(b, al.dest_end)
    ta, tb = idx.norm_to_text(a, b)
    if idx.span_digits(ta, tb) != quote.digits:
        return None, f"digits_differ: the closest text on the page, '{idx.text[ta:tb][:60]}', has other digits"
    goes_on = number_goes_on(idx, idx.norm, a, b, ta, tb) if quote.digits else None
    if goes_on:
        return None, goes_on
    region = fold_confusables("".join(idx.token(w) for w in range(m.words[0], min(m.words[-1] + 2, len(idx.unit.words)))))
    missing = [n for n in quote.names if n and n not in region]
    if missing:
        return None, f"words_differ: the closest text on the page, '{idx.text[ta:tb][:60]}', does not have the quote's names"
    return m, None


def _specific(rest_norm: str, quote: str, dropped: str) -> bool:
    """What is left of a short quote names something: it holds a number or a capitalised word, or is
    long enough (`MIN_SPECIFIC_CHARS`) not to be a common pair of words."""
    kept = quote.split()
    kept.remove(dropped)
    return has_digit(rest_norm) or any(w[:1].isupper() for w in kept) or len(rest_norm) >= MIN_SPECIFIC_CHARS


def _near_miss(idx: UnitIndex, a: int, b: int, first: str, last: str) -> str | None:
    """A dropped edge word that the page has, altered, right where it would be: a misquote, not an
    extra word."""
    for dropped, word in ((first, idx.norm_word[a] - 1), (last, idx.norm_word[b - 1] + 1)):
        if dropped and 0 <= word < len(idx.unit.words):
            a_, b_ = fold_confusables(normalise(dropped)), fold_confusables(idx.token(word))
            if a_ and b_ and a_ != b_ and fuzz.ratio(a_, b_) >= NEAR_MISS_RATIO:
                return f"words_differ: the page reads '{idx.unit.words[word].text}' where the quote has '{dropped}'"
    return None


def match_folded(quote: Quote, idx: UnitIndex, limit: int = 50) -> tuple[Match | None, str | None]:
    """Where the folded quote occurs on the unit: of its acceptable occurrences (word-aligned ones
    first), the one whose marks are closest to the quote's, so "in 2004." prefers "in 2004." over
    "in 2004,"."""
    f = idx.folded
    marked = fold_confusables(quote.norm, drop_marks=False)
    best, best_key, reason = None, None, None
    for pos, end in ((p, p + len(fq)) for fq in quote.folds for p in _occurrences(f.text, fq, limit=limit)):
        a, b = idx.fold_to_norm(pos, end)
        why = check_span(quote, idx, a, b, "norm", quote.may_cut_end, check_digits=False)
        if why:
            reason = reason or why
            continue
        while a and idx.norm[a - 1] in MARKS:  # with the marks the fold dropped on either side
            a -= 1
        while b < len(idx.norm) and idx.norm[b] in MARKS:
            b += 1
        key = (pos in f.bounds[0] and end in f.bounds[1], fuzz.ratio(marked, fold_confusables(idx.norm[a:b], drop_marks=False)))
        if best_key is None or key > best_key:
            best, best_key = (pos, end), key
    if best is None:
        return None, reason
    return Match("fuzzy", 0.95, sorted(set(f.owners[best[0]:best[1]])), idx, best, "fold"), None


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


class DocumentGrounder:
    """Grounds citations against one document's units; indexes are built once per document."""

    def __init__(self, units: list[Unit], relocate: bool = True, frame_slack_s: float = FRAME_SLACK_S):
        self.units = units
        self.relocate = relocate  # look on other units when the cited one lacks the quote
        self.frame_slack_s = frame_slack_s
        self.indexes = [UnitIndex.build(u) for u in units]
        self._spreads: dict[int, tuple[UnitIndex, list[tuple[int, int]]]] = {}  # facing pages read as one

    def _find_unit(self, claim: ClaimedCitation) -> int | None:
        if claim.t_seconds is not None:
            frames = [(abs(u.t_seconds - claim.t_seconds), i) for i, u in enumerate(self.units) if isinstance(u, FrameUnit)]
            if not frames:
                return None
            times = [self.units[i].t_seconds for _, i in frames]
            if not min(times) - self.frame_slack_s <= claim.t_seconds <= max(times) + self.frame_slack_s:
                return None
            return min(frames)[1]
        for i, u in enumerate(self.units):
            if isinstance(u, PageUnit) and u.page == claim.page:
                return i
        return None

    def _nearest_first(self, units, origin: int | None) -> list[int]:
        """`units` other than the cited one, nearest to it first (none when relocation is off and one is cited)."""
        if origin is not None and not self.relocate:
            return []
        return sorted((j for j in units if j != origin), key=lambda j: (abs(j - origin) if origin is not None else j, j))

    @cached_property
    def _pages_by_shingle(self) -> dict[str, list[int]]:
        """Inverted index of 4-character shingles of the normalised text -> units holding them."""
        index: dict[str, list[int]] = {}
        for j, idx in enumerate(self.indexes):
            for gram in idx.shingles:
                index.setdefault(gram, []).append(j)
        return index

    @cached_property
    def _rtl_units(self) -> set[int]:
        return {j for j, idx in enumerate(self.indexes) if idx.rtl}

    def _may_hold(self, quote: Quote) -> set[int] | range:
        """The units that hold every one of the quote's three rarest 4-character shingles (for some
        normalised form of it), and right-to-left units (numbers may be stored backwards there): only
        these can match it strictly."""
        grams_of = [{n[k:k + 4] for k in range(len(n) - 3)} for n in quote.norms]
        if any(not grams for grams in grams_of):
            return range(len(self.units))
        index = self._pages_by_shingle
        possible: set[int] = set(self._rtl_units)
        for grams in grams_of:
            rare = sorted(grams, key=lambda g: len(index.get(g, ())))[:3]
            possible |= set.intersection(*(set(index.get(g, ())) for g in rare))
        return possible

    def _most_similar(self, norm: str, origin: int | None, n: int) -> list[int]:
        """The `n` units other than `origin` sharing the most 4-character shingles with `norm`, the
        nearer first among equals."""
        counts: Counter[int] = Counter()
        for gram in {norm[k:k + 4] for k in range(len(norm) - 3)}:
            counts.update(self._pages_by_shingle.get(gram, ()))
        counts.pop(origin, None)
        near = (lambda j: abs(j - origin)) if origin is not None else (lambda j: j)
        return sorted(counts, key=lambda j: (-counts[j], near(j), j))[:n]

    def locate(self, quote: Quote, i: int | None) -> tuple[Match | None, bool, str | None]:
        """(match, relocated, reason when there is none): strict here, strict elsewhere, ellipsis parts
        and lenient here, ellipsis parts elsewhere, lenient on the most similar other units."""
        here = [i] if i is not None else []
        reasons: list[str] = []
        for j in here + self._nearest_first(self._may_hold(quote), i):
            m, why = match_strict(quote, self.indexes[j])
            if m:
                return m, j != i, None
            if why and j == i:
                reasons.append(why)
        if i is not None:
            m = match_parts(quote, self.indexes[i])
            if m:
                return m, False, None
            m, why = match_lenient(quote, self.indexes[i])
            if m:
                return m, False, None
            if why:
                reasons.append(why)
        if quote.parts:
            for j in self._nearest_first(self._may_hold(quote.parts[0]), i):
                m = match_parts(quote, self.indexes[j])
                if m:
                    return m, True, None
        if len(quote.norm) >= MIN_RELOCATED_FUZZY_CHARS and len(self.units) > 1 and (self.relocate or i is None):
            best = None
            for j in self._most_similar(quote.norm, i, CANDIDATE_PAGES):
                m, _ = match_lenient(quote, self.indexes[j], cutoff=relocated_cutoff(len(quote.norm)), relocating=True)
                if m and (best is None or m.score > best.score):
                    best = m
            if best:
                return best, True, None
        digits = [r for r in reasons if r.startswith("digits_differ")]
        return None, False, (digits or reasons or [None])[0]

    def ground(self, claim: ClaimedCitation, value: Any = UNSET) -> Citation:
        """Verify one claimed citation; with `value`, also whether the matched words support it. A quote
        across a page break gives its first page's part here (`ground_all` gives every part)."""
        return self.ground_all(claim, value)[0]

    def ground_all(self, claim: ClaimedCitation, value: Any = UNSET) -> list[Citation]:
        """The citation, or for a quote that runs across a page break one citation per page, each with
        its page's boxes (the quote, match and value check are the whole quote's)."""
        base = dict(doc_id=claim.doc_id, quote=claim.quote, claimed_page=claim.page, claimed_t_seconds=claim.t_seconds)
        quote = Quote(claim.quote)
        i = self._find_unit(claim)
        if quote.problem:
            return [self._unverified(claim, i, base, quote.problem)]
        m, relocated, why = self.locate(quote, i)
        if m is not None:
            cites = [self._citation(m, "relocated" if relocated else m.kind, base)]
            words = [m.index.unit.words[w].text for w in m.words]
            among = m
        else:
            crossing = self._across_break(quote, i)
            if crossing is None:
                return [self._unverified(claim, i, base, why)]
            m, parts = crossing
            kind = m.kind if i is None or i in (parts[0][0], parts[1][0]) else "relocated"
            cites = [self._part_citation(j, ids, m, kind, base) for j, ids in parts]
            first, second = (self.units[j].page for j, _ in parts)
            cites[0].reason = f"the quote runs on to page {second}; these boxes are its part on page {first}"
            cites[1].reason = f"the quote runs on from page {first}; these boxes are its part on page {second}"
            words = [self.units[j].words[w].text for j, ids in parts for w in ids]
            among = None
        if value is not UNSET:
            text = " ".join(words)
            if among is not None and isinstance(value, str) and len(value.split()) > len(words):
                text = _around(among, len(value.split()))  # a long value its quote only begins (or holds a part of)
            supported = value_supported(value, text)
            for cit in cites:
                cit.value_supported = supported
                if supported is False:
                    cit.reason = f"value_not_supported: {str(value)[:60]!r} is not in the matched words"
        return cites

    def _across_break(self, quote: Quote, i: int | None) -> tuple[Match, list[tuple[int, list[int]]]] | None:
        """A strict match of the quote over the body text of two consecutive pages read as one, that
        takes words from both: (match, [(unit, its word ids)] for each page). Only pairs whose first page
        holds the quote's first 4 characters, whose second holds its last 4, and which together hold all
        its 4-character shingles but the (at most 3) that straddle the break are tried, the cited page's
        pairs first; with relocation off, only those."""
        if len(quote.norm) < MIN_RELOCATED_FUZZY_CHARS:
            return None
        index = self._pages_by_shingle
        head, tail = index.get(quote.norm[:4], ()), set(index.get(quote.norm[-4:], ()))
        pairs = [j for j in head if j + 1 in tail and isinstance(self.units[j], PageUnit)
                 and isinstance(self.units[j + 1], PageUnit) and self.units[j + 1].page == self.units[j].page + 1]
        if pairs:
            grams = {quote.norm[k:k + 4] for k in range(len(quote.norm) - 3)}
            covered: Counter[int] = Counter()
            for gram in grams:
                covered.update({j for page in index.get(gram, ()) for j in (page - 1, page)})
            pairs = [j for j in pairs if covered[j] >= len(grams) - 3]
        if i is not None:
            pairs = sorted(pairs, key=lambda j: (min(abs(j - i), abs(j + 1 - i)), j))
            if not self.relocate:
                pairs = [j for j in pairs if i in (j, j + 1)]
        for j in pairs:
            spread, origin = self._spread(j)
            m, _ = match_strict(quote, spread)
            if m is None:
                continue
            on_first = [origin[w][1] for w in m.words if origin[w][0] == j]
            on_second = [origin[w][1] for w in m.words if origin[w][0] == j + 1]
            if on_first and on_second:
                return m, [(j, on_first), (j + 1, on_second)]
        return None

    def _spread(self, j: int) -> tuple[UnitIndex, list[tuple[int, int]]]:
        """Unit j's words above its bottom margin followed by unit j+1's below its top margin, as one
        unit (the second page's lines numbered after the first's), and each word's (unit, word id);
        built once per pair."""
        if j not in self._spreads:
            self._spreads[j] = self._build_spread(j)
        return self._spreads[j]

    def _build_spread(self, j: int) -> tuple[UnitIndex, list[tuple[int, int]]]:
        first, second = self.units[j], self.units[j + 1]
        body_first = [k for k, w in enumerate(first.words) if w.y0 < (1 - RUNNING_MARGIN) * first.height]
        body_second = [k for k, w in enumerate(second.words) if w.y1 > RUNNING_MARGIN * second.height]
        shift = 1 + max((first.words[k].line for k in body_first), default=0)
        words = [first.words[k] for k in body_first] + [
            second.words[k].model_copy(update={"line": second.words[k].line + shift}) for k in body_second]
        origin = [(j, k) for k in body_first] + [(j + 1, k) for k in body_second]
        return UnitIndex.build(first.model_copy(update={"words": words})), origin

    def _part_citation(self, j: int, word_ids: list[int], m: Match, kind: str, base: dict) -> Citation:
        u = self.units[j]
        boxes = line_boxes(u, word_ids)
        return Citation(**base, match=kind, score=m.score, boxes=boxes, boxes_norm=fractional_boxes(u, boxes), page=u.page)

    def _unverified(self, claim: ClaimedCitation, i: int | None, base: dict, why: str | None = None) -> Citation:
        if why and not why.startswith("inside_word"):
            reason = why
        elif i is None and claim.page is None and claim.t_seconds is None:
            reason = "quote not found in the document"
        elif i is None:
            where = f"t={format_timestamp(claim.t_seconds)}" if claim.t_seconds is not None else f"page {claim.page}"
            reason = f"cited {where} is not in the document, and the quote was not found on any unit"
        elif not self.units[i].words:
            reason = ("frame has no OCR text; citation is timestamp-only" if isinstance(self.units[i], FrameUnit)
                      else "cited page has no text layer or OCR words")
        else:
            reason = why or "quote not found on the cited unit or elsewhere in the document"
        unit = self.units[i] if i is not None else None
        return Citation(**base, match="unverified", score=0.0, reason=reason,
                        page=unit.page if isinstance(unit, PageUnit) else claim.page,
                        t_seconds=unit.t_seconds if isinstance(unit, FrameUnit) else claim.t_seconds)

    def _citation(self, m: Match, kind: str, base: dict) -> Citation:
        u = m.index.unit
        if m.groups:
            boxes = [b for g in m.groups for b in line_boxes(u, g)]
        else:
            boxes = line_boxes(u, m.words, trimmed_edges(m))
        return Citation(**base, match=kind, score=m.score, boxes=boxes, boxes_norm=fractional_boxes(u, boxes),
                        page=u.page if isinstance(u, PageUnit) else None,
                        t_seconds=u.t_seconds if isinstance(u, FrameUnit) else None)


def trimmed_edges(m: Match) -> dict[int, tuple[float, float]]:
    """For a first/last OCR token only partly inside the matched span, the covered fraction (start, end)
    of its characters, so its box can be cut to the quoted part. OCR runs words together
    ("conceptadequately.Such"), so a token may hold several words; a text layer's words are real
    words and are boxed whole."""
    if m.span is None or not m.index.read_by_ocr(m.words):
        return {}
    (a, b), space = m.span, m.space
    if space == "fold":  # measure in `norm`, where a word's characters map one to one to its text
        (a, b), space = m.index.fold_to_norm(a, b), "norm"
    out = {}
    for w in {m.words[0], m.words[-1]}:
        if not m.index.read_by_ocr([w]):
            continue
        first, n = m.index.extent(w, space)
        lo, hi = max(a, first), min(b, first + n)
        if hi - lo < n and len(m.index.unit.words[w].text) >= 6:
            out[w] = ((lo - first) / n, (hi - first) / n)
    return out


def fractional_boxes(unit: Unit, boxes: list[Box]) -> list[Box]:
    """Boxes as fractions of the unit's width and height."""
    w, h = max(unit.width, 1e-9), max(unit.height, 1e-9)
    return [Box(x0=b.x0 / w, y0=b.y0 / h, x1=b.x1 / w, y1=b.y1 / h) for b in boxes]


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


def _around(m: Match, n: int) -> str:
    """The unit's words a match lies among: its own, with `n` words before and after it in reading order
    (a long value runs on past the quote that cites it, which holds at most MAX_QUOTE characters)."""
    words = m.index.unit.words
    lo, hi = min(m.words), max(m.words)
    return " ".join(w.text for w in words[max(0, lo - n):hi + 1 + n])
