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
CORPUS = SAMPLES.parents[2] / "shared" / "corpus" / "docs"
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


def letter_scan() -> tuple[bytes, list[str]]:
    """An A4 letter in 10-pt print scanned grey at 300 dpi (a PNG), and its words."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    lines = [f"Claim {7300 + k}: pump station {k % 9} serviced by Lindqvist Marine, invoice {k * 37 + 1100} paid" for k in range(24)]
    for k, line in enumerate(lines):
        page.insert_text((60, 80 + 16 * k), line, fontsize=10)
    return page.get_pixmap(dpi=300, colorspace=pymupdf.csGRAY).tobytes("png"), [w for line in lines for w in line.split()]


def test_a_scan_pasted_small_is_read_again_at_its_own_pixels(tmp_path, spool, monkeypatch):
    """A 300-dpi scan of a letter pasted 150 pt wide into a report (its 10-pt print 2.5 pt there): read
    at --dpi its letters come out under 3 px, and OCR kept under 0.85 of its words read once so (0.3.17;
    bench/picture_print.py measures such pictures both ways); the picture is read
    again from its part of the page rendered finer, within its own pixels, and keeps 0.95 of them, with
    boxes in the page's points (the page's crop box moved, so they are not the media box's). The same
    scan pasted lying sideways, 250 pt long, is read again too, and keeps its words (read finer without
    looking for turns, the detector found none of its lines). (Pasted 424 pt long, it is no longer read
    again: read lying across since 0.3.22, not as tall lines, it reads 0.986 surely, against 0.958.)"""
    from pipeline.ingest.render import RenderGuard

    png, words = letter_scan()
    doc = pymupdf.open()
    page = doc.new_page(width=615, height=862)
    page.set_cropbox(pymupdf.Rect(20, 20, 615, 862))
    page.insert_textbox(pymupdf.Rect(80, 60, 560, 140), "Expense report 114. The letter below is the evidence for the claim. " * 3, fontsize=10)
    upright, sideways = pymupdf.Rect(80, 160, 230, 160 + 150 * 842 / 595), pymupdf.Rect(100, 420, 350, 420 + 250 * 595 / 842)
    page.insert_image(upright, stream=png)
    page.insert_image(sideways, stream=png, rotate=90)
    doc.save(tmp_path / "report.pdf")

    def inside(read, pasted):  # in the page's points: the crop box's top left is (0, 0)
        box = pasted - (20, 20, 20, 20)
        return [w for w in read if box.x0 - 3 <= w.x0 < w.x1 <= box.x1 + 3 and box.y0 - 3 <= w.y0 < w.y1 <= box.y1 + 3]

    zooms = []
    clip_copy = RenderGuard.clip_copy
    monkeypatch.setattr(RenderGuard, "clip_copy", lambda self, *a, **k: zooms.append(a[3]) or clip_copy(self, *a, **k))
    unit = ingest_document(doc_for(tmp_path / "report.pdf"), IngestOptions(), spool).units[0]
    read = [w for w in unit.words if w.ocr]
    assert unit.text_source == "mixed" and len(zooms) == 2 and all(150 / 72 * 1.1 < z <= 2480 / 150 for z in zooms)
    assert _found(words, inside(read, upright)) >= 0.95 and _found(words, inside(read, sideways)) >= 0.95
    assert len(inside(read, upright)) + len(inside(read, sideways)) == len(read)


def test_print_too_small_to_read_is_read_again_finer_even_where_taken_for_an_unread_script(tmp_path, spool):
    """TraceMonkey's two-column page scanned at 300 dpi and pasted 150 pt wide (bench/picture_print.py's
    first workload): read at --dpi, its 2-pt print comes out in fragments unsurely enough to be taken for a
    script OCR does not read, and so left without words. Since 0.3.20 that left nothing to measure its
    print by, and the picture was never read again finer (0 of its words); its fragments now measure it
    (`Reading.print_words`), and it is read again."""
    import numpy as np

    from bench import pdf_print
    from bench.picture_print import page_scan, report
    from pipeline.ingest.ocr import ocr_page
    from pipeline.ingest.result import reread_scale

    png, size, truth = page_scan(CORPUS / "pdfjs_tracemonkey.pdf", 1)
    rect = report(png, size, 150, tmp_path / "report.pdf")
    clip = pymupdf.Rect(rect) + (-2, -2, 2, 2)
    pix = pymupdf.open(tmp_path / "report.pdf")[0].get_pixmap(dpi=150, clip=clip, alpha=False)
    first = ocr_page(np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3), scale=72 / 150)
    assert first.unread and not first.words and first.measured  # taken for an unread script
    assert reread_scale(first.print_words, clip.width, clip.height, 150 / 72, 300 / 72 * 2, first.confidence)
    unit = ingest_document(doc_for(tmp_path / "report.pdf"), IngestOptions(), spool).units[0]
    assert pdf_print.recall(truth, [w for w in unit.words if w.ocr])[0] > 0.9


def _found(words: list[str], read) -> float:
    joined = " ".join(w.text for w in read)
    return sum(1 for w in words if w in joined) / len(words)


def test_a_picture_is_read_as_finely_as_its_own_pixels_allow():
    """Each unread picture's pixels per point: the finest image drawn in it."""
    from pipeline.ingest.pictures import pixels_per_point

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(pymupdf.Rect(50, 50, 350, 250), stream=png_bytes(Image.new("L", (1200, 800), 200)))
    page.insert_image(pymupdf.Rect(50, 400, 350, 600), stream=png_bytes(Image.new("L", (300, 200), 200)))
    page.insert_image(pymupdf.Rect(200, 500, 300, 600), stream=png_bytes(Image.new("L", (600, 600), 90)))
    assert pixels_per_point(page, [(50, 50, 350, 250), (50, 400, 350, 600), (400, 700, 500, 800)]) == pytest.approx([4.0, 6.0, 0.0], rel=1e-3)
