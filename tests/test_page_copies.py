"""Copies of pages kept for `gemmadoc review` (and its re-render when a run kept none): capped by area,
so a long receipt keeps a readable width, and never enlarged."""

import io

from PIL import Image

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.pageimages import KEEP_MAX_PIXELS, page_copies
from pipeline.slices import area_slices
from review.build import _render
from schemas.options import IngestOptions
from schemas.records import DocumentResult
from tests.conftest import SAMPLES, till_roll_pdf


def _kept_sizes(path, spool) -> list[tuple[int, int]]:
    doc = discover([path]).documents[0]
    units = ingest_document(doc, IngestOptions(ocr="off"), spool).units
    result = DocumentResult(doc_id=doc.doc_id, path=doc.path, name=doc.name, media_type=doc.media_type, status="ok")
    sizes = []
    for copy in page_copies(result, units):
        with Image.open(io.BytesIO(copy.jpeg)) as im:
            sizes.append(im.size)
    return sizes


def test_a_till_roll_is_kept_and_re_rendered_readable(tmp_path, spool):
    """With a 1000-px longest side a 80 x 600 mm receipt was kept 133 px wide, its digits a blur; with a
    page's area, 328 px. Kept at the area of the 4 slices the model is shown it in, it keeps the 473 px
    it was rendered at (150 dpi)."""
    pdf = till_roll_pdf(tmp_path / "till.pdf")
    (width, height), = _kept_sizes(pdf, spool)
    slices = area_slices(width, height)  # kept at the area of the slices the model is shown it in
    assert width >= 470 and slices == 4 and width * height <= KEEP_MAX_PIXELS * slices, (width, height)
    _render(str(pdf), "pdf", 1, tmp_path / "p00001.jpg")  # the review's path when the run kept no copy
    with Image.open(tmp_path / "p00001.jpg") as im:
        assert im.width >= 470 and im.width * im.height <= KEEP_MAX_PIXELS * slices * 1.01, im.size


def test_pages_are_kept_within_the_area_and_small_images_are_not_enlarged(tmp_path, spool):
    (width, height), *_ = _kept_sizes(SAMPLES / "contract_and_invoice.pdf", spool)
    assert 0.9 * KEEP_MAX_PIXELS <= width * height <= KEEP_MAX_PIXELS, (width, height)  # A4 at ~100 dpi
    Image.new("RGB", (300, 200), "white").save(tmp_path / "small.png")
    assert _kept_sizes(tmp_path / "small.png", spool) == [(300, 200)]


def test_a_large_sheet_kept_for_tiles_keeps_its_print_readable_in_the_review(tmp_path, spool):
    """An A1 sheet in 9-pt print, kept by ingest for 2 x 2 tiles, is kept for the review at the area of
    its 4 tiles, not shrunk to one page's; the review's re-render from the source picks the same grid."""
    import pymupdf

    from pipeline.slices import kept_tile_side

    sheet = pymupdf.open()
    page = sheet.new_page(width=1684, height=2384)
    for k in range(40):
        page.insert_text((40, 60 + 55 * k), f"Note {k}: beam HEB-300 fixed at grid line C4, torque 85 Nm", fontsize=9)
    sheet.save(tmp_path / "a1.pdf")
    (width, height), = _kept_sizes(tmp_path / "a1.pdf", spool)
    assert 3 * KEEP_MAX_PIXELS < width * height <= 4 * KEEP_MAX_PIXELS, (width, height)
    _render(str(tmp_path / "a1.pdf"), "pdf", 1, tmp_path / "p00001.jpg")
    with Image.open(tmp_path / "p00001.jpg") as im:
        assert 3 * KEEP_MAX_PIXELS < im.width * im.height <= 4.05 * KEEP_MAX_PIXELS, im.size
    (small,) = _kept_sizes(SAMPLES / "contract_and_invoice.pdf", spool)[:1]
    assert kept_tile_side(*small) == 1
