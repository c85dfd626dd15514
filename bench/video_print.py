"""Screen recordings in small print: video frames read by OCR at the source's pixels and shown in tiles,
against the frame OCR'd and shown at one image's area (what gemmadoc did before 0.3.15).

Videos: corpus PDFs shown as a document viewer shows them at 100 % (96 dpi: 10-pt print 13 px tall),
pages side by side, scrolled 240 px a second, recorded at 1440p and 4K (MPEG-4 through OpenCV, 3
frames at 1 fps). A 1080p recording of the same pages is the control: one image of the largest budget
shows it at full size, so nothing should change there. Truth per frame: the text layer's words (3+
letters or digits) whose boxes lie whole in the frame.

Each video is ingested with default options (`ingest_document`). Per frame:
- `ocr_recall`: the share of its truth words in the frame's OCR words (the page text the model is given,
  and what quotes are verified against); `*_before`: the same frame read at the model's scale, as before.
- `words_read`: the share OCR reads back in the model's views of the frame at the budget gemmadoc gives
  it (`pipeline.prompt.unit_segments`: tiles, each at `unit_budget`), resized as Gemma 4's processor
  resizes them (`model_view.py`); `*_before`: the frame shown whole at the largest budget.
- `token_ratio`: image tokens of those views / whole; `seconds_ratio`: seconds to ingest the recordings /
  seconds of the single OCR read at the model's scale of the same frames (the old ingest's main cost, so
  the ratio overstates the new cost a little).
The corpus videos (slides, clips) are ingested too: `corpus_frames_tiled` counts their frames kept for
tiles.

    python bench/video_print.py

Ends with `RESULT ocr_recall=... ocr_recall_before=... words_read=... words_read_before=... token_ratio=...
seconds_ratio=... control_recall=... control_recall_before=... frames=... corpus_frames_tiled=...
corpus_frames=... seconds=...`."""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCES = ("pdfjs_tracemonkey.pdf", "docling_redp5110_sampled.pdf")
SCREENS = {"1080p": (1920, 1080), "1440p": (2560, 1440), "4K": (3840, 2160)}
ZOOM = 96 / 72  # a viewer at 100 %
GAP = 20  # px between pages
SCROLL = 240  # px a second
FRAMES = 3


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def record(source: Path, screen: tuple[int, int], out: Path) -> list[list[str]]:
    """A recording of `source`'s pages side by side at ZOOM, scrolled SCROLL px a second, FRAMES seconds at
    1 fps; the truth words of each frame."""
    import cv2
    import numpy as np
    import pymupdf

    width, height = screen
    doc = pymupdf.open(source)
    first = doc[0].rect
    pw, ph = round(first.width * ZOOM), round(first.height * ZOOM)
    across = max(1, (width - GAP) // (pw + GAP))
    rows = -(-(height + FRAMES * SCROLL) // (ph + GAP))
    canvas = np.full((rows * (ph + GAP) + GAP, width, 3), 96, np.uint8)  # a viewer's grey
    placed = []  # (words with boxes in canvas pixels)
    for k in range(min(across * rows, doc.page_count)):
        row, col = divmod(k, across)
        x, y = GAP + col * (pw + GAP), GAP + row * (ph + GAP)
        pix = doc[k].get_pixmap(matrix=pymupdf.Matrix(ZOOM, ZOOM), alpha=False)
        picture = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)[:, :, ::-1]
        hh, ww = min(pix.height, canvas.shape[0] - y), min(pix.width, width - x)
        canvas[y:y + hh, x:x + ww] = picture[:hh, :ww]
        placed += [(w[4], x + w[0] * ZOOM, y + w[1] * ZOOM, x + w[2] * ZOOM, y + w[3] * ZOOM)
                   for w in doc[k].get_text("words") if sum(c.isalnum() for c in w[4]) >= 3]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 1.0, (width, height))
    truths = []
    for t in range(FRAMES):
        top = t * SCROLL
        writer.write(np.ascontiguousarray(canvas[top:top + height]))
        truths.append([w for w, x0, y0, x1, y1 in placed if y0 >= top and y1 <= top + height and x1 <= width])
    writer.release()
    return truths


def frame_pictures(path: Path):
    """The video's frames at full size (BGR), at 1 fps."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    while (ok_frame := cap.read())[0]:
        frames.append(ok_frame[1])
    cap.release()
    return frames


def recall(truth: list[str], words) -> float:
    read = "".join(key(w.text) for w in words)
    return sum(1 for w in truth if key(w) in read) / max(1, len(truth))


def corpus_control(corpus: Path, spool: Path) -> tuple[int, int]:
    """(frames kept for tiles, frames) over the corpus videos."""
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.slices import kept_tile_side
    from schemas.options import IngestOptions

    tiled = frames = 0
    for path in sorted((corpus / "video").iterdir()):
        docs = discover([path]).documents
        if not docs:
            continue
        for unit in ingest_document(docs[0], IngestOptions(), spool).units:
            frames += 1
            tiled += kept_tile_side(unit.image_width, unit.image_height) > 1
    return tiled, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()

    import cv2
    from PIL import Image

    from model.images import load_image
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.ingest.ocr import ocr_page
    from pipeline.ingest.result import fit_scale
    from pipeline.legibility import unit_budget
    from pipeline.prompt import unit_segments
    from schemas.options import IMAGE_BUDGETS, IngestOptions, PlanOptions

    view = _bench_module("model_view")
    budgets, options = PlanOptions().budgets(), IngestOptions()
    start = time.perf_counter()
    sums = {k: [] for k in ("ocr", "ocr_before", "read", "read_before", "control", "control_before")}
    tokens = {"now": 0, "before": 0}
    seconds = {"now": 0.0, "before": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in SOURCES:
            for screen, size in SCREENS.items():
                path = tmp / f"{Path(name).stem}_{screen}.mp4"
                truths = record(args.corpus / "docs" / name, size, path)
                began = time.perf_counter()
                units = ingest_document(discover([path]).documents[0], options, tmp / "spool").units
                seconds["now"] += time.perf_counter() - began
                pictures = frame_pictures(path)
                for unit in units:  # a frame kept (not skipped as a near-duplicate) at each whole second
                    frame, truth = pictures[round(unit.t_seconds)], truths[round(unit.t_seconds)]
                    w, h = size
                    scale = min(1.0, fit_scale(w, h, options))
                    shown = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else frame
                    began = time.perf_counter()
                    before = ocr_page(cv2.cvtColor(shown, cv2.COLOR_BGR2RGB), scale=1 / scale).words
                    seconds["before"] += time.perf_counter() - began
                    now_ocr, before_ocr = recall(truth, unit.words), recall(truth, before)
                    line = f"{path.name:42s} t={unit.t_seconds:3.0f} {len(truth):4d} words  ocr {now_ocr:.3f} (before {before_ocr:.3f})"
                    if screen == "1080p":
                        sums["control"].append(now_ocr)
                        sums["control_before"].append(before_ocr)
                        print(line, flush=True)
                        continue
                    sums["ocr"].append(now_ocr)
                    sums["ocr_before"].append(before_ocr)
                    budget = unit_budget(unit, budgets)
                    views = [load_image(s.image) for s in unit_segments(unit, budget, False) if s.kind == "image"]
                    read, n = view.words_read(views, truth, budget)
                    whole = Image.fromarray(cv2.cvtColor(shown, cv2.COLOR_BGR2RGB))
                    read_before, n_before = view.words_read([whole], truth, IMAGE_BUDGETS[-1])
                    sums["read"].append(read)
                    sums["read_before"].append(read_before)
                    tokens["now"] += n
                    tokens["before"] += n_before
                    print(f"{line}  model {len(views)} x {budget}: {read:.3f} ({n} tokens; whole 1120: {read_before:.3f})", flush=True)
        tiled, frames = corpus_control(args.corpus, tmp / "control")
    mean = {k: sum(v) / max(1, len(v)) for k, v in sums.items()}
    print(f"RESULT ocr_recall={mean['ocr']:.3f} ocr_recall_before={mean['ocr_before']:.3f} words_read={mean['read']:.3f}"
          f" words_read_before={mean['read_before']:.3f} token_ratio={tokens['now'] / max(1, tokens['before']):.2f}"
          f" seconds_ratio={seconds['now'] / max(seconds['before'], 1e-9):.2f} control_recall={mean['control']:.3f}"
          f" control_recall_before={mean['control_before']:.3f} frames={len(sums['ocr'])} corpus_frames_tiled={tiled}"
          f" corpus_frames={frames} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
