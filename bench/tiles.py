"""Large sheets in small print shown in tiles vs whole: how much of each sheet's text the model can read,
and the image tokens it costs.

Sheets: consecutive pages of corpus PDFs printed n-up at full size on one large sheet (2 x 2 A4 pages on
A2, 3 x 3 on A1 scaled to fit, 4 x 4 on A0), as a plan set, a poster of pages or a sheet of figures is
printed: real fonts, real layouts, 9-10 pt print on a sheet one image shows at 5-11 px. The 2 x 2 and
3 x 3 sheets are also scanned (rendered at 150 dpi into an image-only PDF) and read by OCR.

Each sheet is ingested with default options. Its prompt images at the budget gemmadoc gives it
(`pipeline.prompt.unit_segments`: tiles, each at `unit_budget`) and, in the same run, the same picture
shown whole at the largest budget (what gemmadoc did before 0.3.12) are resized as Gemma 4's processor
resizes them (`model_view.py`) and read back by OCR as a judge: a word (3+ letters or digits) of the
sheet's text layer counts as read when OCR reads it in a view. A control ingests the first 4 pages of
every corpus PDF and image and counts those shown in tiles (their tokens change).

    python bench/tiles.py

Ends with `RESULT words_read=... words_read_whole=... worst_sheet=... worst_sheet_whole=...
token_ratio=... sheets=... corpus_pages_tiled=... corpus_pages=... seconds=...` (`token_ratio`: image
tokens in tiles / whole, on the sheets)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
A4 = (595.0, 842.0)
SHEETS = {2: (1191.0, 1684.0), 3: (1684.0, 2384.0), 4: (2384.0, 3370.0)}  # A2, A1, A0 (portrait)
SOURCES = ("mupdf_test_3842_nist_sp800-223.pdf", "docling_redp5110_sampled.pdf", "pdfjs_tracemonkey.pdf")


def _model_view():
    spec = importlib.util.spec_from_file_location("model_view", ROOT / "bench" / "model_view.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def n_up(source: Path, n: int, out: Path) -> list[str]:
    """Pages 1..n*n of `source` on one sheet, n across and n down, each scaled to fit its cell; the
    sheet's words (3+ letters or digits)."""
    import pymupdf

    src = pymupdf.open(source)
    sheet = pymupdf.open()
    width, height = SHEETS[n]
    page = sheet.new_page(width=width, height=height)
    cell_w, cell_h = width / n, height / n
    for k in range(min(n * n, src.page_count)):
        row, col = divmod(k, n)
        page.show_pdf_page(pymupdf.Rect(col * cell_w, row * cell_h, (col + 1) * cell_w, (row + 1) * cell_h), src, k)
    sheet.save(out)
    return [w[4] for w in sheet[0].get_text("words") if sum(c.isalnum() for c in w[4]) >= 3]


def scanned(path: Path, out: Path) -> None:
    """`path`'s first page rendered at 150 dpi into an image-only PDF of the same size."""
    import pymupdf

    page = pymupdf.open(path)[0]
    scan = pymupdf.open()
    scan.new_page(width=page.rect.width, height=page.rect.height).insert_image(page.rect, pixmap=page.get_pixmap(dpi=150))
    scan.save(out)


def corpus_control(corpus: Path, spool: Path) -> tuple[int, int]:
    """(pages shown in tiles, pages) over the first 4 pages of every corpus PDF and image."""
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.slices import kept_tile_side
    from schemas.options import IngestOptions

    tiled = pages = 0
    for path in sorted(p for p in (corpus / "docs").iterdir() if p.suffix.lower() in {".pdf", ".png", ".jpg", ".jpeg"}):
        docs = discover([path]).documents
        if not docs:
            continue
        for unit in ingest_document(docs[0], IngestOptions(max_pages=4), spool).units:
            pages += 1
            if kept_tile_side(unit.image_width, unit.image_height) > 1:
                tiled += 1
                print(f"  corpus page shown in tiles: {path.name} p{unit.page}", flush=True)
    return tiled, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()

    from model.images import load_image
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.legibility import unit_budget
    from pipeline.prompt import unit_segments
    from schemas.options import IMAGE_BUDGETS, IngestOptions, PlanOptions

    view = _model_view()
    budgets = PlanOptions().budgets()
    start = time.perf_counter()
    shares = {"tiles": [], "whole": []}
    tokens = {"tiles": 0, "whole": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sheets = []
        for name in SOURCES:
            for n in SHEETS:
                path = tmp / f"{Path(name).stem}_{n}x{n}.pdf"
                words = n_up(args.corpus / "docs" / name, n, path)
                sheets.append((path, words))
                if n < 4:
                    scanned(path, tmp / f"{path.stem}_scan.pdf")
                    sheets.append((tmp / f"{path.stem}_scan.pdf", words))
        for path, words in sheets:
            unit = ingest_document(discover([path]).documents[0], IngestOptions(), tmp / "spool").units[0]
            budget = unit_budget(unit, budgets)
            tiles = [load_image(s.image) for s in unit_segments(unit, budget, False) if s.kind == "image"]
            side = {"tiles": view.words_read(tiles, words, budget),
                    "whole": view.words_read([load_image(unit.image)], words, IMAGE_BUDGETS[-1])}
            for k, (share, n) in side.items():
                shares[k].append(share)
                tokens[k] += n
            print(f"{path.name:52s} {unit.text_source:4s} {len(tiles)} x {budget:4d}: {side['tiles'][0]:.3f} ({side['tiles'][1]:5d} tokens)"
                  f"  whole 1120: {side['whole'][0]:.3f} ({side['whole'][1]} tokens)", flush=True)
        tiled, pages = corpus_control(args.corpus, tmp / "control")
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    print(f"RESULT words_read={mean['tiles']:.3f} words_read_whole={mean['whole']:.3f} worst_sheet={min(shares['tiles']):.3f}"
          f" worst_sheet_whole={min(shares['whole']):.3f} token_ratio={tokens['tiles'] / tokens['whole']:.2f}"
          f" sheets={len(shares['tiles'])} corpus_pages_tiled={tiled} corpus_pages={pages}"
          f" seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
