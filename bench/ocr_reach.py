"""What OCR reads of pages whose text only OCR can reach: a scan under a stamped line, a full-page
screenshot, a scanned till roll, a scanned A1 drawing, a drawing sheet larger than the model's area cap,
a wide screenshot, scanned pages turned a quarter either way and upside down. Each workload is built here (PyMuPDF text rendered to pixels, so the truth is known)
and read by `ingest_document` with default options; a line counts as read when its text without spaces
appears in the page's words without spaces (OCR runs words together).

    python bench/ocr_reach.py [--code-root PATH]   (PATH: another checkout, e.g. an older commit)

Ends with `RESULT stamped_words_per_page=... screenshot_lines=... till_tokens=... a1_lines=...
sheet_lines=... wide_lines=... turned_pages=... seconds=...` (words a page for the stamped scan, the rest
the share of the truth read; a turned page counts when its whole text reads in order)."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def text_page(width: float, height: float, lines: list[tuple[float, float, str]], fontsize: float):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    for x, y, text in lines:
        page.insert_text((x, y), text, fontsize=fontsize)
    return doc, page


def as_scan(page, path: Path, dpi: int = 200) -> Path:
    """An image-only PDF of the page, scanned at `dpi` in grey."""
    import pymupdf

    scan = pymupdf.open()
    scan.new_page(width=page.rect.width, height=page.rect.height).insert_image(
        page.rect, stream=page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY).tobytes("png"))
    scan.save(path)
    return path


def workloads(tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    """name -> (file, the strings that count as read)."""
    import pymupdf

    rnd = random.Random(0)
    out = {}
    statement = CORPUS / "docs" / "mupdf_test_4090_scanned_bank_statement.pdf"
    if statement.exists():  # the corpus scan with a Bates number stamped on each page
        doc = pymupdf.open(statement)
        for i, page in enumerate(doc):
            page.insert_text((page.rect.width - 150, page.rect.height - 20), f"ACME-{i + 1:06d}", fontsize=9)
        doc.save(tmp / "stamped.pdf")
        out["stamped_words_per_page"] = (tmp / "stamped.pdf", [])  # counted: the scan has no text to compare with
    lines = [f"Order {1000 + i} shipped to {rnd.choice(['Berlin', 'Madrid', 'Oslo', 'Lyon', 'Porto'])} for EUR "
             f"{rnd.randint(10, 999)}.{rnd.randint(10, 99)}" for i in range(330)]
    _, page = text_page(720, 6000, [(20, 20 + 18 * i, t) for i, t in enumerate(lines)], 7.5)
    page.get_pixmap(matrix=pymupdf.Matrix(2, 2)).save(tmp / "screenshot.png")  # 1440 x 12000 px
    out["screenshot_lines"] = (tmp / "screenshot.png", lines)
    _, page = text_page(227, 1701, [(12, 30 + i * 27, f"ITEM {i:03d}  {i * 1.25:8.2f}") for i in range(60)], 9)
    # the item numbers and prices, each a word of its own (`ITEM 000`: RapidOCR ran it together until 0.3.14
    # put its space back, and the count, of `ITEM000`, fell to half)
    out["till_tokens"] = (as_scan(page, tmp / "till.pdf"), [f"{i:03d}" for i in range(60)] + [f"{i * 1.25:.2f}" for i in range(60)])
    labels = [(rnd.uniform(40, 1300), rnd.uniform(40, 2340), f"Part {2000 + i} steel {rnd.randint(10, 99)} mm") for i in range(60)]
    _, page = text_page(1684, 2384, labels, 9)  # A1
    out["a1_lines"] = (as_scan(page, tmp / "a1.pdf"), [t for _, _, t in labels])
    beams = [(60 + 500 * (i % 3), 60 + 50 * (i // 3), f"Beam B{100 + i} length {3 * i + 2}.{i + 10} m") for i in range(12)]
    _, page = text_page(1600, 700, beams, 5)
    out["sheet_lines"] = (as_scan(page, tmp / "sheet.pdf"), [t for _, _, t in beams])
    items = [(20 + 500 * c, 20 + 21 * i, f"Item {100 + i * 3 + c} costs EUR {17 * i + c}.{(i * 7 + c) % 90 + 10}")
             for i in range(20) for c in range(3)]
    _, page = text_page(1500, 450, items, 6)
    page.get_pixmap(matrix=pymupdf.Matrix(2, 2)).save(tmp / "wide.png")  # 3000 x 900 px
    out["wide_lines"] = (tmp / "wide.png", [t for _, _, t in items])
    out["turned_pages"] = (turned_scans(tmp / "turned.pdf"), [turned_text(k) for k in (1, 2, 3)])
    return out


def turned_text(k: int) -> str:
    return (f"Sheet {k} of the quarterly maintenance report for the north plant. The pumps were serviced on "
            f"{10 + k} March 2026. Total cost of parts and labour: {4000 + 137 * k}.50 EUR.")


def turned_scans(path: Path) -> Path:
    """Three scanned pages of 16-pt print, turned a quarter counter-clockwise, upside down and a quarter
    clockwise (a landscape sheet fed the wrong way): read in order, each page's text is one string."""
    import numpy as np
    import pymupdf

    scan = pymupdf.open()
    for k in (1, 2, 3):
        doc = pymupdf.open()
        page = doc.new_page(width=595, height=842)
        page.insert_textbox(pymupdf.Rect(60, 80, 535, 500), turned_text(k), fontsize=16)
        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
        pixels = np.ascontiguousarray(np.rot90(np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w), k))
        h, w = pixels.shape
        turned = pymupdf.Pixmap(pymupdf.csGRAY, w, h, pixels.tobytes(), False)
        scan.new_page(width=w * 72 / 150, height=h * 72 / 150).insert_image(
            pymupdf.Rect(0, 0, w * 72 / 150, h * 72 / 150), stream=turned.tobytes("png"))
    scan.save(path)
    return path


def read_share(units, truth: list[str], tokens: bool) -> float:
    if not truth:
        return sum(len(u.words) for u in units) / max(1, len(units))
    if tokens:
        got = {w.text for u in units for w in u.words}
        return sum(1 for t in truth if t in got) / len(truth)
    got = "".join(w.text for u in units for w in u.words)
    return sum(1 for t in truth if t.replace(" ", "") in got) / len(truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code-root", default=str(ROOT), help="checkout whose pipeline is measured")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.code_root).resolve()))
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    results, total = {}, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, (path, truth) in workloads(tmp).items():
            doc = discover([path]).documents[0]
            t = time.perf_counter()
            units = ingest_document(doc, IngestOptions(), tmp / "spool").units
            seconds = time.perf_counter() - t
            total += seconds
            results[name] = read_share(units, truth, tokens=name == "till_tokens")
            print(f"{name:22s} {results[name]:.3f} read, {seconds:.1f} s, units {[u.text_source for u in units][:5]}", flush=True)
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in results.items()) + f" seconds={total:.1f}")


if __name__ == "__main__":
    main()
