"""OCR reading order on pages with columns (pipeline/ingest/layout.py), on boxes and on a real scan."""

import random

import numpy as np
import pymupdf

from pipeline.grounding import DocumentGrounder
from pipeline.ingest.layout import reading_order
from schemas.records import ClaimedCitation, ImageRef, PageUnit


def shuffled(boxes, seed=0):
    ids = list(range(len(boxes)))
    random.Random(seed).shuffle(ids)
    order = reading_order([boxes[i] for i in ids])
    return [ids[i] for i in order]


def test_columns_are_read_one_after_the_other_between_title_and_footer():
    title = [(50, 10, 550, 20)]
    left = [(50, 30 + 12 * k, 290, 40 + 12 * k) for k in range(5)]
    right = [(310, 30 + 12 * k, 550, 40 + 12 * k) for k in range(5)]
    footer = [(50, 200, 550, 210)]
    assert shuffled(title + left + right + footer) == list(range(12))


def test_three_columns_with_a_paragraph_gap_at_the_same_height():
    cols = []
    for c in range(3):
        x = 50 + c * 170
        cols += [(x, 30 + 12 * k + (20 if k >= 3 else 0), x + 150, 40 + 12 * k + (20 if k >= 3 else 0)) for k in range(6)]
    assert shuffled(cols, seed=3) == list(range(18))


def test_key_value_rows_and_tables_keep_row_order():
    labels = [(50, 30 + 12 * k, 120, 40 + 12 * k) for k in range(5)]
    values = [(450, 30 + 12 * k, 520, 40 + 12 * k) for k in range(5)]
    assert reading_order(labels + values) == [0, 5, 1, 6, 2, 7, 3, 8, 4, 9]


def test_a_paragraph_quote_on_a_two_column_scan_is_located():
    from pipeline.ingest.ocr import ocr_words

    left = ("Gemmadoc reads scanned pages with an OCR engine and keeps the words with their boxes. "
            "A paragraph in the left column continues on the next line of the same column, never across.") * 2
    right = ("The right column holds unrelated text about harbour logistics and weekly shipping schedules. "
             "Readers follow it from top to bottom after they finish the left column.") * 2
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(50, 60, 296, 700), left, fontsize=11)
    page.insert_textbox(pymupdf.Rect(316, 60, 562, 700), right, fontsize=11)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(2, 2), alpha=False, colorspace=pymupdf.csRGB)
    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    unit = PageUnit(doc_id="d", page=1, width=pix.w, height=pix.h, image=ImageRef(path="x"), image_width=pix.w,
                    image_height=pix.h, words=ocr_words(img), text_source="ocr")
    quote = "keeps the words with their boxes. A paragraph in the left column continues"
    c = DocumentGrounder([unit]).ground(ClaimedCitation(doc_id="d", page=1, quote=quote))
    assert c.match in ("exact", "normalised", "fuzzy") and len(c.boxes) >= 2
    assert all(b.x1 < pix.w / 2 for b in c.boxes)  # every box in the left column


def test_a_column_s_lines_chained_into_one_row_by_a_figure_s_label_keep_their_order():
    """Lines of a column beside a figure whose labels sit between them fall into one row (each within half a
    line height of the next); they are read top to bottom, not by a pixel's difference in their indent
    (a scan laid level, tracemonkey page 2 at 3 degrees, read `But this requires ...` before `thus tracing ...`)."""
    column = [(12, 100, 500, 120), (10, 113, 500, 133), (11, 126, 500, 146)]  # set close, as a figure's labels chain them
    labels = [(700, 104, 760, 124), (820, 118, 880, 138)]
    assert reading_order(column + labels) == [0, 1, 2, 3, 4]
    assert reading_order([(300, 100, 360, 120), (10, 101, 200, 121), (420, 99, 500, 119)]) == [1, 0, 2]  # a row of cells: left to right
