"""Lines are shown to OCR's recogniser in soft contrast (pipeline/ingest/contrast.py): RapidOCR keeps the
spaces of print set tight there that it drops on crisp print."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pymupdf

import pipeline.ingest.contrast as contrast
import pipeline.ingest.ocr as ocr
from pipeline.ingest.contrast import INK_CONTRAST, SoftRecogniser, softened

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from ocr_input import run_together  # noqa: E402 - the count bench/soft_contrast.py reports

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "docs"


def page(ground: int, ink: int, shape=(200, 300)) -> np.ndarray:
    """A grey page of `ground` with lines of `ink` (a tenth of its pixels)."""
    gray = np.full(shape, ground, np.uint8)
    gray[::10, 20:280] = ink
    return gray


def test_crisp_print_is_softened_about_its_paper():
    out = softened(page(255, 0))
    assert out.dtype == np.uint8 and out.shape == (200, 300)
    assert out[1, 1] == 255  # the paper stays white
    assert abs(int(out[0, 50]) - (255 - INK_CONTRAST)) <= 1  # the print comes INK_CONTRAST levels below it


def test_a_dark_screen_keeps_its_dark_ground_and_its_print_comes_down_to_it():
    out = softened(page(20, 230))
    assert out[1, 1] == 20
    assert abs(int(out[0, 50]) - (20 + INK_CONTRAST)) <= 1


def test_print_soft_already_is_read_as_it_is():
    faint = page(240, 190)
    assert softened(faint) is faint
    blank = np.full((50, 50, 3), 255, np.uint8)
    assert softened(blank) is blank


def test_a_colour_picture_keeps_each_channel_s_ground():
    rgb = np.stack([page(250, 10), page(230, 10), page(180, 0)], axis=-1)  # yellowish paper, black print
    out = softened(rgb)
    assert tuple(out[1, 1]) == (250, 230, 180)
    spread = int(out[1, 1].min()) - int(out[0, 50].min())  # as OCR sees ink: darkest channel against the paper's
    assert abs(spread - INK_CONTRAST) <= 2


def test_a_speck_of_noise_does_not_set_the_contrast():
    gray = page(255, 200)  # soft print
    gray[100, 100] = 0  # one black speck
    assert softened(gray) is gray


def test_the_recogniser_is_shown_each_crop_softened_and_called_as_rapidocr_calls_it():
    seen = []

    def recognise(crops, return_word_box=False):
        seen.append((crops, return_word_box))
        return [("x", 1.0)] * len(crops), 0.0

    soft = SoftRecogniser(recognise)
    line, faint = page(255, 0, (24, 200)), page(240, 200, (24, 200))
    assert soft([line, faint], True) == ([("x", 1.0)] * 2, 0.0)
    (crops, boxes), = seen
    assert boxes is True and crops[1] is faint
    assert int(crops[0].min()) >= 255 - INK_CONTRAST - 1
    soft(line)  # one crop, not in a list
    assert len(seen[-1][0]) == 1 and seen[-1][1] is False
    assert isinstance(ocr.engine().text_rec, SoftRecogniser)


def test_tight_print_keeps_its_word_spaces(monkeypatch):
    """TraceMonkey's justified 10-pt Times at 150 dpi, the top of its first column: read crisp, RapidOCR runs
    `typingwill`, `ofthe` and `Hence,recording` together (and `wordgaps` cannot part them: their gaps are no
    wider than its letters' own)."""
    page_ = pymupdf.open(CORPUS / "pdfjs_tracemonkey.pdf")[1]
    clip = pymupdf.Rect(0, 0, page_.rect.width / 2, page_.rect.height / 3)
    pix = page_.get_pixmap(dpi=150, clip=clip, alpha=False)
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    layer = [w[4] for w in page_.get_text("words", clip=clip)]
    soft = [w.text for w in ocr.ocr_page(pixels).words]
    monkeypatch.setattr(contrast, "softened", lambda image: image)
    crisp = [w.text for w in ocr.ocr_page(pixels).words]
    assert run_together(crisp, layer) >= 2, f"RapidOCR now keeps these spaces on crisp print: find a page it runs together ({crisp})"
    assert run_together(soft, layer) == 0, soft
    assert {"typing", "will", "of", "the"} <= set(soft)
