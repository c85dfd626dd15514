"""Lines set sideways on an upright scan (a landscape table on a portrait page, a chart's axis title), each
read upright (pipeline 0.3.22, `pipeline/ingest/sideways.py`), against reading them as the page's other
lines are read (0.3.21), in the same run.

Workloads: born-digital corpus pages rendered grey at 200 dpi; each scan holds the page's top 30 %
upright and, below it, the next 35 % of the page turned a quarter, either way: counter-clockwise, so its
text runs up the page (`up`: the way tables and axis titles are usually set sideways), or clockwise, so it
runs down (`down`). Each is saved as a scanned PDF and ingested with default options (OCR at 150 dpi).
Truth: the page's text-layer words in each part, their boxes moved and turned as the part was. A control
scan holds the same two parts both upright. Then the corpus's own scans and photos (bench/skewed_scans.py's
list) are ingested both ways: how many of their pages' words change.

Per workload, over the sideways part's words (bench/skewed_scans.py's measures): `words` (the share read
as words of their own), `order` (the share of its neighbouring word pairs read next to each other) and
`box_iou` (the median overlap of OCR's word boxes with the words' own); `upright_words` over the upright
part; and seconds of `ingest_document`.

    python bench/sideways_lines.py [--corpus DIR]

Ends with `RESULT words_up=... words_up_before=... words_down=... words_down_before=... order_up=...
order_up_before=... order_down=... order_down_before=... box_iou_up=... box_iou_up_before=...
box_iou_down=... box_iou_down_before=... upright_words=... upright_words_before=... control_same=...
seconds_ratio=... control_seconds_ratio=... cases=... corpus_changed=... corpus_pages=... seconds=...` (means over
the pages; `control_seconds_ratio`: the upright scans alone, where nothing lies sideways)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.skewed_scans import SCANS, both_ways, scores  # noqa: E402 - the same measures, corpus scans and runs

PAGES = (  # (corpus PDF, page): a paper, a two-column page, a form-like page, a report, a book, a table
    ("pdfjs_tracemonkey.pdf", 1),
    ("docling_2305.03393v1-pg9.pdf", 0),
    ("sample-files_google-doc-document.pdf", 0),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4),
    ("pdfjs_freeculture.pdf", 20),
    ("icdar2013_us-003.pdf", 0),
)
SCAN_DPI = 200
TOP, SIDE = 0.30, 0.35  # the upright part: the page's top share; the sideways part: the next share
MARGIN = 40  # pixels between the parts
TURNS = {"up": 1, "down": 3, "control": 0}  # np.rot90 quarters of the sideways part (1: its text runs up)


def composed(source: Path, index: int, way: str, out: Path) -> dict[str, list[tuple[str, tuple]]]:
    """A scan of the page's top part upright and its next part turned `way`, saved as a one-page scanned
    PDF at `out`; the page's words in each part ('upright', 'sideways') with their boxes in the new
    page's points."""
    import cv2
    import numpy as np
    import pymupdf

    page = pymupdf.open(source)[index]
    pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY)
    grey = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)
    h, w = grey.shape
    top, side_end = int(h * TOP), int(h * (TOP + SIDE))
    part = np.rot90(grey[top:side_end], TURNS[way])
    height = top + MARGIN + part.shape[0] + MARGIN
    canvas = np.full((height, max(w, part.shape[1] + 2 * MARGIN)), 255, np.uint8)
    canvas[:top, :w] = grey[:top]
    at_x, at_y = MARGIN, top + MARGIN
    canvas[at_y:at_y + part.shape[0], at_x:at_x + part.shape[1]] = part
    ok, png = cv2.imencode(".png", canvas)
    assert ok
    doc = pymupdf.open()
    points = 72.0 / SCAN_DPI
    new = doc.new_page(width=canvas.shape[1] * points, height=canvas.shape[0] * points)
    new.insert_image(new.rect, stream=png.tobytes())
    doc.save(out)
    scale = SCAN_DPI / 72.0
    ph, pw = side_end - top, w  # the sideways part before its turn

    parts: dict[str, list] = {"upright": [], "sideways": []}
    for x0, y0, x1, y1, text, *_ in page.get_text("words"):
        x0, y0, x1, y1 = x0 * scale, y0 * scale, x1 * scale, y1 * scale
        if y1 <= top:
            parts["upright"].append((text, (x0 * points, y0 * points, x1 * points, y1 * points)))
        elif y0 >= top and y1 <= side_end:
            corners = [_turn_point(x, y - top, (ph, pw), TURNS[way]) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
            xs, ys = [x + at_x for x, _ in corners], [y + at_y for _, y in corners]
            parts["sideways"].append((text, (min(xs) * points, min(ys) * points, max(xs) * points, max(ys) * points)))
    return parts


def _turn_point(x: float, y: float, size: tuple[int, int], quarters: int) -> tuple[float, float]:
    """A point on a picture of `size` (h, w), on that picture turned `quarters` quarters counter-clockwise."""
    for _ in range(quarters):
        h, w = size
        x, y, size = y, w - x, (w, h)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()

    import numpy as np

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.ingest import ocr as OCR
    from schemas.options import IngestOptions

    OCR.ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    as_read = OCR.split_sideways, OCR._read_lying_across, OCR._sideways_turn
    as_before = ((lambda lines: (lines, [])), (lambda read, k, lines, confidence: (k, lines, confidence, (k, []))),
                 (lambda *args: None))

    def ingest(path: Path, apart: bool, spool: Path) -> tuple[list, float]:
        """(units, seconds) of one ingest, with tall lines read apart and upright, or as 0.3.21 read them:
        among the page's lines, each turned a quarter counter-clockwise by the recogniser (and a page read
        as tall lines laid out a quarter turn on, not read again lying across; no page read again turned)."""
        OCR.split_sideways, OCR._read_lying_across, OCR._sideways_turn = as_read if apart else as_before
        began = time.perf_counter()
        try:
            units = ingest_document(discover([path]).documents[0], IngestOptions(), spool).units
        finally:
            OCR.split_sideways, OCR._read_lying_across, OCR._sideways_turn = as_read
        return units, time.perf_counter() - began

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for way, path, truth, (before, before_s), (after, took) in both_ways(PAGES, TURNS, str, composed, ingest, args.corpus, tmp):
            words_a = [w for u in after for w in u.words]
            words_b = [w for u in before for w in u.words]
            a, b = scores(truth["sideways"], words_a), scores(truth["sideways"], words_b)
            a["upright"], b["upright"] = scores(truth["upright"], words_a)["words"], scores(truth["upright"], words_b)["words"]
            rows.append(dict(way=way, after=a, before=b, s=took, s_b=before_s,
                             same=[u.words for u in after] == [u.words for u in before]))
            print(f"{path.stem:44s} words {a['words']:.3f} ({b['words']:.3f})  order {a['order']:.3f} ({b['order']:.3f})  "
                  f"box_iou {a['box_iou']:.3f} ({b['box_iou']:.3f})  upright {a['upright']:.3f} ({b['upright']:.3f})  "
                  f"{took:.1f} s ({before_s:.1f} s)", flush=True)
        changed = pages = 0
        for name in SCANS:
            path = args.corpus / "docs" / name
            before, _ = ingest(path, False, tmp / "spool")
            after, _ = ingest(path, True, tmp / "spool")
            diff = sum(a.words != b.words for a, b in zip(after, before))
            pages, changed = pages + len(after), changed + diff
            print(f"{name:44s} pages {len(after)}  pages changed {diff}", flush=True)

    def mean(way: str, side: str, key: str) -> float:
        chosen = [r for r in rows if r["way"] == way]
        return sum(r[side][key] for r in chosen) / max(1, len(chosen))

    figures = " ".join(f"{key}_{way}={mean(way, 'after', key):.3f} {key}_{way}_before={mean(way, 'before', key):.3f}"
                       for key in ("words", "order", "box_iou") for way in ("up", "down"))
    turned = [r for r in rows if r["way"] != "control"]
    control = [r for r in rows if r["way"] == "control"]
    print(f"RESULT {figures} "
          f"upright_words={sum(r['after']['upright'] for r in turned) / len(turned):.3f} "
          f"upright_words_before={sum(r['before']['upright'] for r in turned) / len(turned):.3f} "
          f"control_same={all(r['same'] for r in control)} "
          f"seconds_ratio={sum(r['s'] for r in rows) / max(1e-9, sum(r['s_b'] for r in rows)):.2f} "
          f"control_seconds_ratio={sum(r['s'] for r in control) / max(1e-9, sum(r['s_b'] for r in control)):.2f} "
          f"cases={len(rows)} corpus_changed={changed} corpus_pages={pages} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
