"""How much of each corpus document's text the pipeline reads: word recall of the page words (text layer
or OCR, as `ingest_document` gives them with default options) against the corpus ground truth (SROIE box
lines, docling markdown, tesseract markdown). A ground-truth word counts once per occurrence; words are
runs of letters and digits, case-folded, so OCR that runs words together scores lower here than it
grounds (grounding matches without spaces). Then the same for copies of the documents with a text layer
whose fonts map to the wrong letters (`tests.hostile_inputs.miscoded_pdf`: 'Ebuf' for 'Date', as a broken
export gives; the pages look the same), against the same ground truth.

    python bench/text_recall.py [--code-root PATH]   (PATH: another checkout, e.g. an older commit)

Ends with `RESULT mean_recall=... min_recall=... documents=... miscoded_recall=... miscoded_documents=... seconds=...`."""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DOCLING = ("docling_ocr_test", "docling_ocr_test_rotated_90", "docling_2305.03393v1-pg9", "docling_code_and_formula",
           "docling_table_mislabeled_as_picture", "docling_right_to_left_01", "docling_redp5110_sampled")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def recall(truth: list[str], got: list[str]) -> float:
    have = collections.Counter(got)
    hit = 0
    for w in truth:
        if have[w] > 0:
            have[w] -= 1
            hit += 1
    return hit / max(1, len(truth))


def cases() -> list[tuple[Path, str]]:
    """(document, its ground-truth text) for every corpus document with a text ground truth."""
    gt = CORPUS / "groundtruth"
    out = []
    for n in ("005", "017", "042", "099"):
        rows = (gt / f"sroie_{n}.box.csv").read_text(errors="replace").splitlines()
        out.append((CORPUS / "docs" / f"sroie_{n}.jpg", " ".join(r.split(",", 8)[8] for r in rows if r.count(",") >= 8)))
    for stem in DOCLING:
        md = gt / f"{stem}.md"
        if not md.exists():
            md = gt / f"{stem}.tesseract.full_page.md"
        text = re.sub(r"<[^>]+>|[#|*`_\[\]()-]", " ", md.read_text())  # markdown and HTML marks are no words
        out.append((CORPUS / "docs" / f"{stem}.pdf", text))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code-root", default=str(ROOT), help="checkout whose pipeline is measured")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.code_root).resolve()))
    if not CORPUS.exists():
        sys.exit(f"the corpus is not at {CORPUS}")
    miscoded_pdf = _this_checkouts("tests/hostile_inputs.py").miscoded_pdf  # the same inputs for any code measured
    scores, miscoded, total = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for path, truth in cases():
            copy = Path(tmp) / f"miscoded_{path.name}"
            runs = [(path, scores)]
            if path.suffix == ".pdf" and pdf_text(path) and miscoded_pdf(path, copy):
                runs.append((copy, miscoded))
            for document, into in runs:
                got, seconds = read_words(document, Path(tmp))
                total += seconds
                into.append(recall(words(truth), got))
                print(f"{document.name:55s} recall {into[-1]:.3f}  {seconds:5.1f} s", flush=True)
    print(f"RESULT mean_recall={sum(scores) / len(scores):.3f} min_recall={min(scores):.3f} documents={len(scores)} "
          f"miscoded_recall={sum(miscoded) / len(miscoded):.3f} miscoded_documents={len(miscoded)} seconds={total:.1f}")


def read_words(path: Path, spool: Path) -> tuple[list[str], float]:
    """The words ingest reads of a document with default options, and the seconds it took."""
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    doc = discover([path]).documents[0]
    t = time.perf_counter()
    units = ingest_document(doc, IngestOptions(), spool).units
    return [w for u in units for word in u.words for w in words(word.text)], time.perf_counter() - t


def _this_checkouts(relative: str):
    """A module of this checkout by its file, whichever checkout's code is on the path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_inputs", ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pdf_text(path: Path) -> bool:
    """The PDF has a text layer (a scan's copy would change nothing)."""
    import pymupdf

    with pymupdf.open(path) as doc:
        return any(page.get_text().strip() for page in doc)


if __name__ == "__main__":
    main()
