"""Review site at scale: build `OUT/review/` for 1,000 documents and load its index in headless Chromium.

The 1,000 documents come from one real run of `data/samples` through the pipeline (scripted backend),
replicated under new document ids (JSON, table rows and kept page images), so the build does the same
work per document as for a real run: read the JSON, link the page images, write the page.

    python bench/review.py [--docs 1000]       (needs Chromium: sh tools/ensure_browser.sh)
Ends with: RESULT review_build_s_1k=<s> index_load_s=<s>"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["GEMMADOC_BACKEND_PLUGINS"] = "tests.doubles"  # the documented double: `--model scripted:` (tests/doubles.py)
os.environ.setdefault("GEMMADOC_CACHE", str(ROOT / ".cache" / "gemmadoc"))


def make_output(work: Path, docs: int) -> Path:
    """A real run of the samples, replicated to `docs` documents."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from flows.cli import app
    from pipeline.outputs import SCHEMAS

    out = work / "out"
    r = CliRunner().invoke(app, ["run", str(ROOT / "data" / "samples"), "--out", str(out), "--model", "scripted:"])
    assert r.exit_code == 0, r.output
    base = pd.read_parquet(out / "tables" / "documents")
    rows = []
    for n in range(docs - len(base)):
        src = base.iloc[n % len(base)]
        new_id = hashlib.sha256(f"{n}".encode()).hexdigest()
        data = json.loads((out / "json" / f"{src['doc_id']}.json").read_text())
        data["doc_id"] = new_id
        data["name"] = f"{n:04d}-{src['name']}"
        for e in data["extractions"]:
            e["doc_id"] = new_id
            for c in e["citations"]:
                c["doc_id"] = new_id
        (out / "json" / f"{new_id}.json").write_text(json.dumps(data))
        kept = out / "pages" / src["doc_id"][:16]
        if kept.exists():
            shutil.copytree(kept, out / "pages" / new_id[:16], copy_function=os.link)
        row = src.to_dict()
        row.update(doc_id=new_id, name=data["name"], work_key=new_id[:32])
        rows.append(row)
    extra = pd.DataFrame(rows)
    table = pa.Table.from_pandas(extra[[f.name for f in SCHEMAS["documents"]]], schema=SCHEMAS["documents"], preserve_index=False)
    pq.write_table(table, out / "tables" / "documents" / f"part-{time.time_ns():020d}-bench.parquet")
    return out


def index_load_seconds(index: Path, docs: int, chromium: str) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--disable-gpu", "--no-first-run",
                                                                   "--disable-background-networking", "--disable-sync"])
        page = browser.new_page()
        page.goto("about:blank")
        t0 = time.perf_counter()
        page.goto(index.as_uri())
        page.wait_for_function(f"document.querySelectorAll('#documents tbody tr').length === {docs}")
        seconds = time.perf_counter() - t0
        browser.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    args = ap.parse_args()
    chromium = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium-headless-shell") or shutil.which("chromium")
    with tempfile.TemporaryDirectory(prefix="gemmadoc-review-bench-") as work:
        out = make_output(Path(work), args.docs)
        from review.build import build_site

        t0 = time.perf_counter()
        built = build_site(out)
        build_s = time.perf_counter() - t0
        assert built.documents == args.docs, built
        print(f"built {built.documents} document pages, {built.queue} queue items in {build_s:.1f} s")
        load_s = index_load_seconds(built.index, args.docs, chromium) if chromium else float("nan")
        print(f"index with {args.docs} rows loaded in {load_s:.2f} s ({chromium or 'no Chromium found'})")
    print(f"RESULT review_build_s_1k={build_s * 1000 / args.docs:.2f} index_load_s={load_s:.2f}")


if __name__ == "__main__":
    main()
