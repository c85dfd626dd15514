"""Word spaces the recogniser left out, put back from the blank columns between characters.

RapidOCR's recogniser drops the space between words set tight (justified lines, a number before a heading,
a line of one run of words): `5.1Hyper`, `overHTML`, `Invoicenumber1542dated12March2026.Totaldue:`. The
grounder matches quotes without spaces, but the words, their boxes and the page text the model is shown
run together. Its character boxes are CTC frames, too coarse to measure a gap, so the gap is measured on
the pixels: between the centres of two neighbouring characters, the widest run of columns without ink in
the line's box (ink is dark, unless most of the box is dark and so is the ground around it: light print
on a dark theme's screen or a dark band; a label in a form's box, whose rules darken its rim, keeps dark
ink). A gap as wide as the line's own word spaces is a space, weighed against the line's gaps between
letters (letter-spaced print has wide ones everywhere) and, in a line without spaces, its height.

Handwriting has gaps inside its words as wide as those between them, so only lines the recogniser read
as confidently as print are looked at, a cut never leaves one lowercase letter alone beside another
(`Altman n`, `l a ssen`), and a web or mail address is cut only where letters meet."""

from __future__ import annotations

import bisect
import statistics

from pipeline.ingest.contrast import darkest
from pipeline.ingest.layout import quad_bounds
from pipeline.ingest.scripts import is_cjk

SPACE_SHARE = 0.6  # a gap this share of the line's median word space is a space
HEIGHT_SHARE = 0.25  # in a line read without spaces, a gap this share of the line's height is one
LETTER_TIMES = 2.0  # a space is wider than this many times the line's median gap between letters, plus
LETTER_MARGIN = 2  # these pixels
MIN_GAP = 3  # and never narrower than this many pixels
PRINT_SCORE = 0.95  # lines read less confidently than this (handwriting, poor scans) are left as read
CLOSING = set(".,;:!?)]}\u201d\u2019\u00bb\uff09\uff0c\uff1a\uff1b")  # a word may end in these before a space
ADDRESS = ("/", "@", "www.")  # a token holding one of these may hold a web or mail address
OPENING = set("([{\u201c\u2018\u00ab\uff08")  # and the next may start with these


def restore_spaces(image, lines: list) -> list:
    """OCR lines `(quad, text, score, char_quads)` read on `image` (the picture as read: RGB, or grey) with
    the spaces the recogniser missed put in; a space's character box is the gap it fills. Lines without
    character boxes lined up with their text are left as they are."""
    return [_restored(image, line) for line in lines]


def _restored(image, line: tuple) -> tuple:
    quad, text, score, chars = line
    if not chars or len(text) < 2 or score < PRINT_SCORE:
        return line
    visible = [k for k, ch in enumerate(text) if not ch.isspace()]
    spaced = len(chars) == len(text)  # a box for every character, spaces included
    if not spaced and len(chars) != len(visible):
        return line
    boxes = [quad_bounds(q) for q in chars]
    box_of = dict(zip(range(len(text)) if spaced else visible, boxes))
    x0, y0, x1, y1 = (int(round(v)) for v in quad_bounds(quad))
    crop = image[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
    crop = darkest(crop)
    if crop.size == 0 or int(crop.max()) - int(crop.min()) < 32:
        return line
    middle = (int(crop.min()) + int(crop.max())) / 2
    ink = crop < middle
    if ink.mean() > 0.5 and _ground(image, (x0, y0, x1, y1)) < middle:  # light print on a dark ground: what is light
        ink = ~ink
    inked = ink.any(axis=0)

    def gap(a: int, b: int) -> tuple[int, int]:
        """The widest run of blank columns between the centres of characters a and b: (start, width)."""
        lo = int((box_of[a][0] + box_of[a][2]) / 2) - max(0, x0)
        hi = int((box_of[b][0] + box_of[b][2]) / 2) - max(0, x0)
        best, start, run = (0, 0), 0, 0
        for col in range(max(0, lo), min(len(inked), hi + 1)):
            if inked[col]:
                run = 0
                continue
            run, start = run + 1, start if run else col
            if run > best[1]:
                best = (start, run)
        return best

    pairs = list(zip(visible, visible[1:]))
    gaps = {pair: gap(*pair) for pair in pairs}
    spaces = [gaps[p][1] for p in pairs if p[1] > p[0] + 1]
    letters = [gaps[p][1] for p in pairs if p[1] == p[0] + 1]
    floor = max(MIN_GAP, LETTER_TIMES * statistics.median(letters) + LETTER_MARGIN if letters else 0)
    need = max(floor, SPACE_SHARE * statistics.median(spaces) if spaces else HEIGHT_SHARE * (y1 - y0))
    cuts = _kept([b for a, b in pairs if b == a + 1 and gaps[(a, b)][1] >= need and _may_part(text, a, b)], text)
    if not cuts:
        return line
    new_text, new_chars, at = [], [], 0
    for b in cuts:
        a = b - 1
        new_text.append(text[at:b])
        if spaced:
            new_chars.extend(chars[at:b])
            start, width = gaps[(a, b)]
            left = start + max(0, x0)
            new_chars.append([[left, y0], [left + width, y0], [left + width, y1], [left, y1]])
        new_text.append(" ")
        at = b
    new_text.append(text[at:])
    if spaced:
        new_chars.extend(chars[at:])
    else:
        new_chars = chars
    return quad, "".join(new_text), score, new_chars


GROUND_MARGIN = 0.25  # the ground a line is printed on is read this share of its height around its box


def _ground(image, box: tuple[int, int, int, int]) -> float:
    """The grey level around a line: the median of the rim of its box grown by GROUND_MARGIN of its
    height (light for print on paper, dark for a dark theme's screen or a dark band; a form's rules can
    darken it too, so it is asked only where most of the box is dark)."""
    import numpy as np

    x0, y0, x1, y1 = box
    pad = max(1, round(GROUND_MARGIN * (y1 - y0)))
    h, w = image.shape[:2]
    area = image[max(0, y0 - pad):min(h, y1 + pad), max(0, x0 - pad):min(w, x1 + pad)]
    area = darkest(area)
    rim = np.concatenate([area[0], area[-1], area[:, 0], area[:, -1]])
    return float(np.median(rim))


def _kept(cuts: list[int], text: str) -> list[int]:
    """The cuts (offsets of the character a space goes before) that leave no lowercase letter alone beside
    another, and none beside a mark of a token that holds an address (`/`, `@`, `www.`)."""
    bounds = sorted(set(cuts) | {k for k, ch in enumerate(text) if ch.isspace()} | {k + 1 for k, ch in enumerate(text) if ch.isspace()})
    bounds = [0] + bounds + [len(text)]

    def piece(at: int, before: bool) -> str:
        """The piece of text a cut at `at` leaves before (or after) it."""
        k = bisect.bisect_left(bounds, at)
        return text[bounds[k - 1]:at] if before else text[at:bounds[k + 1]]

    kept = []
    for b in cuts:
        left, right = piece(b, True), piece(b, False)
        end = text.find(" ", b)
        token = text[text.rfind(" ", 0, b) + 1:end if end >= 0 else len(text)]
        if any(mark in token for mark in ADDRESS) and not (text[b - 1].isalnum() and text[b].isalnum()):
            continue  # `creativecommons. org`: an address is cut only where letters meet (`See|https://`)
        if (len(left) == 1 and left.islower() and right[:1].islower()) or (len(right) == 1 and right.islower() and left[-1:].islower()):
            continue
        kept.append(b)
    return kept


def _may_part(text: str, a: int, b: int) -> bool:
    """Whether a space may stand between the neighbouring characters a and b: letters or digits on both
    sides, or a word's closing mark before a letter, digit or opening mark, and never inside a number
    (`1542`, whose `1` may stand wide in its cell; `3.14`, `1,250`) or a CJK run (its characters are words
    of their own)."""
    left, right = text[a], text[b]
    if is_cjk(left) or is_cjk(right) or (left.isdigit() and right.isdigit()):
        return False
    if left.isalnum():
        return right.isalnum() or right in OPENING
    if left in CLOSING:
        if left in ".,:" and a > 0 and text[a - 1].isdigit() and right.isdigit():
            return False
        return right.isalnum() or right in OPENING
    return False
