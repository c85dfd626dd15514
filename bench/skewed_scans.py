"""Scans and photos lying a few degrees askew: OCR lines laid level before words, boxes, reading order and
word spaces are made from them (pipeline 0.3.19, `pipeline/ingest/deskew.py`), against taking the
lines' upright bounds as they lie, each word as tall as its line's bounds (0.3.18), in the same run.

Workloads: born-digital corpus pages rendered grey at 200 dpi and turned by 0 (the control), 1, 2, 3 and
5 degrees, either way, each saved as a scanned PDF (the picture alone on a page its size), ingested with
default options (OCR at 150 dpi). Truth: the page's text-layer words, their boxes turned as the picture
was. Then the corpus's own scans and photos (scanned PDFs, FUNSD forms, SROIE receipts), ingested both
ways: how many are laid level, and how many of their pages' words change.

Per workload, both ways ("before": the lines taken as they lie):
- `words`: the share of the page's words (case-folded letters and digits, counted per occurrence) that
  OCR gave as words of their own (a word run into its neighbour, as a skewed line's lost spaces leave
  it, does not count);
- `order`: the share of the page's pairs of neighbouring words (distinct) that OCR gave next to each
  other (lines of two columns read as one row break them);
- `box_iou`: the median, over OCR words that name one word of the page (its text appears once there),
  of the overlap (intersection over union) of OCR's box with that word's turned box, in page points:
  what a citation's box shows;
- seconds of `ingest_document`.

    python bench/skewed_scans.py [--corpus DIR]

Ends with `RESULT words=... words_before=... order=... order_before=... box_iou=... box_iou_before=...
control_same=... seconds_ratio=... cases=... corpus_straightened=... corpus_changed=... corpus_pages=...
seconds=...` (means over the skewed workloads; `control_same`: whether the unturned pages read the same
both ways)."""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import pdf_print as PDF_PRINT  # noqa: E402 - once ROOT is on the path

PAGES = (  # (corpus PDF, page): one column, two columns, a form-like page, a paper page, a book page
    ("pdfjs_tracemonkey.pdf", 1),
    ("docling_2305.03393v1-pg9.pdf", 0),
    ("sample-files_google-doc-document.pdf", 0),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4),
    ("pdfjs_freeculture.pdf", 20),
)
ANGLES = (0.0, 1.0, -2.0, 3.0, -5.0)  # degrees counter-clockwise the page is turned as scanned
SCAN_DPI = 200
SCANS = ("mupdf_test_3863_scanned_forms.pdf", "mupdf_test_4090_scanned_bank_statement.pdf",
         "pypdf_Seige_of_Vicksburg_Sample_OCR.pdf", "docling_ocr_test.pdf", "docling_ocr_test_rotated_90.pdf",
         "funsd_0000971160.png", "funsd_00040534.png", "funsd_0011505151.png",
         "sroie_005.jpg", "sroie_017.jpg", "sroie_042.jpg", "sroie_099.jpg")


def skewed_scan(source: Path, index: int, angle: float, out: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The page rendered grey at SCAN_DPI, turned `angle` degrees counter-clockwise (white around it),
    saved as a one-page scanned PDF at `out`; the page's words with their boxes turned the same way, in
    the new page's points."""
    import cv2
    import numpy as np
    import pymupdf

    from pipeline.ingest.deskew import turning

    page = pymupdf.open(source)[index]
    pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY)
    grey = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width)
    turn, size = turning(grey.shape[1], grey.shape[0], angle)
    turned = cv2.warpAffine(grey, turn, size, flags=cv2.INTER_CUBIC, borderValue=255)
    ok, png = cv2.imencode(".png", turned)
    assert ok
    doc = pymupdf.open()
    points = 72.0 / SCAN_DPI
    new = doc.new_page(width=size[0] * points, height=size[1] * points)
    new.insert_image(new.rect, stream=png.tobytes())
    doc.save(out)
    scale = SCAN_DPI / 72.0
    words = []
    for x0, y0, x1, y1, text, *_ in page.get_text("words"):
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]]) * [scale, scale, 1]
        moved = corners @ turn.T * points
        words.append((text, (moved[:, 0].min(), moved[:, 1].min(), moved[:, 0].max(), moved[:, 1].max())))
    return words


def scores(truth: list[tuple[str, tuple]], words) -> dict[str, float]:
    """`words`, `order` and `box_iou` (see the module's docstring) of OCR's words against the page's."""
    keys = [PDF_PRINT.key(t) for t, _ in truth]
    keys = [k for k in keys if k]
    read = [PDF_PRINT.key(w.text) for w in words]
    read = [k for k in read if k]
    found = sum((collections.Counter(keys) & collections.Counter(read)).values()) / max(1, len(keys))
    pairs = set(zip(keys, keys[1:]))
    order = len(pairs & set(zip(read, read[1:]))) / max(1, len(pairs))
    once = collections.Counter(PDF_PRINT.key(t) for t, _ in truth)
    box_of = {PDF_PRINT.key(t): box for t, box in truth if once[PDF_PRINT.key(t)] == 1}
    ious = [iou((w.x0, w.y0, w.x1, w.y1), box_of[k]) for w in words if (k := PDF_PRINT.key(w.text)) in box_of and len(k) >= 3]
    return dict(words=found, order=order, box_iou=statistics.median(ious) if ious else 0.0)


def both_ways(pages, variants, label, make, ingest, corpus: Path, tmp: Path):
    """For each corpus (PDF, page) of `pages` and each of `variants`: (variant, path, truth, before, after),
    the scan `make(source, index, variant, path)` writes (returning its truth) ingested by `ingest(path,
    new, spool)` the old way and the new, after one untimed ingest. `label(variant)` names its file."""
    for name, index in pages:
        for variant in variants:
            path = tmp / f"{Path(name).stem[:28]}_p{index + 1}_{label(variant)}.pdf"
            truth = make(corpus / "docs" / name, index, variant, path)
            ingest(path, True, tmp / "spool")  # untimed
            yield variant, path, truth, ingest(path, False, tmp / "spool"), ingest(path, True, tmp / "spool")


def iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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
    straighten = OCR.straighten
    laid_level: list[float] = []

    def counted(image, lines):
        found, lines = straighten(image, lines)
        if found is not None:
            laid_level.append(found.angle)
        return found, lines

    line_to_words = OCR.line_to_words

    def line_bounds(text, box, line, chars=None, slanted=None):
        return line_to_words(text, box, line, chars, None)

    def ingest(path: Path, level: bool, spool: Path) -> tuple[list, float, int]:
        """(units, seconds, pictures laid level) of one ingest, with skewed lines laid level (and a line left
        slanted giving each word its own part of it), or as 0.3.18 read them: as they lie, each word as tall
        as its line's bounds."""
        OCR.straighten = counted if level else (lambda image, lines: (None, lines))
        OCR.line_to_words = line_to_words if level else line_bounds
        began, asked = time.perf_counter(), len(laid_level)
        try:
            units = ingest_document(discover([path]).documents[0], IngestOptions(), spool).units
        finally:
            OCR.straighten, OCR.line_to_words = straighten, line_to_words
        return units, time.perf_counter() - began, len(laid_level) - asked

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scans = both_ways(PAGES, ANGLES, lambda angle: f"{angle:+.0f}deg", skewed_scan, ingest, args.corpus, tmp)
        for angle, path, truth, (before, before_s, _), (after, took, level) in scans:
            a = scores(truth, [w for u in after for w in u.words])
            b = scores(truth, [w for u in before for w in u.words])
            rows.append(dict(angle=angle, after=a, before=b, s=took, s_b=before_s, level=level,
                             same=[u.words for u in after] == [u.words for u in before]))
            print(f"{path.stem:44s} words {a['words']:.3f} ({b['words']:.3f})  order {a['order']:.3f} ({b['order']:.3f})  "
                  f"box_iou {a['box_iou']:.3f} ({b['box_iou']:.3f})  laid level {level}  "
                  f"{took:.1f} s ({before_s:.1f} s)", flush=True)
        straightened = changed = pages = 0
        for name in SCANS:
            path = args.corpus / "docs" / name
            before, _, _ = ingest(path, False, tmp / "spool")
            after, _, level = ingest(path, True, tmp / "spool")
            diff = sum(a.words != b.words for a, b in zip(after, before))
            pages, straightened, changed = pages + len(after), straightened + (level > 0), changed + diff
            print(f"{name:44s} pages {len(after)}  laid level {level}  pages changed {diff}", flush=True)
    skewed, control = [r for r in rows if r["angle"]], [r for r in rows if not r["angle"]]

    def mean(side: str, key: str) -> float:
        return sum(r[side][key] for r in skewed) / max(1, len(skewed))

    print(f"RESULT words={mean('after', 'words'):.3f} words_before={mean('before', 'words'):.3f} "
          f"order={mean('after', 'order'):.3f} order_before={mean('before', 'order'):.3f} "
          f"box_iou={mean('after', 'box_iou'):.3f} box_iou_before={mean('before', 'box_iou'):.3f} "
          f"control_same={all(r['same'] for r in control)} "
          f"seconds_ratio={sum(r['s'] for r in rows) / max(1e-9, sum(r['s_b'] for r in rows)):.2f} "
          f"cases={len(rows)} corpus_straightened={straightened} corpus_changed={changed} corpus_pages={pages} "
          f"seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
