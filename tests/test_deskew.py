"""Scans lying a few degrees askew (pipeline/ingest/deskew.py): OCR lines laid level before words, boxes,
reading order and word spaces are made from them; on a real page, and on lines built by hand."""

import collections
import math
import statistics

import numpy as np
import pymupdf
import pytest

from pipeline.grounding import DocumentGrounder
from pipeline.ingest import ocr
from pipeline.ingest.deskew import line_angle, skew_angle, straighten, turning
from schemas.records import ClaimedCitation, ImageRef, PageUnit
from tests.conftest import CORPUS, needs_corpus

DPI = 150


def turned_page(page, angle: float, height_share: float):
    """The top `height_share` of a born-digital page rendered grey at DPI, turned `angle` degrees
    counter-clockwise (white around it), as RGB; and its words with their boxes turned the same way, in
    the turned picture's pixels."""
    import cv2

    clip = pymupdf.Rect(0, 0, page.rect.width, page.rect.height * height_share)
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY, clip=clip)
    grey = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)
    turn, size = turning(grey.shape[1], grey.shape[0], angle)
    turned = cv2.cvtColor(cv2.warpAffine(grey, turn, size, flags=cv2.INTER_CUBIC, borderValue=255), cv2.COLOR_GRAY2RGB)
    zoom, words = DPI / 72, []
    for x0, y0, x1, y1, text, *_ in page.get_text("words", clip=clip):
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]]) * [zoom, zoom, 1] @ turn.T
        words.append((text, (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())))
    return turned, words


def key(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def overlap(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


@needs_corpus()
def test_a_two_column_scan_lying_askew_keeps_its_words_their_boxes_and_its_columns():
    """TraceMonkey's second page (two columns), scanned 3 degrees askew: taken as they lie, its lines'
    upright bounds are twice as tall as its print, the columns' lines fall into shared rows, and the word
    spaces the recogniser left out stay out: of the top half's words 0.76 read, 0.62 of their neighbours
    kept, box overlap 0.38. Laid level first, it reads as the page does unturned: 0.90, 0.75, 0.69 (0.89,
    0.74, 0.72 unturned)."""
    page = pymupdf.open(CORPUS / "docs" / "pdfjs_tracemonkey.pdf")[1]
    image, truth = turned_page(page, 3.0, 0.5)
    reading = ocr.ocr_page(image)
    words = [w for w in reading.words if key(w.text)]

    keys, read = [key(t) for t, _ in truth if key(t)], [key(w.text) for w in words]
    assert sum((collections.Counter(keys) & collections.Counter(read)).values()) >= 0.85 * len(keys)  # the words the recogniser ran together split again
    pairs = set(zip(keys, keys[1:]))
    assert len(pairs & set(zip(read, read[1:]))) >= 0.7 * len(pairs)  # the columns read one after the other
    once = collections.Counter(keys)
    box_of = {key(t): box for t, box in truth if once[key(t)] == 1}
    ious = [overlap((w.x0, w.y0, w.x1, w.y1), box_of[key(w.text)]) for w in words if key(w.text) in box_of and len(key(w.text)) >= 3]
    assert len(ious) >= 90 and statistics.median(ious) >= 0.6  # a word's box is its own, not its line's slant

    h, w = image.shape[:2]
    unit = PageUnit(doc_id="d", page=1, width=w, height=h, image=ImageRef(path="x"), image_width=w, image_height=h,
                    words=reading.words, text_source="ocr")
    quote = ("could continue tracing until it reaches the inner loop header again, thus tracing the outer loop "
             "inside a trace tree for the inner loop. But this requires tracing a copy")
    cited = DocumentGrounder([unit]).ground(ClaimedCitation(doc_id="d", page=1, quote=quote))
    assert cited.match in ("exact", "normalised") and len(cited.boxes) == 3  # read in order: one box a line
    assert all(b.x1 < w / 2 for b in cited.boxes)  # every box in the left column


def level_lines(angle: float, n: int = 6, length: float = 600.0, height: float = 20.0, x: float = 50.0) -> list:
    """`n` OCR lines `(quad, text, score, chars)` of `length` px running at `angle` degrees (down to the right)."""
    t = math.radians(angle)
    dx, dy = math.cos(t), math.sin(t)
    lines = []
    for k in range(n):
        x0, y0 = x, 40.0 + 40 * k
        quad = [[x0, y0], [x0 + length * dx, y0 + length * dy], [x0 + length * dx - height * dy, y0 + length * dy + height * dx],
                [x0 - height * dy, y0 + height * dx]]
        chars = [[[x0 + c * 10 * dx, y0 + c * 10 * dy], [x0 + (c + 1) * 10 * dx, y0 + (c + 1) * 10 * dy],
                  [x0 + (c + 1) * 10 * dx, y0 + (c + 1) * 10 * dy + height], [x0 + c * 10 * dx, y0 + c * 10 * dy + height]]
                 for c in range(10)]
        lines.append((quad, "Lorem ipsu", 0.99, chars))
    return lines


@pytest.mark.parametrize("lines,want", [
    (level_lines(-2.0), -2.0),  # up to the right
    (level_lines(3.5), 3.5),
    (level_lines(0.2), None),  # straight enough: read as it lies
    (level_lines(-2.0, n=2), None),  # too few lines to tell
    (level_lines(6.0, n=3) + level_lines(-6.0, n=3, x=700), None),  # two pictures at two angles: no one skew
    (level_lines(30.0), None),  # text set at an angle, not a page fed crooked
    (level_lines(2.0, length=60.0), None),  # short lines (table cells, labels) tell no skew
])
def test_a_page_s_skew_is_measured_from_long_lines_that_agree(lines, want):
    got = skew_angle(lines)
    assert (got is None) if want is None else got == pytest.approx(want, abs=0.01)


def test_lines_laid_level_keep_their_text_and_turn_back_onto_the_picture():
    image = np.full((400, 800, 3), 255, np.uint8)
    lines = level_lines(-2.0)
    straight, level = straighten(image, lines)
    assert straight is not None and straight.angle == pytest.approx(-2.0)
    assert straight.image.shape[0] > 400 and straight.image.shape[1] > 800  # every corner kept
    assert all(abs(line_angle(q)) < 0.01 for q, _, _, _ in level)
    assert [t for _, t, _, _ in level] == [t for _, t, _, _ in lines]
    for (quad, *_), (moved, *_) in zip(lines, level):
        for (x, y), (mx, my) in zip(quad, moved):
            assert straight.point_back(mx, my) == pytest.approx((x, y), abs=1e-6)
    assert straighten(image, level_lines(0.1)) == (None, level_lines(0.1))


@needs_corpus()
def test_two_pictures_askew_at_two_angles_keep_each_word_s_own_box():
    """Two pages photographed side by side, one turned 4 degrees each way: no one skew to lay the picture
    level by, so each slanted line keeps its angle, and each word's box is the part of the slanted line
    over the word (as tall as the line's slanted bounds before: median overlap with the words' own boxes
    0.39, now 0.83)."""
    page = pymupdf.open(CORPUS / "docs" / "pdfjs_freeculture.pdf")[20]
    left, left_words = turned_page(page, 4.0, 0.35)
    right, right_words = turned_page(page, -4.0, 0.35)
    h = max(left.shape[0], right.shape[0])
    image = np.full((h, left.shape[1] + right.shape[1], 3), 255, np.uint8)
    image[:left.shape[0], :left.shape[1]] = left
    image[:right.shape[0], left.shape[1]:] = right
    shift = left.shape[1]
    lines, _ = ocr._read(image)
    assert skew_angle(lines) is None  # the lines do not agree on one angle
    words = ocr.ocr_page(image).words
    for wanted, x in ((left_words, 0), (right_words, shift)):
        once = collections.Counter(key(t) for t, _ in wanted)
        box_of = {key(t): (b[0] + x, b[1], b[2] + x, b[3]) for t, b in wanted if once[key(t)] == 1}
        ious = [overlap((w.x0, w.y0, w.x1, w.y1), box_of[key(w.text)]) for w in words
                if (w.x0 >= shift) == (x > 0) and key(w.text) in box_of and len(key(w.text)) >= 3]
        assert len(ious) >= 25 and statistics.median(ious) >= 0.6
