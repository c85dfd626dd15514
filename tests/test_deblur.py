"""Blurred pictures are read sharpened (pipeline/ingest/deblur.py): blur is measured on the lines found, as
the width of their edges, and a picture out of focus is read again sharpened from detection on."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pymupdf

import pipeline.ingest.ocr as ocr
from pipeline.ingest.deblur import BLURRED, edge_width, picture_blur, sharpened

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from blurred_print import blurred  # noqa: E402 - the blurs bench/blurred_print.py reads
from text_recall import recall, words  # noqa: E402 - the count bench/blurred_print.py reports

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "docs"


def paragraph() -> tuple[np.ndarray, list[str]]:
    """The OTSL paper's page (docling_2305.03393v1-pg9): its first two paragraphs at 150 dpi, and their
    text layer's words."""
    page = pymupdf.open(CORPUS / "docling_2305.03393v1-pg9.pdf")[0]
    clip = pymupdf.Rect(0, 0, page.rect.width, page.rect.height * 0.42)
    pix = page.get_pixmap(dpi=150, clip=clip, alpha=False)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3), [w[4] for w in page.get_text("words", clip=clip)]


def line(blur: float = 0.0) -> np.ndarray:
    """One line of 10-pt print at 150 dpi, under a Gaussian blur of sigma `blur` pixels."""
    page = pymupdf.open().new_page(width=300, height=30)
    page.insert_text((5, 20), "Invoice number 1542 dated 12 March", fontsize=10)
    pix = page.get_pixmap(dpi=150, alpha=False)
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    return np.ascontiguousarray(cv2.GaussianBlur(pixels, (0, 0), blur)) if blur else pixels


def test_edges_widen_with_blur_and_sharp_print_steps_in_about_a_pixel():
    sharp, soft, softer = (edge_width(line(b)) for b in (0.0, 1.0, 2.0))
    assert sharp < 1.4 < BLURRED < soft < softer  # sigma 1: about 2.1
    assert 3.0 < softer < 5.0  # about twice the blur's sigma
    assert edge_width(np.full((20, 80, 3), 255, np.uint8)) is None  # no print: nothing to measure
    assert edge_width(line()[:1]) is None


def test_faded_print_is_not_taken_for_blurred():
    faded = (255 - (255 - line().astype(np.float32)) * 0.3).astype(np.uint8)  # 77 grey levels, edges as sharp
    assert edge_width(faded) < 1.4


def test_a_picture_s_blur_is_its_lines_median():
    blurred = line(2.0)
    h, w = blurred.shape[:2]
    image = np.full((3 * h, w, 3), 255, np.uint8)
    image[:h] = image[h:2 * h] = blurred
    boxes = [(0, 0, w, h), (0, h, w, 2 * h), (0, 2 * h, w, 3 * h)]  # the last is blank: not counted
    assert picture_blur(image, boxes) == edge_width(blurred)
    assert picture_blur(image, []) == 0.0
    restored = sharpened(line(1.5), edge_width(line(1.5)))
    assert restored.shape == line().shape and edge_width(restored) < edge_width(line(1.5))


def test_a_blurred_page_reads_more_of_its_words_sharpened(monkeypatch):
    """Under a blur of sigma 1.5 px, RapidOCR runs the paper's words together (`thePubTabNet`,
    `performHPO,since`) and splits others (`ac hieves`); read sharpened, more of its words are found."""
    pixels, layer = paragraph()
    shown = blurred(pixels, "blur15")
    read = [w.text for w in ocr.ocr_page(shown).words]
    monkeypatch.setattr(ocr, "BLURRED", float("inf"))
    as_given = [w.text for w in ocr.ocr_page(shown).words]
    truth = words(" ".join(layer))
    assert recall(truth, words(" ".join(as_given))) < 0.9, "RapidOCR now reads this blur well: blur it more"
    assert recall(truth, words(" ".join(read))) > recall(truth, words(" ".join(as_given))) + 0.03
    assert {"the", "PubTabNet", "perform", "achieves"} <= set(read)


def test_a_sharp_page_is_read_as_given(monkeypatch):
    pixels, _ = paragraph()

    def refuse(image, blur):
        raise AssertionError(f"a sharp page was sharpened (edge width {blur:.2f})")

    monkeypatch.setattr(ocr, "sharpened", refuse)
    assert len(ocr.ocr_page(pixels).words) > 100


def test_a_defocused_page_that_reads_worse_sharpened_is_read_as_given(monkeypatch):
    """A lens's defocus (a disk of radius 2 px) reads worse under unsharp masking, and less confidently:
    the reading as given is kept."""
    pixels, _ = paragraph()
    shown = blurred(pixels, "defocus")
    sharpenings = []
    monkeypatch.setattr(ocr, "sharpened", lambda image, blur: sharpenings.append(blur) or sharpened(image, blur))
    read = [w.text for w in ocr.ocr_page(shown).words]
    monkeypatch.setattr(ocr, "BLURRED", float("inf"))
    assert sharpenings and sharpenings[0] > BLURRED  # it was measured blurred and read sharpened
    assert read == [w.text for w in ocr.ocr_page(shown).words]
