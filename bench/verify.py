#!/usr/bin/env python3
"""Citation verification through the public API (`gemmadoc.verify`) on a 352-page corpus PDF.

1. `gemmadoc.open_document` on a cold cache (timed: `ingest_s`, OCR off as the file has a text layer),
   then again on the warm cache (disk), counting real ingests (must be 1).
2. 2,000 citations: spans of 3-12 words from the text layer, a third with the right page, a third
   with a wrong page (relocation), a third with none, plus 500 quotes that are in no page (negatives).
3. The same citations through `DocumentGrounder` directly in the same process: the API's overhead.

Usage: python bench/verify.py [--seed 0] [--quotes 2000]
Ends with: RESULT verify_quotes_per_s=<x> ingest_s=<y>
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gemmadoc  # noqa: E402
import pipeline.documents as documents  # noqa: E402
from pipeline.grounding import DocumentGrounder  # noqa: E402
from schemas.records import ClaimedCitation  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quotes", type=int, default=2000)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    args = ap.parse_args()
    path = Path(args.corpus) / "docs" / "pdfjs_freeculture.pdf"
    rng = random.Random(args.seed)
    ingests = []
    real = documents.ingest_document
    documents.ingest_document = lambda *a, **k: ingests.append(1) or real(*a, **k)

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        doc = gemmadoc.open_document(path, ocr="off", cache_dir=cache)
        ingest_s = time.perf_counter() - t0
        documents._caches.clear()  # a new process: the in-memory cache is gone, the disk cache stays
        t0 = time.perf_counter()
        doc = gemmadoc.open_document(path, ocr="off", cache_dir=cache)
        reopen_s = time.perf_counter() - t0
    pages = [u for u in doc.pages if len(u.words) > 14]
    cites = []
    for k in range(args.quotes):
        u = rng.choice(pages)
        i = rng.randrange(len(u.words) - 12)
        quote = " ".join(w.text for w in u.words[i:i + rng.randint(3, 12)])
        page = [u.page, rng.randrange(1, len(doc.pages) + 1), None][k % 3]
        cites.append({"quote": quote, "page": page})
    cites += [{"quote": f"quarterly revenue of zebra {k} widgets rose sharply", "page": rng.choice(pages).page}
              for k in range(args.quotes // 4)]

    t0 = time.perf_counter()
    verdicts = gemmadoc.verify(doc, cites)
    api_s = time.perf_counter() - t0
    g = DocumentGrounder(doc.units)
    t0 = time.perf_counter()
    for c in cites:
        g.ground(ClaimedCitation(doc_id=doc.doc_id, page=c["page"], quote=c["quote"]))
    direct_s = time.perf_counter() - t0

    located = sum(v.match != "unverified" for v in verdicts[:args.quotes]) / args.quotes
    false = sum(v.match != "unverified" for v in verdicts[args.quotes:])
    print(f"{path.name}: {len(doc.pages)} pages; open (cold cache) {ingest_s:.1f}s, reopen (disk cache) {reopen_s:.2f}s, "
          f"real ingests {len(ingests)}")
    print(f"{len(cites)} citations through gemmadoc.verify in {api_s:.2f}s ({len(cites) / api_s:.0f}/s); "
          f"DocumentGrounder directly {direct_s:.2f}s (API overhead x{api_s / direct_s:.2f})")
    print(f"located {located:.3f} of the spans; {false} of {len(cites) - args.quotes} negatives verified")
    print(f"RESULT verify_quotes_per_s={len(cites) / api_s:.0f} ingest_s={ingest_s:.1f}")


if __name__ == "__main__":
    main()
