"""What OCR reads off a PDF page, from the page's lossless pixels or from the JPEG the model is shown.

Workload: the first 2 pages of every born-digital corpus PDF in bench/grounding.py's list (their text layer
is the truth), and the first 6 pages of the corpus PDFs without a text layer (docling_ocr_test's truth is
the corpus's Tesseract transcript; the others have none, so only their tokens are counted), each rendered
at 150 dpi as the page worker does. Each page is read by `ocr_page` twice in one process: from the
rendered pixels (lossless) and from those pixels after the JPEG encoding at quality 90 that the page image
gets (what OCR read until pipeline 0.3.13). Word recall: the truth's words (runs of letters and digits,
case-folded, each counted once per occurrence) found among the OCR tokens' words, so words OCR runs
together are not found ('Invoicenumber1542'). Run-together: OCR tokens that hold two or more of the page's
text-layer words.

    python bench/ocr_input.py

Ends with `RESULT recall_lossless=... recall_jpeg=... run_together_lossless=... run_together_jpeg=...
scan_recall_lossless=... scan_recall_jpeg=... pages=... seconds_lossless=... seconds_jpeg=...`."""

from __future__ import annotations

import collections
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
CORPUS = ROOT.parent / "shared" / "corpus"
SCANS = {"docling_ocr_test.pdf": "groundtruth/docling_ocr_test.tesseract.full_page.md", "mupdf_test_3863_scanned_forms.pdf": None,
         "mupdf_test_4090_scanned_bank_statement.pdf": None}
from text_recall import recall, words  # noqa: E402 - the same word split and count as bench/text_recall.py

NOT_READ = {"mupdf_chinese-tables.pdf", "docling_right_to_left_01.pdf", "tabula_mednine.pdf"}  # scripts OCR does not read, or CJK


def as_jpeg(pixels):
    """The pixels after the page image's JPEG encoding (Pillow, quality 90, as `render_page` saves it)."""
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return np.asarray(Image.open(buf).convert("RGB"))


def pages():
    """(name, RGB pixels at 150 dpi, truth words or None, text-layer words or None)."""
    import numpy as np
    import pymupdf

    from grounding import BORN_DIGITAL

    pymupdf.TOOLS.mupdf_display_errors(False)
    for name in BORN_DIGITAL + list(SCANS):
        if name in NOT_READ:
            continue
        doc = pymupdf.open(CORPUS / "docs" / name)
        truth_file = SCANS.get(name)
        for i in range(min(2 if name not in SCANS else 6, doc.page_count)):
            pix = doc[i].get_pixmap(dpi=150, colorspace=pymupdf.csRGB, alpha=False)
            pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
            if name in SCANS:
                truth = words((CORPUS / truth_file).read_text()) if truth_file else None
                yield f"{name}#{i + 1}", pixels, truth, None
            else:
                layer = [w[4] for w in doc[i].get_text("words")]
                yield f"{name}#{i + 1}", pixels, words(" ".join(layer)), layer


def run_together(tokens: list[str], layer: list[str]) -> int:
    """OCR tokens that hold two or more of the page's text-layer words, run together."""
    known = set(words(" ".join(layer)))
    count = 0
    for token in tokens:
        parts = words(token)
        if len(parts) == 1 and len(parts[0]) >= 6 and parts[0] not in known:
            word = parts[0]
            if any(word[:k] in known and word[k:] in known for k in range(2, len(word) - 1)):
                count += 1
    return count


def count_recall(tally: collections.Counter, kind: str, truth: list[str] | None, tokens: list[str]) -> str:
    """Add a page's hits and truth words to `tally` under `kind` ('born' or 'scan'); 'hit/of' (or the
    token count where there is no truth) for its line of output."""
    if not truth:
        return f"{len(tokens)} tokens"
    hit = round(recall(truth, words(" ".join(tokens))) * len(truth))
    tally[f"{kind}_hit"] += hit
    tally[f"{kind}_of"] += len(truth)
    return f"{hit}/{len(truth)}"


def recall_share(tally: collections.Counter, kind: str) -> float:
    """The share of `kind`'s truth words found, over all pages counted into `tally`."""
    return tally[f"{kind}_hit"] / max(1, tally[f"{kind}_of"])


def main() -> None:
    from pipeline.ingest.ocr import ocr_page

    start = time.perf_counter()
    tally = {side: collections.Counter() for side in ("lossless", "jpeg")}
    n = 0
    for name, pixels, truth, layer in pages():
        n += 1
        line = [f"{name:50s}"]
        for side, shown in (("lossless", pixels), ("jpeg", as_jpeg(pixels))):
            t0 = time.perf_counter()
            tokens = [w.text for w in ocr_page(shown, quarter_turns=True).words]
            tally[side]["seconds"] += time.perf_counter() - t0
            kind = "scan" if layer is None else "born"
            tally[side][f"{kind}_tokens"] += len(tokens)
            line.append(f"{side} {count_recall(tally[side], kind, truth, tokens)}")
            if layer is not None:
                together = run_together(tokens, layer)
                tally[side]["together"] += together
                line.append(f"({together} run together)")
        print("  ".join(line), flush=True)

    def share(side: str, key: str) -> float:
        return recall_share(tally[side], key)

    for side in tally:
        print(f"{side:8s}: born-digital recall {share(side, 'born'):.3f}, {tally[side]['born_tokens']} tokens, "
              f"{tally[side]['together']} run together; scans recall {share(side, 'scan'):.3f}, "
              f"{tally[side]['scan_tokens']} tokens; OCR {tally[side]['seconds']:.1f} s")
    print(f"RESULT recall_lossless={share('lossless', 'born'):.3f} recall_jpeg={share('jpeg', 'born'):.3f} "
          f"run_together_lossless={tally['lossless']['together']} run_together_jpeg={tally['jpeg']['together']} "
          f"scan_recall_lossless={share('lossless', 'scan'):.3f} scan_recall_jpeg={share('jpeg', 'scan'):.3f} pages={n} "
          f"seconds_lossless={tally['lossless']['seconds']:.1f} seconds_jpeg={tally['jpeg']['seconds']:.1f} "
          f"seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
