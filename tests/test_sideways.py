"""Lines set sideways on an upright scan are each read upright (pipeline/ingest/sideways.py): text running up
the page (which the recogniser read upside down) is read again on the page turned clockwise, text running
down gets word boxes along its lines, and each block of them is read in its place among the page's lines."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np
import pymupdf

import pipeline.ingest.ocr as ocr
from pipeline.ingest.layout import quad_bounds
from pipeline.ingest.sideways import blocks, frame_size, is_tall, length, merged, split_sideways, turn_quad, unread_characters
from schemas.records import Word

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sideways_lines import composed  # noqa: E402 - the scans bench/sideways_lines.py reads
from bench.skewed_scans import scores  # noqa: E402 - and its measures

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "docs"
DPI = 150


def scan(tmp_path: Path, way: str, name: str = "docling_2305.03393v1-pg9.pdf", index: int = 0) -> tuple[np.ndarray, dict[str, list]]:
    """A corpus page (the OTSL paper's) as bench/sideways_lines.py composes it (its top upright, its next
    part turned `way`), at DPI, and each part's words with their boxes in its pixels."""
    truth = composed(CORPUS / name, index, way, tmp_path / f"{way}.pdf")
    pix = pymupdf.open(tmp_path / f"{way}.pdf")[0].get_pixmap(dpi=DPI, alpha=False)
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    z = DPI / 72
    return pixels, {part: [(t, tuple(v * z for v in box)) for t, box in words] for part, words in truth.items()}


def _as_before(monkeypatch) -> None:
    monkeypatch.setattr(ocr, "split_sideways", lambda lines: (lines, []))  # 0.3.21: tall lines among the rest
    monkeypatch.setattr(ocr, "_read_lying_across",  # nor a page of them read again lying across
                        lambda read, k, lines, confidence: (k, lines, confidence, (k, [])))
    monkeypatch.setattr(ocr, "_sideways_turn", lambda *args: None)  # nor a page read again turned


def test_text_running_up_the_page_is_read_upright_in_its_place(tmp_path, monkeypatch):
    pixels, truth = scan(tmp_path, "up")
    reading = ocr.ocr_page(pixels, quarter_turns=True)
    side = scores(truth["sideways"], reading.words)
    assert side["words"] > 0.95 and side["order"] > 0.8
    assert side["box_iou"] > 0.6  # boxes along the lines, where the words are
    assert scores(truth["upright"], reading.words)["words"] > 0.95
    assert reading.turn == 0  # the page is shown as it lies
    texts = [w.text for w in reading.words]  # the upright part is read before the block below it
    assert texts.index("Optimized") < texts.index("inference")
    lines = [w.line for w in reading.words]
    assert lines == sorted(lines)
    _as_before(monkeypatch)  # read among the page's lines, turned the wrong way by the recogniser
    assert scores(truth["sideways"], ocr.ocr_page(pixels, quarter_turns=True).words)["words"] < 0.5


def test_a_paragraph_running_up_the_page_the_detector_misses_is_found_in_its_unread_ink(tmp_path, monkeypatch):
    pixels, truth = scan(tmp_path, "up", "mupdf_test_3842_nist_sp800-223.pdf", 4)  # NIST SP 800-223, page 5
    lines, _ = ocr._read(pixels)
    assert sum(length(q) for q, _, _, _ in lines if is_tall(q)) < ocr.SIDEWAYS_LENGTH  # no tall lines to go by
    boxes = [quad_bounds(q) for q, _, _, _ in lines]
    height = statistics.median(y1 - y0 for _, y0, _, y1 in boxes)
    assert unread_characters(pixels, boxes, height) >= ocr.UNREAD_CHARS
    side = scores(truth["sideways"], ocr.ocr_page(pixels, quarter_turns=True).words)
    assert side["words"] > 0.95 and side["box_iou"] > 0.6
    assert scores(truth["sideways"], ocr.ocr_words(pixels))["words"] < 0.5  # a picture or a frame: not looked for
    _as_before(monkeypatch)
    assert scores(truth["sideways"], ocr.ocr_page(pixels, quarter_turns=True).words)["words"] < 0.5


def test_text_running_down_the_page_gets_boxes_along_its_lines(tmp_path, monkeypatch):
    pixels, truth = scan(tmp_path, "down")
    reading = ocr.ocr_page(pixels, quarter_turns=True)
    side = scores(truth["sideways"], reading.words)
    assert side["words"] > 0.95 and side["box_iou"] > 0.75  # read again lying across: spaces and boxes
    assert scores(truth["upright"], reading.words)["words"] > 0.95
    assert reading.turn == 1  # most of the page lies sideways: shown to the model turned
    lines = [w.line for w in reading.words]
    assert lines == sorted(lines)
    _as_before(monkeypatch)  # read as tall lines, words run together and boxes shared out by characters
    assert scores(truth["sideways"], ocr.ocr_page(pixels, quarter_turns=True).words)["words"] < 0.9


def test_an_upright_scan_is_read_as_before(tmp_path, monkeypatch):
    pixels, _ = scan(tmp_path, "control")
    lines, _ = ocr._read(pixels)
    boxes = [quad_bounds(q) for q, _, _, _ in lines]
    assert unread_characters(pixels, boxes, statistics.median(y1 - y0 for _, y0, _, y1 in boxes)) < ocr.UNREAD_CHARS
    words = ocr.ocr_page(pixels, quarter_turns=True).words
    _as_before(monkeypatch)
    assert ocr.ocr_page(pixels, quarter_turns=True).words == words


def test_quads_turn_as_numpy_turns_the_picture():
    picture = np.zeros((30, 50), np.uint8)
    picture[5, 40] = 1  # the pixel at x=40, y=5
    quad = [[40, 5], [41, 5], [41, 6], [40, 6]]
    for quarters in range(4):
        turned = np.rot90(picture, quarters)
        assert turned.shape == frame_size(picture.shape, quarters)
        (x, y), = [(int(c), int(r)) for r, c in zip(*np.nonzero(turned))]
        moved = turn_quad(quad, picture.shape, quarters)
        assert (min(p[0] for p in moved), min(p[1] for p in moved)) == (x, y)
    assert turn_quad(quad, picture.shape, 4) == quad


def test_tall_lines_are_split_off_and_gathered_into_blocks():
    across = ([[0, 0], [300, 0], [300, 20], [0, 20]], "a line across", 0.99, None)
    tall = [([[x, 100], [x + 20, 100], [x + 20, 400], [x, 400]], "a tall line", 0.9, None) for x in (10, 35, 60, 500)]
    assert split_sideways([across] + tall) == ([across], tall)
    boxes = [(x, 100, x + 20, 400) for x in (10, 35, 60, 500)]
    assert sorted(map(sorted, blocks(boxes))) == [[0, 1, 2], [3]]  # neighbours, and one far off


def _word(text: str, line: int, box: tuple[float, float, float, float]) -> Word:
    return Word(text=text, x0=box[0], y0=box[1], x1=box[2], y1=box[3], line=line, ocr=True)


def test_a_block_is_read_between_the_lines_above_and_below_it():
    page = [_word("Title", 5, (0, 0, 100, 20)), _word("Footer", 6, (0, 900, 100, 920))]
    block = [_word("sideways", 0, (10, 100, 30, 400)), _word("one", 0, (10, 400, 30, 480)), _word("two", 1, (40, 100, 60, 400))]
    out = merged(page, {5: (0, 0, 100, 20), 6: (0, 900, 100, 920)}, [((10, 100, 60, 480), block)], line_offset=3)
    assert [(w.text, w.line) for w in out] == [("Title", 3), ("sideways", 4), ("one", 4), ("two", 5), ("Footer", 6)]
