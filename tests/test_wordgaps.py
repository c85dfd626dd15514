"""Word spaces OCR leaves out are put back from the pixels (pipeline/ingest/wordgaps.py), and only where
the print shows them."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest

import pipeline.ingest.ocr as ocr
from pipeline.ingest.wordgaps import restore_spaces

DPI = 150
INVOICE = "Invoice number 1542 dated 12 March 2026. Total due: 4,835.00 EUR."


def typeset(text: str, size: float = 10, html: str = "") -> tuple[np.ndarray, list[tuple]]:
    """A line of print as OCR gets it (RGB at DPI) and its text-layer words (x0, y0, x1, y1, text) in those pixels."""
    doc = pymupdf.open()
    page = doc.new_page(width=540, height=80)
    if html:
        page.insert_htmlbox(pymupdf.Rect(20, 20, 520, 70), html)
    else:
        page.insert_text((20, 50), text, fontsize=size, fontname="helv")
    pix = page.get_pixmap(dpi=DPI, alpha=False)
    f = DPI / 72
    layer = [(w[0] * f, w[1] * f, w[2] * f, w[3] * f, w[4]) for w in page.get_text("words")]
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3).copy(), layer


def test_a_line_read_without_spaces_gets_its_words_and_their_boxes_back(monkeypatch):
    pixels, layer = typeset(INVOICE)
    words = ocr.ocr_page(pixels).words
    assert [w.text for w in words] == INVOICE.split()
    for word, (x0, y0, x1, y1, text) in zip(words, layer):
        assert word.text == text
        assert abs(word.x0 - x0) < 6 and abs(word.x1 - x1) < 6, (word, x0, x1)  # each box over its own word
        assert word.y0 < (y0 + y1) / 2 < word.y1
    monkeypatch.setattr(ocr, "restore_spaces", lambda gray, lines: lines)
    unspaced = [w.text for w in ocr.ocr_page(pixels).words]
    assert len(unspaced) < len(words) / 2, f"RapidOCR now keeps these spaces itself ({unspaced}): find a line it runs together"


def test_letter_spaced_print_numbers_and_addresses_stay_whole(monkeypatch):
    heading, _ = typeset("", html='<p style="letter-spacing:6pt;font-size:14pt">ANNUAL REPORT</p>')
    assert [w.text for w in ocr.ocr_page(heading).words] == ["ANNUAL", "REPORT"]
    pixels, _ = typeset("See https://www.example.com/invoices/1542 or mail billing@example.com")
    assert [w.text for w in ocr.ocr_page(pixels).words] == ["See", "https://www.example.com/invoices/1542", "or", "mail",
                                                            "billing@example.com"]


def glyphs(widths_and_gaps: list[tuple[int, int]], height: int = 24) -> tuple[np.ndarray, list]:
    """A grey line of black blocks (one per character: width, then the blank gap after it) and the
    character quads a recogniser would give, each as wide as its block."""
    width = sum(w + g for w, g in widths_and_gaps) + 20
    gray = np.full((height + 10, width), 255, np.uint8)
    quads, x = [], 10
    for w, g in widths_and_gaps:
        gray[5:5 + height, x:x + w] = 0
        quads.append([[x, 5], [x + w, 5], [x + w, 5 + height], [x, 5 + height]])
        x += w + g
    return gray, quads


def line(text: str, quads: list, score: float = 0.99) -> tuple:
    xs = [p[0] for q in quads for p in q]
    return ([[min(xs), 5], [max(xs), 5], [max(xs), 29], [min(xs), 29]], text, score, quads)


@pytest.mark.parametrize("text, gaps, score, want", [
    ("overHTML.", [2, 2, 2, 9, 2, 2, 2, 2], 0.99, "over HTML."),  # a line without spaces: a gap a quarter of its height
    ("Altmann", [2, 2, 2, 2, 2, 9], 0.99, "Altmann"),  # a lowercase letter left alone: handwriting's gaps
    ("overHTML.", [2, 2, 2, 9, 2, 2, 2, 2], 0.90, "overHTML."),  # read less surely than print: left as read
    ("15420", [2, 2, 9, 2], 0.99, "15420"),  # never inside a number
    ("Total:4", [2, 2, 2, 2, 2, 9], 0.99, "Total: 4"),  # after a word's closing mark
])
def test_where_a_space_may_go(text, gaps, score, want):
    gray, quads = glyphs([(8, g) for g in gaps] + [(8, 0)])
    (_, got, _, chars), = restore_spaces(gray, [line(text, quads, score)])
    assert got == want
    assert len(chars) == len(got)  # a box for each character, a space put in included


def test_a_space_put_in_gets_the_box_of_its_gap_where_the_recogniser_boxes_spaces():
    gray, quads = glyphs([(8, 2), (8, 12), (8, 2), (8, 2), (8, 12), (8, 2), (8, 2), (8, 0)])  # 'to', 'due', 'EUR'
    (x0, y0), (x1, _) = quads[1][1], quads[2][0]
    space = [[x0 + 1, y0], [x1 - 1, y0], [x1 - 1, y0 + 24], [x0 + 1, y0 + 24]]  # the space it read, boxed too
    (_, got, _, chars), = restore_spaces(gray, [line("to dueEUR", quads[:2] + [space] + quads[2:])])
    assert got == "to due EUR"
    assert len(chars) == len(got)
    assert quads[4][1][0] <= chars[6][0][0] < chars[6][1][0] <= quads[5][0][0]  # between 'e' and 'E'


def test_light_print_on_a_dark_ground_gets_its_spaces_back_too():
    """A dark theme's screen: the ink of a line is its light pixels. Taking the dark ground for ink, no
    column between two words was blank and the spaces the recogniser left out stayed out."""
    pixels, _ = typeset(INVOICE)
    dark = (255 - pixels.astype(int)) * 0.85 + 30  # light grey print on a near-black ground
    words = ocr.ocr_page(dark.clip(0, 255).astype(np.uint8)).words
    letters = lambda text: "".join(c for c in text if c.isalnum())  # noqa: E731 - it reads `4.835.00` there
    assert [letters(w.text) for w in words] == [letters(t) for t in INVOICE.split()]
