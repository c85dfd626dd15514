"""Pictures and video frames in small print that OCR reads surely: read once (pipeline 0.3.17: a reading
of mean confidence OCR_SURE or more is not read again, as PDF pages already were), against read again
finer whenever their letters came out under 6 px (0.3.16 for pictures and frames), in the same run.

Workloads, each with known text:
- scans saved as pictures (a scanner's or a phone app's PNG): born-digital corpus pages rendered grey at
  300 dpi, 1-up (9-11 pt print) and 2-up on one A4 sheet (4.5-5.5 pt print), which ingest reads at about
  half size, where their letters come out 3-6 px wide;
- small print: a drawing sheet (1600 x 700 pt, 5-pt labels) saved at 300 dpi and shown across a 4K
  screen recording; with --fonts, A4 pages of 4-4.5-pt Helvetica, Courier and Times saved at 300 dpi;
- a 2880 x 1620 screen in 8-px print (a 4K screen's 10-pt print, shrunk), as a PNG and as a one-second
  video: OCR reads it poorly at first, so it must still be read again;
- the corpus pictures and videos, read with default options: how many are read again each way.
Truth: the page's distinct text-layer words of 3+ letters or digits (`bench/pdf_print.py`'s `scan`).

Per workload, both ways (`OCR_SURE` set out of reach for "before"), in the same process, after one
untimed ingest without the gate (the first read of a new picture size costs OCR's sessions more):
- `recall`: the share of its truth words found in the words OCR gave, joined without spaces;
- `words_exact`: the share found as words of their own (RapidOCR runs words together, more so finer);
- seconds of `ingest_document`, and whether it was read again.

    python bench/reread_gate.py [--corpus DIR] [--fonts]

Ends with `RESULT recall=... recall_before=... words_exact=... words_exact_before=... seconds_ratio=...
reread=... reread_before=... unsure_recall=... unsure_recall_before=... cases=... corpus_reread=...
corpus_reread_before=... corpus_files=... seconds=...` (`recall`, `words_exact` and `seconds_ratio` over
the workloads read surely at first that were read again before: the ones the gate changes; `unsure_*`
over those read less surely, which must be read again as before)."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench import pdf_print as PDF_PRINT  # noqa: E402 - once ROOT is on the path

PAGES = (  # (corpus PDF, first page, pages a side) scanned at 300 dpi and saved as PNG
    ("pdfjs_tracemonkey.pdf", 1, 1),
    ("docling_2305.03393v1-pg9.pdf", 0, 1),
    ("pdfjs_freeculture.pdf", 20, 1),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4, 1),
    ("sample-files_google-doc-document.pdf", 0, 1),
    ("pdfjs_tracemonkey.pdf", 0, 2),
    ("docling_redp5110_sampled.pdf", 2, 2),
    ("mupdf_test_3842_nist_sp800-223.pdf", 4, 2),
)
SCAN_DPI = 300
FONTS = (("helv", 4.5), ("cour", 4.0), ("tiro", 4.0))  # small print that reads surely (bench/pdf_print.py --sweep)
SCREEN = (2880, 1620)
UHD = (3840, 2160)



def scanned_picture(source: Path, first: int, side: int, out: Path) -> list[str]:
    """`side` x `side` pages of `source` on one A4 sheet (`pdf_print.n_up`), rendered grey at SCAN_DPI and
    saved as a PNG at `out`; its truth keys."""
    import pymupdf

    _sheet, page = PDF_PRINT.n_up(source, first, side)
    page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY).save(out)
    return PDF_PRINT.truth_keys(page)


def font_picture(corpus: Path, font: str, size: float, out: Path) -> list[str]:
    """An A4 page of a corpus paper's words in PDF base font `font` at `size` pt (as much as fits), saved
    at SCAN_DPI; its truth keys."""
    import pymupdf

    paper = pymupdf.open(corpus / "docs" / "pdfjs_tracemonkey.pdf")
    words = [w[4] for n in range(4) for w in paper[n].get_text("words") if len(w[4]) < 20]
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    box = pymupdf.Rect(30, 30, 565, 812)
    while words and page.insert_textbox(box, " ".join(words), fontsize=size, fontname=font) < 0:
        words = words[:int(len(words) * 0.9)]  # PyMuPDF draws nothing when the text does not fit
    page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY).save(out)
    return PDF_PRINT.truth_keys(page)


def _sheet():
    """(document, page): a 1600 x 700 pt drawing sheet of 12 labels in 5-pt print (tests/test_ingest.py's)."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=1600, height=700)
    for i in range(12):
        page.insert_text((60 + 500 * (i % 3), 60 + 50 * (i // 3)), f"Beam B{100 + i} length {3 * i + 2}.{i + 10} m", fontsize=5)
    return doc, page


def _one_second_video(bgr, out: Path) -> None:
    """A one-frame, one-second MJPG video of the BGR frame `bgr`."""
    import cv2

    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 1, (bgr.shape[1], bgr.shape[0]))
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    writer.write(bgr)
    writer.release()


def drawing_sheet(out: Path) -> list[str]:
    """The drawing sheet saved at SCAN_DPI; its truth keys."""
    import pymupdf

    _doc, page = _sheet()
    page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY).save(out)
    return PDF_PRINT.truth_keys(page)


def sheet_video(out: Path) -> list[str]:
    """The drawing sheet shown across a 4K screen (its 5-pt labels about 6 px wide a letter), recorded
    for one second; its truth keys."""
    import numpy as np
    import pymupdf

    _doc, page = _sheet()
    pix = page.get_pixmap(matrix=pymupdf.Matrix(UHD[0] / 1600, UHD[0] / 1600), alpha=False)
    frame = np.full((UHD[1], UHD[0], 3), 255, np.uint8)
    frame[:pix.height, :pix.width] = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)[:, :, ::-1]
    _one_second_video(frame, out)
    return PDF_PRINT.truth_keys(page)


def screen(out_png: Path, out_video: Path) -> list[str]:
    """A SCREEN-sized screen of 24 lines in 8-px print (tests/test_tiles.py's), as a PNG and a one-second
    video; its truth keys."""
    import cv2
    import numpy as np
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=SCREEN[0], height=SCREEN[1])
    for k in range(24):
        col, row = divmod(k, 12)
        page.insert_text((40 + col * 1420, 60 + row * 20), f"Ticket {4200 + k}: pump station {k % 7} pressure "
                         f"{30 + k}.5 bar, valve closed by operator Lindqvist", fontsize=8)
    pix = page.get_pixmap(alpha=False)
    bgr = np.ascontiguousarray(np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)[:, :, ::-1])
    cv2.imwrite(str(out_png), bgr)
    _one_second_video(bgr, out_video)
    return PDF_PRINT.truth_keys(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--fonts", action="store_true",
                        help="also A4 pages of 4-4.5-pt Helvetica, Courier and Times (read less surely: ~15 minutes more)")
    args = parser.parse_args()

    import numpy as np

    import pipeline.ingest.frames as frames
    import pipeline.ingest.image as image
    import pipeline.ingest.result as result
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.ingest.ocr import ocr_page
    from schemas.options import IngestOptions

    pdf_print = PDF_PRINT
    ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    answers = pdf_print.counting_rereads()
    first_confidence: list[float] = []
    for module in (image, frames):  # the first reading's confidence of each picture and frame
        def recorded(*a, _ocr=module.ocr_page, **k):
            reading = _ocr(*a, **k)
            first_confidence.append(reading.confidence)
            return reading

        module.ocr_page = recorded
    sure = result.OCR_SURE

    def ingest(path: Path, gate: bool, spool: Path) -> tuple[list, float, bool, float]:
        """(words, seconds, read again, first confidence) of one ingest, with the gate or without."""
        result.OCR_SURE = sure if gate else math.inf
        asked, read = len(answers), len(first_confidence)
        began = time.perf_counter()
        try:
            units = ingest_document(discover([path]).documents[0], IngestOptions(), spool).units
        finally:
            result.OCR_SURE = sure
        took = time.perf_counter() - began
        words = [w for u in units for w in u.words]
        again = any(a is not None for a in answers[asked:])
        return words, took, again, (first_confidence[read] if len(first_confidence) > read else float("nan"))

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for name, first, side in PAGES:
            path = tmp / f"{Path(name).stem[:28]}_p{first + 1}_{side}up.png"
            cases.append((path.name, path, scanned_picture(args.corpus / "docs" / name, first, side, path)))
        if args.fonts:
            for font, size in FONTS:
                path = tmp / f"{font}_{size:g}pt.png"
                cases.append((path.name, path, font_picture(args.corpus, font, size, path)))
        cases.append(("drawing_sheet_5pt.png", tmp / "sheet.png", drawing_sheet(tmp / "sheet.png")))
        cases.append(("drawing_sheet_4k.avi", tmp / "sheet.avi", sheet_video(tmp / "sheet.avi")))
        truth = screen(tmp / "screen.png", tmp / "screen.avi")
        cases += [("screen_8px.png", tmp / "screen.png", truth), ("screen_8px.avi", tmp / "screen.avi", truth)]
        for label, path, truth in cases:
            ingest(path, False, tmp / "spool")  # untimed: OCR's sessions meet every picture size either side reads
            before_words, before_s, before_again, confidence = ingest(path, False, tmp / "spool")
            words, took, again, _ = ingest(path, True, tmp / "spool")
            (ocr, exact), (ocr_b, exact_b) = pdf_print.recall(truth, words), pdf_print.recall(truth, before_words)
            rows.append(dict(label=label, sure=confidence >= sure, ocr=ocr, exact=exact, ocr_b=ocr_b, exact_b=exact_b,
                             s=took, s_b=before_s, again=again, again_b=before_again))
            print(f"{label:44s} {len(truth):5d} words  confidence {confidence:.3f}  recall {ocr:.3f} (before {ocr_b:.3f})  "
                  f"exact {exact:.3f} (before {exact_b:.3f})  read again {'yes' if again else 'no'} "
                  f"(before {'yes' if before_again else 'no'})  {took:.1f} s (before {before_s:.1f} s)", flush=True)
        corpus = sorted(p for sub in ("docs", "video") for p in (args.corpus / sub).glob("*")
                        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".gif", ".mp4", ".avi", ".webm", ".mov"))
        corpus_again = {True: 0, False: 0}
        for path in corpus:
            for gate in (False, True):
                try:
                    _, _, again, _ = ingest(path, gate, tmp / "spool")
                except Exception:  # noqa: BLE001 - a damaged corpus file: counted as not read again
                    again = False
                corpus_again[gate] += again
    sure_rows = [r for r in rows if r["sure"] and r["again_b"]]  # the ones the gate leaves alone now
    unsure = [r for r in rows if not r["sure"]]

    def mean(rs, key):
        return sum(r[key] for r in rs) / max(1, len(rs))

    print(f"RESULT recall={mean(sure_rows, 'ocr'):.3f} recall_before={mean(sure_rows, 'ocr_b'):.3f} "
          f"words_exact={mean(sure_rows, 'exact'):.3f} words_exact_before={mean(sure_rows, 'exact_b'):.3f} "
          f"seconds_ratio={sum(r['s'] for r in sure_rows) / max(1e-9, sum(r['s_b'] for r in sure_rows)):.2f} "
          f"reread={sum(r['again'] for r in rows)} reread_before={sum(r['again_b'] for r in rows)} "
          f"unsure_recall={mean(unsure, 'ocr'):.3f} unsure_recall_before={mean(unsure, 'ocr_b'):.3f} cases={len(rows)} "
          f"corpus_reread={corpus_again[True]} corpus_reread_before={corpus_again[False]} corpus_files={len(corpus)} "
          f"seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
