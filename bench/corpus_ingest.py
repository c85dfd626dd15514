"""Every corpus PDF and image through `ingest_document` with default options: the cost of a change to
ingest, and what it changed (pages, words, pages shown turned, OCR'd pages), file by file.

    python bench/corpus_ingest.py [--code-root OLD_CHECKOUT] [--json OUT.json]

Run it once with `--code-root` on a worktree of the older commit and once without, one after the other,
and compare the two JSON files. Ends with `RESULT documents=... pages=... words=... seconds=...`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code-root", default=str(ROOT), help="checkout whose pipeline is measured")
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--json", help="write the per-file figures here")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(args.code_root).resolve()))
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    corpus = Path(args.corpus)
    found = [d for d in discover([corpus / "docs", corpus / "hostile"]).documents if d.media_type != "video"]
    per_file = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as spool:
        for doc in found:
            t = time.perf_counter()
            try:
                units = ingest_document(doc, IngestOptions(), Path(spool)).units
            except Exception:  # noqa: BLE001 - a file that fails counts as no pages
                units = []
            per_file[doc.name] = dict(seconds=round(time.perf_counter() - t, 2), pages=len(units),
                                      words=sum(len(u.words) for u in units),
                                      turned=[u.page for u in units if u.image.turn],
                                      ocr_pages=sum(u.text_source in ("ocr", "mixed") for u in units))
    seconds = time.perf_counter() - start
    if args.json:
        Path(args.json).write_text(json.dumps(per_file, indent=1))
    print(f"RESULT documents={len(per_file)} pages={sum(f['pages'] for f in per_file.values())} "
          f"words={sum(f['words'] for f in per_file.values())} seconds={seconds:.1f}")


if __name__ == "__main__":
    main()
