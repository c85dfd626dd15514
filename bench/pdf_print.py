"""Scanned PDF pages in fine print: read by OCR again at the scan's own resolution, against the single
read at --dpi (what gemmadoc did before 0.3.16).

Scans: consecutive pages of corpus PDFs printed 2-up on one A4 sheet (their 9-10 pt print at 4.5-5 pt,
as handouts and booklets are printed) and scanned at 300 dpi, and 3 x 3 on one sheet (3-3.5 pt, a sheet
of thumbnails, a contract's smallest print) scanned at 600 dpi: each sheet drawn with PyMuPDF, rendered
grey at that resolution and saved as an image-only PDF. Truth: the drawn sheet's distinct text-layer
words of 3+ letters or digits. A 1-up scan at 300 dpi (9-10 pt print, legible at 150 dpi) is the control: it must
not be read again.

Each scan is ingested with default options (`ingest_document`). Per sheet:
- `ocr_recall`: the share of its truth words found in the page's OCR words joined without spaces (OCR
  runs words together; quotes are verified without spaces); `*_before`: the same page's first read
  alone (its lossless copy at 150 dpi, `read_finely` without a finer copy), in the same process;
- `words_exact`: the share found as OCR words of their own (run-together words miss);
- `seconds_ratio`: seconds to ingest the fine-print scans / seconds of their first read alone (the old
  ingest's main cost, so the ratio overstates the new cost a little).
The corpus's PDFs and images (first 4 pages each) are ingested too, counting the pages and images read
again (`corpus_reread`) among those whose words OCR read (`corpus_ocr`).

    python bench/pdf_print.py [--sweep]

`--sweep` instead scans each fine-print sheet at 600 dpi and reads it once at each of SWEEP_DPI, printing
the recall and the letter width OCR measured there (how OCR_PITCH_PX and OCR_PITCH_GOAL_PX were chosen).

Ends with `RESULT ocr_recall=... ocr_recall_before=... words_exact=... words_exact_before=...
seconds_ratio=... control_recall=... control_recall_before=... control_reread=... sheets=...
corpus_reread=... corpus_ocr=... seconds=...`."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
A4 = (595.0, 842.0)
SHEETS = (  # (source, first page, pages a side, scan dpi)
    ("pdfjs_tracemonkey.pdf", 0, 2, 300),
    ("docling_redp5110_sampled.pdf", 2, 2, 300),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4, 2, 300),
    ("pdfjs_tracemonkey.pdf", 0, 3, 600),
)
CONTROL = ("pdfjs_tracemonkey.pdf", 1, 1, 300)
FIRST_READ_DPI = 150
SWEEP_DPI = (150, 300)
SWEEP_FONTS = (("helv", 4.5), ("cour", 4.0), ("tiro", 4.0), ("tiro", 3.5), ("tiro", 3.0))  # small print in PDF base fonts


@functools.cache
def bench_module(name: str):
    """Another script of bench/ as a module (loaded once): ocr_reach.py for its `as_scan` (an image-only
    PDF of a page scanned in grey)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def truth_keys(page) -> list[str]:
    """A drawn page's distinct words of 3+ letters or digits (as keys), so that a word read once does not
    count for its repeats."""
    return sorted({key(word[4]) for word in page.get_text("words") if len(key(word[4])) >= 3})


def n_up(source: Path, first: int, side: int):
    """(document, page): `side` x `side` pages of `source` from `first`, drawn on one A4 sheet."""
    import pymupdf

    src = pymupdf.open(source)
    sheet = pymupdf.open()
    page = sheet.new_page(width=A4[0], height=A4[1])
    w, h = A4[0] / side, A4[1] / side
    for k in range(side * side):
        if first + k < src.page_count:
            row, col = divmod(k, side)
            page.show_pdf_page(pymupdf.Rect(col * w, row * h, (col + 1) * w, (row + 1) * h), src, first + k)
    return sheet, page


def scan(source: Path, first: int, side: int, dpi: int, out: Path) -> list[str]:
    """The `n_up` sheet scanned at `dpi` into an image-only PDF at `out`; its truth keys."""
    _sheet, page = n_up(source, first, side)
    bench_module("ocr_reach").as_scan(page, out, dpi)
    return truth_keys(page)


def recall(truth: list[str], words) -> tuple[float, float]:
    """(share of truth keys in the joined words, share that are words of their own)."""
    joined = "".join(key(w.text) for w in words)
    own = {key(w.text) for w in words}
    n = max(1, len(truth))
    return sum(t in joined for t in truth) / n, sum(t in own for t in truth) / n


def first_read(path: Path, tmp: Path):
    """The page as gemmadoc read it before (a `Reading`): OCR of its lossless copy at FIRST_READ_DPI, once."""
    import pymupdf

    from pipeline.ingest.pdf import read_finely

    page = pymupdf.open(path)[0]
    copy = tmp / "first.png"
    page.get_pixmap(dpi=FIRST_READ_DPI, colorspace=pymupdf.csRGB).save(copy)
    return read_finely(str(copy), FIRST_READ_DPI / 72, page.rect.width, page.rect.height, 0.0)


def counting_rereads():
    """Wrap `reread_scale` where ingest calls it; returns the list each call's answer is appended to."""
    import pipeline.ingest.frames as frames
    import pipeline.ingest.image as image
    import pipeline.ingest.pdf as pdf

    answers: list = []
    original = pdf.reread_scale

    def counted(*args, **kwargs):
        answer = original(*args, **kwargs)
        answers.append(answer)
        return answer

    for module in (pdf, image, frames):
        module.reread_scale = counted
    return answers


def font_sample(corpus: Path, font: str, size: float, out: Path) -> list[str]:
    """A 300 x 200 pt page of a corpus paper's opening words in PDF base font `font` at `size` pt, scanned
    at 600 dpi into `out`; its truth keys."""
    import pymupdf

    words = " ".join(w[4] for w in pymupdf.open(corpus / "docs" / "pdfjs_tracemonkey.pdf")[0].get_text("words")[:400])
    drawn = pymupdf.open()
    page = drawn.new_page(width=300, height=200)
    page.insert_textbox(pymupdf.Rect(10, 10, 290, 190), words, fontsize=size, fontname=font)
    bench_module("ocr_reach").as_scan(page, out, 600)
    return truth_keys(page)


def sweep(corpus: Path) -> None:
    """Each fine-print sheet scanned at 600 dpi and read once at each of SWEEP_DPI; pages of small print
    in PDF base fonts, read at 150 and 300 dpi."""
    import numpy as np
    import pymupdf

    from pipeline.ingest.ocr import ocr_page
    from pipeline.legibility import letter_pitch

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheet.pdf"
        cases = [(f"{Path(name).stem[:24]} {side}-up", lambda n=name, f=first, k=side: scan(corpus / "docs" / n, f, k, 600, path), SWEEP_DPI)
                 for name, first, side, _ in SHEETS]
        cases += [(f"{font} {size:g} pt", lambda f=font, z=size: font_sample(corpus, f, z, path), SWEEP_DPI) for font, size in SWEEP_FONTS]
        for label, make, resolutions in cases:
            truth = make()
            page = pymupdf.open(path)[0]
            for dpi in resolutions:
                pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB)
                began = time.perf_counter()
                reading = ocr_page(np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3), scale=72 / dpi)
                (ocr, exact), pitch = recall(truth, reading.words), letter_pitch(reading.words)
                print(f"{label:32s} {dpi} dpi  ocr {ocr:.3f}  exact {exact:.3f}  letters "
                      f"{(pitch or 0) * dpi / 72:.2f} px  confidence {reading.confidence:.3f}  {time.perf_counter() - began:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--sweep", action="store_true", help="read each sheet at fixed resolutions instead")
    args = parser.parse_args()
    if args.sweep:
        sweep(args.corpus)
        return

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    import numpy as np

    from pipeline.ingest.ocr import ocr_page

    ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    answers = counting_rereads()
    start = time.perf_counter()
    sums = {k: [] for k in ("ocr", "ocr_before", "exact", "exact_before")}
    seconds = {"now": 0.0, "before": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n, (name, first, side, dpi) in enumerate((*SHEETS, CONTROL)):
            path = tmp / f"{Path(name).stem}_{side}up_{dpi}.pdf"
            truth = scan(args.corpus / "docs" / name, first, side, dpi, path)
            began = time.perf_counter()
            before = first_read(path, tmp)
            took_before = time.perf_counter() - began
            asked = len(answers)
            began = time.perf_counter()
            unit = ingest_document(discover([path]).documents[0], IngestOptions(), tmp / "spool").units[0]
            took = time.perf_counter() - began
            reread = [a for a in answers[asked:] if a is not None]
            (ocr, exact), (ocr_before, exact_before) = recall(truth, unit.words), recall(truth, before.words)
            print(f"{path.name:48s} {len(truth):5d} words  ocr {ocr:.3f} (before {ocr_before:.3f})  exact {exact:.3f} "
                  f"(before {exact_before:.3f}, confidence {before.confidence:.3f})  read again at {reread[0] * 72 if reread else 0:.0f} dpi  {took:.1f} s "
                  f"(before {took_before:.1f} s)", flush=True)
            if n == len(SHEETS):
                control = (ocr, ocr_before, len(reread))
                continue
            for k, v in (("ocr", ocr), ("ocr_before", ocr_before), ("exact", exact), ("exact_before", exact_before)):
                sums[k].append(v)
            seconds["now"] += took
            seconds["before"] += took_before
        asked, corpus_ocr = len(answers), 0
        for path in sorted((args.corpus / "docs").iterdir()):
            docs = discover([path]).documents
            if docs:
                units = ingest_document(docs[0], IngestOptions(max_pages=4), tmp / "corpus").units
                corpus_ocr += sum(unit.text_source == "ocr" for unit in units)
        corpus = answers[asked:]
    mean = {k: sum(v) / max(1, len(v)) for k, v in sums.items()}
    print(f"RESULT ocr_recall={mean['ocr']:.3f} ocr_recall_before={mean['ocr_before']:.3f} words_exact={mean['exact']:.3f}"
          f" words_exact_before={mean['exact_before']:.3f} seconds_ratio={seconds['now'] / max(seconds['before'], 1e-9):.2f}"
          f" control_recall={control[0]:.3f} control_recall_before={control[1]:.3f} control_reread={control[2]}"
          f" sheets={len(SHEETS)} corpus_reread={sum(a is not None for a in corpus)} corpus_ocr={corpus_ocr}"
          f" seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
