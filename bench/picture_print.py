"""Pictures in small print on PDF pages with a text layer (a scanned letter or receipt pasted into an
expense report, a form scan in a case file): read again finer, up to the picture's own pixels, where OCR
read their letters under 6 px wide at --dpi and less surely than OCR_SURE (pipeline 0.3.18), against
read once at --dpi (0.3.17), in the same run.

Workloads, each pasted into a born-digital A4 report page under a paragraph of its text layer:
- scans with known text: born-digital corpus pages rendered grey at 300 dpi, pasted 150, 200 and 260 pt
  wide (their 9-11-pt print comes out 2.4-4.7 pt), and lying sideways 424 pt long; truth: the page's
  distinct text-layer words of 3+ letters or digits (`bench/pdf_print.py`'s `truth_keys`);
- the corpus's own scans (FUNSD forms, SROIE receipts), pasted 150 and 250 pt wide; truth: the same
  keys of OCR's reading of the picture alone at its full size (what OCR can read of it at best);
- the corpus PDFs (their first 4 pages), read with default options: how many of their pictures are read
  again, and whether any word changes.

Per workload, after one untimed ingest as 0.3.18 (OCR's sessions meet every picture size either side
reads), both ways in the same process ("before": the finer copy refused, so the first reading stands):
- `recall`: the share of its truth words found in the words OCR gave, joined without spaces;
- `inside`: the share of OCR's words whose centre lies in the pasted picture (boxes in page points);
- seconds of `ingest_document`, and how many pictures were read again.

    python bench/picture_print.py [--corpus DIR]

Ends with `RESULT recall=... recall_before=... scan_recall=... scan_recall_before=... sideways_recall=...
sideways_recall_before=... inside=...
seconds_ratio=... reread=... cases=... corpus_reread=... corpus_changed=... corpus_pages=... seconds=...`
(`recall` over the corpus-page workloads pasted upright, `sideways_recall` over those lying sideways,
`scan_recall` over the corpus scans, `seconds_ratio` over all workloads)."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import pdf_print as PDF_PRINT  # noqa: E402 - once ROOT is on the path

PAGES = (  # (corpus PDF, page) scanned at 300 dpi
    ("pdfjs_tracemonkey.pdf", 1),
    ("docling_2305.03393v1-pg9.pdf", 0),
    ("pdfjs_freeculture.pdf", 20),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4),
    ("sample-files_google-doc-document.pdf", 0),
)
PAGE_WIDTHS = (150, 200, 260)  # points the scan is pasted at
SIDEWAYS_WIDTH = 424  # ... and lying sideways (turned a quarter), its long side across
SCANS = ("funsd_0000971160.png", "funsd_00040534.png", "funsd_0011505151.png",
         "sroie_005.jpg", "sroie_017.jpg", "sroie_042.jpg", "sroie_099.jpg")
SCAN_WIDTHS = (150, 250)
SCAN_DPI = 300
A4 = (595.0, 842.0)
TOP = 140.0  # where the picture starts, under the report's paragraph



def report(picture_png: bytes, size: tuple[int, int], width: float, out: Path, sideways: bool = False):
    """A born-digital A4 report page: a paragraph of text layer, then the picture pasted `width` points
    wide (no higher than the page leaves; `sideways`: turned a quarter), saved at `out`; the
    picture's rectangle."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=A4[0], height=A4[1])
    paragraph = "Expense report 2026-114. The document below is attached as evidence for the claim; see the ledger. " * 3
    assert page.insert_textbox(pymupdf.Rect(60, 40, A4[0] - 60, TOP - 10), paragraph, fontsize=10) >= 0
    if sideways:
        size = (size[1], size[0])
    height = width * size[1] / size[0]
    if TOP + height > A4[1] - 20:
        height = A4[1] - 20 - TOP
        width = height * size[0] / size[1]
    rect = pymupdf.Rect(60, TOP, 60 + width, TOP + height)
    page.insert_image(rect, stream=picture_png, rotate=90 if sideways else 0)
    doc.save(out)
    return tuple(rect)


def page_scan(source: Path, index: int) -> tuple[bytes, tuple[int, int], list[str]]:
    """A corpus page rendered grey at SCAN_DPI as a PNG, its size and its truth keys."""
    import pymupdf

    page = pymupdf.open(source)[index]
    pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY)
    return pix.tobytes("png"), (pix.width, pix.height), PDF_PRINT.truth_keys(page)


def corpus_scan(path: Path) -> tuple[bytes, tuple[int, int], list[str]]:
    """A corpus scan as a PNG, its size and the keys of OCR's reading of it alone at full size."""
    import numpy as np
    from PIL import Image

    from pipeline.ingest.ocr import ocr_page

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, "PNG")
    keys = {PDF_PRINT.key(w.text) for w in ocr_page(np.asarray(rgb)).words}
    return buf.getvalue(), rgb.size, sorted(k for k in keys if len(k) >= 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()

    import numpy as np

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.ingest.ocr import ocr_page
    from pipeline.ingest.render import RenderGuard
    from schemas.options import IngestOptions

    ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    clip_copy = RenderGuard.clip_copy
    finer_reads: list[float] = []

    def ingest(path: Path, finer: bool, spool: Path, options: IngestOptions = IngestOptions()) -> tuple[list, float, int]:
        """(units, seconds, pictures read again) of one ingest, with finer reads of pictures or without."""
        def counted(self, *a, **k):
            if not finer:
                raise RuntimeError("finer reads of pictures are off (0.3.17)")
            finer_reads.append(a[3])
            return clip_copy(self, *a, **k)

        RenderGuard.clip_copy = counted
        began, asked = time.perf_counter(), len(finer_reads)
        try:
            units = ingest_document(discover([path]).documents[0], options, spool).units
        finally:
            RenderGuard.clip_copy = clip_copy
        return units, time.perf_counter() - began, len(finer_reads) - asked

    def inside(units, rect) -> float:
        ocr = [w for u in units for w in u.words if w.ocr]
        within = [w for w in ocr if rect[0] <= (w.x0 + w.x1) / 2 <= rect[2] and rect[1] <= (w.y0 + w.y1) / 2 <= rect[3]]
        return len(within) / max(1, len(ocr))

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for name, index in PAGES:
            png, size, truth = page_scan(args.corpus / "docs" / name, index)
            cases += [("page", f"{Path(name).stem[:28]}_p{index + 1}", png, size, truth, w) for w in PAGE_WIDTHS]
            cases.append(("sideways", f"{Path(name).stem[:28]}_p{index + 1}_sideways", png, size, truth, SIDEWAYS_WIDTH))
        for name in SCANS:
            png, size, truth = corpus_scan(args.corpus / "docs" / name)
            cases += [("scan", Path(name).stem, png, size, truth, w) for w in SCAN_WIDTHS]
        for kind, label, png, size, truth, width in cases:
            path = tmp / f"{label}_{width}pt.pdf"
            rect = report(png, size, width, path, sideways=kind == "sideways")
            ingest(path, True, tmp / "spool")  # untimed
            before, before_s, _ = ingest(path, False, tmp / "spool")
            after, took, again = ingest(path, True, tmp / "spool")
            words, words_b = [w for u in after for w in u.words if w.ocr], [w for u in before for w in u.words if w.ocr]
            ocr, ocr_b = PDF_PRINT.recall(truth, words)[0], PDF_PRINT.recall(truth, words_b)[0]
            rows.append(dict(kind=kind, ocr=ocr, ocr_b=ocr_b, s=took, s_b=before_s, again=again, inside=inside(after, rect)))
            print(f"{label:36s} {width:4d} pt {len(truth):5d} words  recall {ocr:.3f} (before {ocr_b:.3f})  "
                  f"read again {again}  inside {rows[-1]['inside']:.3f}  {took:.1f} s (before {before_s:.1f} s)", flush=True)
        corpus_again = changed = pages = 0
        first_pages = IngestOptions(max_pages=4)
        for path in sorted((args.corpus / "docs").glob("*.pdf")):
            try:
                before, _, _ = ingest(path, False, tmp / "spool", first_pages)
                after, _, again = ingest(path, True, tmp / "spool", first_pages)
            except Exception:  # noqa: BLE001 - a document the pipeline refuses: nothing to count
                continue
            pages += len(after)
            corpus_again += again
            changed += sum(a.words != b.words for a, b in zip(after, before))
    pages_rows, scan_rows = [r for r in rows if r["kind"] == "page"], [r for r in rows if r["kind"] == "scan"]
    sideways_rows = [r for r in rows if r["kind"] == "sideways"]

    def mean(rs, key):
        return sum(r[key] for r in rs) / max(1, len(rs))

    print(f"RESULT recall={mean(pages_rows, 'ocr'):.3f} recall_before={mean(pages_rows, 'ocr_b'):.3f} "
          f"scan_recall={mean(scan_rows, 'ocr'):.3f} scan_recall_before={mean(scan_rows, 'ocr_b'):.3f} "
          f"sideways_recall={mean(sideways_rows, 'ocr'):.3f} sideways_recall_before={mean(sideways_rows, 'ocr_b'):.3f} "
          f"inside={min(r['inside'] for r in rows):.3f} "
          f"seconds_ratio={sum(r['s'] for r in rows) / max(1e-9, sum(r['s_b'] for r in rows)):.2f} "
          f"reread={sum(r['again'] for r in rows)} cases={len(rows)} corpus_reread={corpus_again} "
          f"corpus_changed={changed} corpus_pages={pages} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
