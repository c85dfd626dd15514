"""PDF pages in fine print read by OCR again where the source has finer pixels: a scan at its own
resolution, drawn print at the zoom its letters ask for; never for print read large enough, nor finer
than a scan's pixels."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.ingest.ocr import ocr_page
from pipeline.ingest.render import RenderGuard, source_zoom
from pipeline.ingest.result import OCR_PITCH_GOAL_PX, OCR_SURE
from pipeline.legibility import letter_pitch
from schemas.options import IngestOptions

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "docs"
PAGE = (150.0, 80.0)


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _drawn(fontsize: float, font: str = "tiro", n: int = 200) -> pymupdf.Document:
    """A small page of a corpus paper's first `n` words (under 20 letters: the authors' mail addresses are
    wider than the page) in PDF base font `font` at `fontsize`."""
    words = " ".join([w[4] for w in pymupdf.open(CORPUS / "pdfjs_tracemonkey.pdf")[0].get_text("words") if len(w[4]) < 20][:n])
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE[0], height=PAGE[1])
    assert page.insert_textbox(pymupdf.Rect(6, 6, PAGE[0] - 6, PAGE[1] - 6), words, fontsize=fontsize, fontname=font) >= 0
    return doc


def _scanned(drawn: pymupdf.Document, dpi: int, path: Path) -> list[str]:
    """`drawn`'s page rendered grey at `dpi` into an image-only PDF at `path`; its truth words."""
    page = drawn[0]
    scan = pymupdf.open()
    scan.new_page(width=PAGE[0], height=PAGE[1]).insert_image(page.rect, pixmap=page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY))
    scan.save(path)
    return [w[4] for w in page.get_text("words") if len(_key(w[4])) >= 3]


def _recall(truth: list[str], words) -> float:
    joined = "".join(_key(w.text) for w in words)
    return sum(_key(t) in joined for t in truth) / len(truth)


def _finer_renders(monkeypatch) -> list[float]:
    """The zooms ingest asks the page worker to render a page again at for OCR."""
    zooms: list[float] = []
    original = RenderGuard.ocr_copy

    def counted(self, path, index, zoom, *args, **kwargs):
        zooms.append(zoom)
        return original(self, path, index, zoom, *args, **kwargs)

    monkeypatch.setattr(RenderGuard, "ocr_copy", counted)
    return zooms


def test_a_scan_in_fine_print_is_read_again_at_the_scans_resolution(tmp_path, monkeypatch):
    """3-pt print scanned at 300 dpi: read at 150 dpi, its letters are 2.4 px wide and OCR keeps about half
    its words; read again at the scan's 300 dpi, nearly all, in page units."""
    truth = _scanned(_drawn(3.0, n=120), 300, tmp_path / "scan.pdf")
    zooms = _finer_renders(monkeypatch)
    unit = ingest_document(discover([tmp_path / "scan.pdf"]).documents[0], IngestOptions(), tmp_path / "spool").units[0]
    assert unit.text_source == "ocr" and _recall(truth, unit.words) >= 0.95
    assert len(zooms) == 1 and abs(zooms[0] - 300 / 72) < 0.01  # the scan's pixels, not the 8-px goal (6.8)
    assert max(w.x1 for w in unit.words) <= PAGE[0] and max(w.y1 for w in unit.words) <= PAGE[1]
    assert not list((tmp_path / "spool").rglob("*.png"))  # OCR's copies are gone
    pix = pymupdf.open(tmp_path / "scan.pdf")[0].get_pixmap(dpi=150)
    first = ocr_page(np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3), scale=72 / 150).words
    assert _recall(truth, first) < 0.8  # what the one read at --dpi kept


def test_drawn_fine_print_is_read_again_at_the_zoom_its_letters_ask_for(tmp_path, monkeypatch):
    """Drawn print renders sharp at any zoom: a page in 3.5-pt print whose text layer is miscoded (read by
    OCR instead) is read again where its letters come out OCR_PITCH_GOAL_PX wide. Small print OCR reads
    surely (4.5-pt Helvetica, its letters 4 px wide at 150 dpi) is read once."""
    from tests.hostile_inputs import miscoded_pdf

    _drawn(3.5, n=100).save(tmp_path / "drawn.pdf")
    assert miscoded_pdf(tmp_path / "drawn.pdf", tmp_path / "miscoded.pdf") == 1
    zooms = _finer_renders(monkeypatch)
    result = ingest_document(discover([tmp_path / "miscoded.pdf"]).documents[0], IngestOptions(), tmp_path / "spool")
    unit = result.units[0]
    assert unit.text_source == "ocr" and [e.kind for e in result.errors] == ["miscoded_text"]
    assert len(zooms) == 2 and abs(zooms[0] - 150 / 72) < 1e-9  # the copy at --dpi, then the finer one
    assert zooms[1] > 300 / 72 and abs(zooms[1] * letter_pitch(unit.words) - OCR_PITCH_GOAL_PX) < 1.5
    truth = [w[4] for w in pymupdf.open(tmp_path / "drawn.pdf")[0].get_text("words") if len(_key(w[4])) >= 3]
    assert _recall(truth, unit.words) >= 0.95
    assert not list((tmp_path / "spool").rglob("*.png"))
    truth = _scanned(_drawn(4.5, "helv", 75), 300, tmp_path / "sure.pdf")
    unit = ingest_document(discover([tmp_path / "sure.pdf"]).documents[0], IngestOptions(), tmp_path / "spool").units[0]
    assert len(zooms) == 2 and letter_pitch(unit.words) * 150 / 72 < 6 and _recall(truth, unit.words) >= 0.95


def _page_with_images(tmp_path: Path, boxes: list[tuple], pixels: tuple[int, int], rotate: int = 0):
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, *pixels), False)
    pix.clear_with(200)
    for box in boxes:
        page.insert_image(pymupdf.Rect(box), pixmap=pix, keep_proportion=False)
    page.set_rotation(rotate)
    doc.save(tmp_path / "images.pdf")
    return pymupdf.open(tmp_path / "images.pdf")[0]


@pytest.mark.parametrize("rotate", [0, 90])
def test_source_zoom_is_the_scans_pixels_per_point(tmp_path, rotate):
    """A page scanned whole, or in strips, is drawn from its images' pixels (turned pages too); a page whose
    pictures cover little of it is drawn print."""
    whole = _page_with_images(tmp_path, [(0, 0, 595, 842)], (2480, 3508), rotate)
    assert abs(source_zoom(whole) - 300 / 72) < 0.01
    strips = _page_with_images(tmp_path, [(0, k * 210.5, 595, (k + 1) * 210.5) for k in range(4)], (1240, 439), rotate)
    assert abs(source_zoom(strips) - 150 / 72) < 0.01
    logo = _page_with_images(tmp_path, [(40, 40, 240, 140)], (1000, 500), rotate)
    assert source_zoom(logo) == 0.0
    assert source_zoom(pymupdf.open().new_page()) == 0.0


def test_reread_scale_aims_at_the_goal_within_the_source():
    """Letters read under 6 px wide are read again where they come out 8 px wide, within the source's
    pixels and OCR's area cap; a picture's own pixels bound it at full size; a sure reading, never."""
    from pipeline.ingest.result import reread_scale
    from schemas.records import Word

    words = [Word(text="abcdefgh", x0=10.0 * k, y0=0, x1=10.0 * k + 8 * 1.2, y1=2) for k in range(8)]  # 1.2 pt a letter
    assert abs(reread_scale(words, 595, 842, 150 / 72, math.inf) - OCR_PITCH_GOAL_PX / 1.2) < 1e-9
    assert reread_scale(words, 595, 842, 150 / 72, 300 / 72) == 300 / 72
    assert reread_scale(words, 595, 842, 150 / 72, 160 / 72) is None  # not 1.1 times finer
    assert reread_scale(words, 595, 842, 6 / 1.2) is None  # read 6 px wide
    assert reread_scale(words, 4000, 3000, 0.5) == 1.0  # a picture: its full size at most
    assert reread_scale(words, 4000, 3000, 0.5, confidence=0.96) == 1.0
    assert reread_scale(words, 4000, 3000, 0.5, confidence=OCR_SURE) is None  # read surely: left alone
    assert reread_scale(words, 595, 842, 150 / 72, math.inf, 0.99) is None


def test_a_finer_reading_that_reads_less_never_replaces_the_first():
    """`finer_or_first`: the finer reading, unless it reads under half the characters the first read
    confidently (a picture lying sideways whose lines the detector found at one size and not at the
    other)."""
    from pipeline.ingest.ocr import Reading, finer_or_first
    from schemas.records import Word

    def reading(texts: list[str], confidence: float) -> Reading:
        return Reading([Word(text=t, x0=0, y0=0, x1=10, y1=10) for t in texts], confidence=confidence)

    first = reading(["Claim", "7300:", "pump", "statlon"], 0.93)
    assert finer_or_first(first, Reading([])) is first
    assert finer_or_first(first, reading(["Claim"], 0.99)) is first  # 5 of 19 characters
    finer = reading(["Claim", "7300:", "pump", "station"], 0.97)
    assert finer_or_first(first, finer) is finer
    fewer = reading(["Claim", "7300:", "station"], 0.9)  # a little less than the first: still the finer one
    assert finer_or_first(first, fewer) is fewer
