"""Text layers drawn out of reading order (pipeline/ingest/textlayer.py: in_reading_order): a report
generator that draws an address from its last line up, each line item from its last line up, labels
before their values. Each run of lines drawn near one another is put in reading order; runs and layers
drawn in reading order keep the order they were drawn in."""

import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.grounding import DocumentGrounder
from pipeline.ingest import ingest_document, textlayer
from schemas.options import IngestOptions
from schemas.records import ClaimedCitation, ImageRef, PageUnit
from tests.conftest import CORPUS, needs_corpus


def grounded(units, page: int, quote: str) -> str:
    return DocumentGrounder(units).ground(ClaimedCitation(doc_id=units[0].doc_id, page=page, quote=quote)).match


@needs_corpus()
def test_an_invoice_drawn_bottom_up_is_read_top_down_and_its_quotes_are_found(tmp_path):
    """QualityHosting's invoice draws its customer's address from the last line up, its header's labels
    apart from their values and each line item from its last line up: a quote of the address, of a label
    with its value or of a line item was found nowhere. Through the page worker, as a run reads it."""
    doc = discover([CORPUS / "docs" / "invoice2data_QualityHosting.pdf"]).documents[0]
    units = ingest_document(doc, IngestOptions(), tmp_path).units
    text = " ".join(w.text for w in units[0].words)
    assert "iViveLabs Ltd. 93B Sai Yu Chung Yuen Long, N.T. Hong Kong" in text
    for quote in ("iViveLabs Ltd. 93B Sai Yu Chung Yuen Long, N.T. Hong Kong", "Rechnungsnr. 30064443",
                  "Rechnungsdatum 7. Mai 2014",
                  "Small Business QualityExchange 2010 5,39 5,39 Grundgebühr pro Einheit Dienst: OUDJQ_jauernik"):
        assert grounded(units, 1, quote) == "exact", quote
    # the footer's three blocks are drawn one after the other, each top down: kept so
    assert "eMail: info@qualityhosting.de Vorstand: Christian Heit (Vorsitz), Markus Oestreicher" in text


def report_page(path):
    """A generated report: an address block and line items drawn from their last line up, a header under
    the address whose labels are drawn before their values, and a two-column body drawn in order. (An
    address drawn beside a block of labels and values, the two drawn near one another, reads row by row
    across both, as OCR reads such a scan: `layout.reading_order`.)"""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    draw = lambda x, y, text: page.insert_text((x, y), text, fontsize=9)  # noqa: E731
    for y, line in reversed(list(enumerate(["Harbour Freight Supplies Ltd", "12 Quay Street, Unit 4", "Springfield SP1 4QT",
                                            "United Kingdom"]))):
        draw(60, 100 + 12 * y, line)
    for x, texts in ((60, ("Invoice number:", "Invoice date:", "Customer:")), (150, ("INV-2026-0417", "12 March 2026", "C-88213"))):
        for k, text in enumerate(texts):
            draw(x, 180 + 12 * k, text)
    for item in range(4):
        top = 250 + 40 * item
        draw(60, top + 24, f"Period 01.0{item + 1}.26-31.0{item + 1}.26")
        draw(60, top + 12, f"Service contract CON-{4410 + item}")
        draw(60, top, f"{item + 1}")
        draw(80, top, f"Industrial fastener kit size {item + 4}")
        draw(480, top, f"{12.5 * (item + 1):.2f}")
    left = [f"Left column line {k} states the terms of delivery part {k}." for k in range(8)]
    right = [f"Right column line {k} lists the warranty clause {k}." for k in range(8)]
    for x, lines in ((60, left), (320, right)):
        for k, line in enumerate(lines):
            draw(x, 440 + 12 * k, line)
    doc.save(path)


def test_a_report_drawn_out_of_order_reads_in_order_where_drawn_apart_and_as_drawn_elsewhere(tmp_path):
    path = tmp_path / "report.pdf"
    report_page(path)
    page = pymupdf.open(path)[0]
    words = textlayer.pdf_words(page)
    unit = PageUnit(doc_id="d", page=1, width=595, height=842, image=ImageRef(path="x"), image_width=595,
                    image_height=842, words=words, text_source="pdf")
    for quote in ("Harbour Freight Supplies Ltd 12 Quay Street, Unit 4 Springfield SP1 4QT United Kingdom",
                  "Invoice number: INV-2026-0417", "Invoice date: 12 March 2026",
                  "Industrial fastener kit size 5 25.00 Service contract CON-4411 Period 01.02.26-31.02.26",
                  "Left column line 7 states the terms of delivery part 7. Right column line 0"):
        assert grounded([unit], 1, quote) == "exact", quote
    text = " ".join(w.text for w in words)
    assert text.index("Left column line 7") < text.index("Right column line 0")  # columns as drawn, one after the other
    assert [w.line for w in words] == sorted(w.line for w in words)  # lines numbered in the new order

    kept = textlayer.in_reading_order
    textlayer.in_reading_order = lambda ws: ws
    try:
        as_drawn = textlayer.pdf_words(page)
    finally:
        textlayer.in_reading_order = kept
    unit_drawn = unit.model_copy(update={"words": as_drawn})
    assert grounded([unit_drawn], 1, "Harbour Freight Supplies Ltd 12 Quay Street, Unit 4") == "unverified"  # what it was


@needs_corpus()
@pytest.mark.parametrize("name", ["pdfjs_tracemonkey.pdf", "sample-files_latex-multicolumn.pdf", "docling_right_to_left_01.pdf",
                                  "pdfjs_vertical.pdf", "pdfplumber_nics-background-checks-2015-11-rotated.pdf",
                                  "docling_redp5110_sampled.pdf", "invoice2data_coolblue1.pdf", "mupdf_chinese-tables.pdf"])
def test_layers_drawn_in_reading_order_keep_it_and_runs_that_read_down_stay_whole(name):
    """Columns, right-to-left text, vertical CJK, tables, a rotated page: drawn in reading order, kept as
    drawn. TraceMonkey's pages 10 and 13 draw their charts' labels from the bottom up and are put in order,
    and every step of their text that read down a column is still a step."""
    kept = textlayer.in_reading_order
    for index, page in enumerate(pymupdf.open(CORPUS / "docs" / name)):
        textlayer.in_reading_order = lambda ws: ws
        try:
            drawn = textlayer.pdf_words(page)
        finally:
            textlayer.in_reading_order = kept
        now = textlayer.pdf_words(page)
        if name == "pdfjs_tracemonkey.pdf" and index + 1 in (10, 13):
            assert now != drawn
            line_of = {(w.text, w.x0, w.y0): w.line for w in now}  # a drawn word's line now
            lines = line_boxes(drawn)
            steps = [(a, b) for a, b in zip(lines, lines[1:]) if b[2] > a[2] and min(a[3], b[3]) > max(a[1], b[1])]
            still = sum(line_of[b[0]] == line_of[a[0]] + 1 for a, b in steps)
            assert len(steps) > 90 and still >= 0.97 * len(steps)
        else:
            assert now == drawn, f"{name} page {index + 1}"


def line_boxes(words) -> list[tuple]:
    """(first word's key, x0, y0, x1) of each line of `words`, in their order."""
    lines: dict[int, list] = {}
    for w in words:
        b = lines.setdefault(w.line, [(w.text, w.x0, w.y0), w.x0, w.y0, w.x1])
        b[1], b[2], b[3] = min(b[1], w.x0), min(b[2], w.y0), max(b[3], w.x1)
    return [tuple(b) for b in lines.values()]
