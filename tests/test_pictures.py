"""Pictures that a usable text layer does not read: a scan under a stamped line, a scan stored as strips,
text over a background picture (left alone)."""

import io

import pymupdf
import pytest
from PIL import Image

from pipeline.grounding import DocumentGrounder
from pipeline.ingest import ingest_document
from pipeline.ingest.pictures import join_boxes, merge_words
from schemas.options import IngestOptions
from schemas.records import ClaimedCitation, Word
from tests.conftest import SAMPLES
from tests.test_ingest import doc_for

RECEIPT = SAMPLES / "scanned_receipt.png"
SCAN = pymupdf.Rect(60, 60, 560, 660)  # where the receipt lies on an A4 page (its 625 x 750 px at 5:6)


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def stamped_scan(path, strips: int = 1) -> None:
    """An A4 page holding the receipt scan (whole, or as `strips` images stacked as some scanners store a
    page) and a Bates number stamped in the text layer below it."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    with Image.open(RECEIPT) as im:
        im = im.convert("L")
        step = im.height / strips
        for k in range(strips):
            part = im.crop((0, round(k * step), im.width, round((k + 1) * step)))
            top = SCAN.y0 + SCAN.height * k / strips
            page.insert_image(pymupdf.Rect(SCAN.x0, top, SCAN.x1, top + SCAN.height / strips), stream=png_bytes(part))
    page.insert_text((420, 800), "ACME-000123", fontsize=9)
    doc.save(path)


@pytest.mark.parametrize("strips", [1, 12])
def test_a_scan_under_a_stamped_line_is_read_by_ocr(tmp_path, spool, strips):
    """The stamp made the text layer "usable", so the scan was never OCR'd: the page's only word was the
    Bates number, and no quote from the receipt could be verified."""
    stamped_scan(tmp_path / "stamped.pdf", strips)
    doc = doc_for(tmp_path / "stamped.pdf")
    layer_only = ingest_document(doc, IngestOptions(ocr="off"), spool).units[0]
    assert layer_only.text_source == "pdf" and [w.text for w in layer_only.words] == ["ACME-000123"]

    unit = ingest_document(doc, IngestOptions(), spool).units[0]
    assert unit.text_source == "mixed"
    texts = [w.text for w in unit.words]
    assert "BAKERY" in " ".join(texts) and "11.35" in " ".join(texts)
    assert texts[-1] == "ACME-000123" and not unit.words[-1].ocr  # below the scan, so after it
    read = [w for w in unit.words if w.ocr]
    assert len(read) == len(unit.words) - 1
    assert len({w.line for w in unit.words}) == len({(w.ocr, w.line) for w in unit.words})  # line ids stay apart
    for w in read:  # page points, inside the picture
        assert SCAN.x0 - 3 <= w.x0 < w.x1 <= SCAN.x1 + 3 and SCAN.y0 - 3 <= w.y0 < w.y1 <= SCAN.y1 + 3

    cite = DocumentGrounder([unit]).ground(ClaimedCitation(doc_id=unit.doc_id, page=1, quote="11.35"))
    assert cite.match == "exact" and cite.boxes and SCAN.contains(pymupdf.Rect(cite.boxes[0].x0, cite.boxes[0].y0,
                                                                                cite.boxes[0].x1, cite.boxes[0].y1))


def test_text_over_a_background_picture_is_not_read_twice(tmp_path, spool):
    """A born-digital page drawn over a full-page picture (a letterhead, a watermark): its text layer
    reads it, and no OCR runs."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=png_bytes(Image.new("RGB", (300, 420), (236, 240, 250))))
    for k in range(36):
        page.insert_text((60, 70 + 20 * k), f"Line {k + 1}: the supplier delivers the goods on the agreed date.", fontsize=11)
    doc.save(tmp_path / "letterhead.pdf")
    unit = ingest_document(doc_for(tmp_path / "letterhead.pdf"), IngestOptions(), spool).units[0]
    assert unit.text_source == "pdf" and not any(w.ocr for w in unit.words)


def test_joined_boxes_and_merged_words():
    strips = [(10.0, 10.0 + 20 * k, 200.0, 30.0 + 20 * k) for k in range(5)]
    assert join_boxes(strips + [(400.0, 10.0, 500.0, 60.0)]) == [(10.0, 10.0, 200.0, 110.0), (400.0, 10.0, 500.0, 60.0)]

    layer = [Word(text="Report", x0=10, y0=10, x1=60, y1=20, line=0),
             Word(text="Total", x0=10, y0=300, x1=50, y1=310, line=1)]
    ocr = [Word(text="Revenue", x0=20, y0=100, x1=80, y1=110, line=0, ocr=True),
           Word(text="Total", x0=11, y0=300, x1=50, y1=310, line=1, ocr=True)]  # the layer's own word again
    merged = merge_words(layer, [((0.0, 90.0, 200.0, 320.0), ocr)])
    assert [(w.text, w.ocr, w.line) for w in merged] == [("Report", False, 0), ("Revenue", True, 2), ("Total", False, 1)]
