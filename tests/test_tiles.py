"""Large sheets in small print (drawings, posters, spreadsheets on A3) kept at more pixels and shown to
the model in tiles, on sheets drawn at known sizes, their scans, and the planner's exact token counts."""

from __future__ import annotations

import sys
from pathlib import Path

import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.legibility import LEGIBLE_PX, print_height, shown_height, tile_side, unit_budget
from pipeline.prepare import Prepared
from pipeline.prompt import unit_segments
from pipeline.slices import ONE_IMAGE, kept_tile_side, slice_boxes, slice_note
from schemas.catalog import load_schema
from schemas.options import IngestOptions, PlanOptions, RunOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from text_recall import recall  # noqa: E402 - the word count bench/text_recall.py reports
from text_recall import words as text_words  # noqa: E402

BUDGETS = PlanOptions().budgets()
PX = 48 * 48  # pixels one image token reads


def _sheet(width: float, height: float, fontsize: float, lines: int = 400) -> pymupdf.Document:
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    y = 30 + fontsize
    for k in range(lines):
        if y > height - 30:
            break
        page.insert_text((30, y), f"Note {k}: beam HEB-300 fixed at grid line C{k % 9}, torque 85 Nm", fontsize=fontsize)
        y += fontsize * 5
    return doc


def _unit(path: Path, tmp_path: Path, **options):
    doc = discover([path]).documents[0]
    return ingest_document(doc, IngestOptions(**options), tmp_path / "spool").units[0]


def _images(unit, budget: int):
    return [s for s in unit_segments(unit, budget, False) if s.kind == "image"]


def test_tiles_cover_a_large_picture_in_a_grid_that_overlaps():
    """A picture of usual shape is whole up to one image of the largest budget; larger (as ingest keeps a
    sheet for 2 x 2 or 3 x 3 tiles) it is a grid of tiles that covers it, each overlapping the next and
    about one image large (the overlap on top); a long picture keeps its slices."""
    assert slice_boxes(1240, 1754, 1120 * PX) == [(0, 0, 1240, 1754)]
    for side, (w, h) in ((2, (2701, 3823)), (3, (4052, 5729))):
        assert kept_tile_side(w, h) == side
        for budget in (280, 1120):  # fewer tokens each, never fewer tiles
            tiles = slice_boxes(w, h, budget * PX)
            assert len(tiles) == side * side
            assert {t[0] for t in tiles} == {t[0] for t in tiles[:side]} and tiles[0][:2] == (0, 0)
            assert max(t[2] for t in tiles) == w and max(t[3] for t in tiles) == h
            assert tiles[1][0] < tiles[0][2] and tiles[side][1] < tiles[0][3]  # overlaps across and down
            assert all(ONE_IMAGE < (t[2] - t[0]) * (t[3] - t[1]) <= 1.15 * ONE_IMAGE for t in tiles)
        assert slice_note(tiles) == f" (shown in {side * side} overlapping tiles, {side} rows of {side}, row by row)"
    assert kept_tile_side(1000, 60000) == 1 and len(slice_boxes(1000, 60000, 1120 * PX)) == 8  # slices, as before


def test_a_large_sheet_in_small_print_is_shown_in_tiles_and_one_in_large_print_whole(tmp_path):
    """An A1 sheet in 9-pt print, shown whole, has its print 10 px tall; kept for 2 x 2 tiles, each tile
    shows it legibly. The same sheet in 30-pt print, and an A4 page in 9 pt, stay one image."""
    _sheet(1684, 2384, 9).save(tmp_path / "a1.pdf")
    unit = _unit(tmp_path / "a1.pdf", tmp_path, ocr="off")
    assert tile_side(unit.words, unit.width, unit.height) == 2
    assert unit.image_width * unit.image_height > 3.5 * ONE_IMAGE
    budget = unit_budget(unit, BUDGETS)
    tiles = _images(unit, budget)
    assert len(tiles) == 4 and all(t.image.crop is not None and t.budget == budget for t in tiles)
    assert shown_height(unit, print_height(unit), budget) >= LEGIBLE_PX
    whole = print_height(unit) * (ONE_IMAGE / (unit.image_width * unit.image_height)) ** 0.5
    assert whole < LEGIBLE_PX  # what one image of 1120 tokens showed
    for name, (w, h, size) in {"large_print.pdf": (1684, 2384, 30), "a4.pdf": (595, 842, 9)}.items():
        _sheet(w, h, size).save(tmp_path / name)
        plain = _unit(tmp_path / name, tmp_path, ocr="off")
        assert plain.image_width * plain.image_height <= 1.01 * ONE_IMAGE and len(_images(plain, unit_budget(plain, BUDGETS))) == 1


def test_tiles_are_bounded_by_dpi(tmp_path):
    """Tiles need pixels: a sheet rendered at --dpi 36 has none to spare and stays one image."""
    _sheet(1684, 2384, 9).save(tmp_path / "a1.pdf")
    unit = _unit(tmp_path / "a1.pdf", tmp_path, ocr="off", dpi=36)
    assert len(_images(unit, 1120)) == 1


@pytest.mark.parametrize("kind", ["pdf", "png"])
def test_a_scanned_sheet_in_small_print_is_kept_for_tiles(tmp_path, kind):
    """A scan (a PDF of page images, or a PNG stating 150 dpi) of a tabloid sheet in 4-pt print: OCR reads
    it finer than the model's one image, finds its print too small and the page is kept for tiles from
    the pixels OCR read, its words still in page units."""
    pix = _sheet(792, 1224, 4, lines=14)[0].get_pixmap(dpi=150)
    path = tmp_path / f"scan.{kind}"
    if kind == "png":
        pix.set_dpi(150, 150)
        pix.save(path)
    else:
        scan = pymupdf.open()
        page = scan.new_page(width=792, height=1224)
        page.insert_image(page.rect, pixmap=pix)
        scan.save(path)
    unit = _unit(path, tmp_path)
    assert unit.text_source == "ocr" and any("HEB-300" in w.text for w in unit.words)
    assert unit.image_width * unit.image_height > 1.3 * ONE_IMAGE
    assert max(w.x1 for w in unit.words) <= unit.width and len(_images(unit, unit_budget(unit, BUDGETS))) == 4


def test_the_planner_counts_a_tiled_page_exactly(tiny_backend, tmp_path):
    """A tiled sheet goes through the planner as its tiles, each at the page's budget, and the request's
    token count is the processor's own."""
    from pipeline.packing import Planner

    _sheet(1684, 2384, 9, lines=60).save(tmp_path / "a1.pdf")
    doc = discover([tmp_path / "a1.pdf"]).documents[0]
    opts = RunOptions(model="tiny-random", ocr="off", image_tokens_min=70, image_tokens_max=1120)
    prepared = Prepared(doc, ingest_document(doc, opts.ingest, tmp_path / "spool").units)
    (request,) = Planner(tiny_backend, opts.plan, load_schema("key_facts")).plan([prepared])
    images = [s for s in request.segments if s.kind == "image"]
    assert len(images) == 4 and len({s.image.crop for s in images}) == 4
    assert any("overlapping tiles" in s.text for s in request.segments if s.kind == "text")
    assert request.n_tokens == tiny_backend.encode(request)["input_ids"].shape[1]


def test_the_tiles_of_a_page_are_cut_from_one_decode_of_it(tmp_path, monkeypatch):
    """The backends load a request's images in order: the tiles of one page file are cut from one decode
    (a 3 x 3 sheet decoded once, not 9 times), equal to crops of the whole picture turned upright; a new
    file, or the same path written again, is decoded afresh."""
    import numpy as np
    from PIL import Image

    from model import images
    from schemas.records import ImageRef

    pixels = np.random.default_rng(0).integers(0, 255, (600, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    decodes = []
    real = images._upright
    monkeypatch.setattr(images, "_upright", lambda ref: decodes.append(ref.path) or real(ref))
    ref = ImageRef(path=str(tmp_path / "p.png"), turn=1)
    upright = np.rot90(pixels, 1)
    boxes = [(0, 0, 300, 200), (300, 0, 600, 200), (0, 200, 300, 400)]
    for box in boxes:
        got = np.asarray(images.load_image(ref.model_copy(update={"crop": box})))
        assert np.array_equal(got, upright[box[1]:box[3], box[0]:box[2]])
    assert len(decodes) == 1
    Image.fromarray(255 - pixels).save(tmp_path / "p.png")  # rewritten: its new pixels, not the cached ones
    got = np.asarray(images.load_image(ref.model_copy(update={"crop": boxes[0]})))
    assert len(decodes) == 2 and np.array_equal(got, (255 - upright)[0:200, 0:300])


def test_an_image_without_a_finer_ocr_picture_is_decoded_again_for_its_tiles(tmp_path):
    """Where OCR read the picture the model is shown (no finer one), the tiles' pixels come from the
    file, decoded again within room for 2 x 2 tiles; a picture no larger than one image gains none."""
    from PIL import Image

    from pipeline.ingest.image import _retiled
    from pipeline.ingest.result import fit_size, tiled

    Image.new("RGB", (4000, 5600), "white").save(tmp_path / "sheet.png")
    options = IngestOptions()
    shown = Image.new("RGB", fit_size(4000, 5600, options), "white")
    bigger = _retiled(str(tmp_path / "sheet.png"), 0, tiled(options, 2), shown)
    assert bigger is not None and bigger.size == fit_size(4000, 5600, tiled(options, 2))
    assert 3.9 * ONE_IMAGE < bigger.width * bigger.height <= 4 * ONE_IMAGE
    Image.new("RGB", (1200, 1700), "white").save(tmp_path / "a4.png")
    assert _retiled(str(tmp_path / "a4.png"), 0, tiled(options, 2), Image.new("RGB", (1200, 1700))) is None


SCREEN = (2880, 1620)  # a screen recorded above 1440p: one image of the largest budget shows it at 0.74


def _screen(lines: int = 24) -> tuple:
    """A BGR screen of SCREEN size with `lines` lines of 8-px print (a 4K screen's 10-pt print, shrunk to
    this size), 12 down the left half and 12 down the right; the lines' words."""
    import numpy as np

    doc = pymupdf.open()
    page = doc.new_page(width=SCREEN[0], height=SCREEN[1])
    text = []
    for k in range(lines):
        col, row = divmod(k, 12)
        line = f"Ticket {4200 + k}: pump station {k % 7} pressure {30 + k}.5 bar, valve closed by operator Lindqvist"
        page.insert_text((40 + col * 1420, 60 + row * 20), line, fontsize=8)
        text.append(line)
    pix = page.get_pixmap(alpha=False)
    rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)
    return np.ascontiguousarray(rgb[:, :, ::-1]), [w for line in text for w in line.split()]


def _found(words, unit_words) -> float:
    """The share of the screen's words read, each occurrence counted once (bench/text_recall.py's count):
    `operator`, misread on most lines, counts on each line."""
    return recall(text_words(" ".join(words)), text_words(" ".join(w.text for w in unit_words)))


def test_a_screen_recording_in_small_print_is_read_at_full_size_and_shown_in_tiles(tmp_path):
    """A frame larger than one image, in print one image shows 6 px tall: OCR reads it at full size (0.7 of
    its words; read at the model's scale, or at 1400 px across, it keeps about 0.13 of them), and the frame is kept
    at full size and shown in 2 x 2 tiles; words stay in the frame's pixels. A 1080p frame of the same
    print is read and shown as it is."""
    import cv2

    from pipeline.ingest.ocr import ocr_page
    from pipeline.ingest.result import fit_scale, ocr_fit_scale

    frame, words = _screen()
    writer = cv2.VideoWriter(str(tmp_path / "screen.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 1, SCREEN)
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    writer.write(frame)
    writer.release()
    (unit,) = ingest_document(discover([tmp_path / "screen.avi"]).documents[0], IngestOptions(), tmp_path / "spool").units
    assert _found(words, unit.words) >= 0.6 and max(w.x1 for w in unit.words) > 0.5 * SCREEN[0]
    assert (unit.image_width, unit.image_height) == SCREEN and (unit.width, unit.height) == SCREEN
    budget = unit_budget(unit, BUDGETS)
    assert len(_images(unit, budget)) == 4 and shown_height(unit, print_height(unit), budget) >= LEGIBLE_PX
    at = ocr_fit_scale(*SCREEN, IngestOptions())
    assert fit_scale(*SCREEN, IngestOptions()) < at < 0.9
    coarse = cv2.resize(frame, (round(SCREEN[0] * at), round(SCREEN[1] * at)), interpolation=cv2.INTER_AREA)
    assert _found(words, ocr_page(cv2.cvtColor(coarse, cv2.COLOR_BGR2RGB)).words) < 0.3  # what one read there gives


def test_a_large_screenshot_in_small_print_is_read_again_at_full_size(tmp_path):
    """The same screen saved as a PNG: OCR reads it again from the file at full size, and the model is
    shown it in tiles cut from those pixels."""
    import cv2

    frame, words = _screen()
    cv2.imwrite(str(tmp_path / "screen.png"), frame)
    unit = _unit(tmp_path / "screen.png", tmp_path)
    assert _found(words, unit.words) >= 0.6
    assert (unit.image_width, unit.image_height) == SCREEN and len(_images(unit, unit_budget(unit, BUDGETS))) == 4


@pytest.mark.parametrize("name", ["screen.png", "screen.avi"])
def test_a_picture_or_frame_read_surely_is_not_read_again(tmp_path, monkeypatch, name):
    """The screen above, its 8-px print read under 6 px a letter first: with OCR's reading made sure
    (mean confidence 0.99, where it reads 0.80-0.87), the picture and the recorded frame are read once,
    as a PDF page would be (a sure reading read finer runs more words together, bench/reread_gate.py)."""
    import dataclasses

    import cv2

    import pipeline.ingest.frames as frames
    import pipeline.ingest.image as image

    frame, words = _screen()
    if name.endswith(".png"):
        cv2.imwrite(str(tmp_path / name), frame)
    else:
        writer = cv2.VideoWriter(str(tmp_path / name), cv2.VideoWriter_fourcc(*"MJPG"), 1, SCREEN)
        writer.write(frame)
        writer.release()
    reads = []
    for module in (image, frames):
        def sure(picture, *args, _ocr=module.ocr_page, **kwargs):
            reads.append(picture.shape[1])
            return dataclasses.replace(_ocr(picture, *args, **kwargs), confidence=0.99)

        monkeypatch.setattr(module, "ocr_page", sure)
    unit = _unit(tmp_path / name, tmp_path)
    assert len(reads) == 1 and reads[0] < 0.9 * SCREEN[0] and unit.words  # once, below full size


def test_print_read_too_small_asks_for_a_finer_read_where_the_source_has_one():
    """`reread_scale`: letters read under 6 px wide ask for the finest read the source gives; none when
    they were read wide enough, when the source has no finer pixels, or when there are too few words."""
    from pipeline.ingest.result import reread_scale
    from schemas.records import Word

    def line(pitch: float, n: int = 8) -> list[Word]:
        return [Word(text="pressure", x0=100.0 * k, y0=0, x1=100.0 * k + 8 * pitch, y1=12)
                for k in range(n)]

    assert reread_scale(line(5.0), 2880, 1620, 0.86) == 1.0  # read 4.3 px wide
    assert reread_scale(line(8.0), 2880, 1620, 0.86) is None  # read 6.9 px wide
    assert reread_scale(line(5.0), 2880, 1620, 0.95) is None  # full size is not 1.1 times finer
    assert reread_scale(line(5.0), 2880, 1620, 0.5, finest=0.52) is None  # an animation decoded at the caps
    assert reread_scale(line(5.0, n=3), 2880, 1620, 0.86) is None
    assert abs(reread_scale(line(5.0), 8000, 8000, 0.3) - (40e6 / 64e6) ** 0.5) < 1e-9  # within OCR's area cap
