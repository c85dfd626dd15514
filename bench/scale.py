#!/usr/bin/env python3
"""Batch operations at scale: N small synthetic documents (one-page PDFs and PNGs) through the real
Prefect flow and writers with the scripted backend (tests/doubles.py, registered through GEMMADOC_BACKEND_PLUGINS).

Reports, each run in a fresh process so peak memory is its own:
* orchestration overhead per document: (flow wall time - the same stage functions called in a plain
  loop) / N, both measured in the same child process;
* peak RSS at 1k and at N documents (flat = no per-document state kept);
* the wall time of a no-change re-run over the N documents.

Usage: python bench/scale.py [--docs 10000]
Ends with: RESULT docs=<n> overhead_ms_per_doc=<x> peak_rss_mb_1k=<a> peak_rss_mb_10k=<b> rerun_s=<s>
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["GEMMADOC_BACKEND_PLUGINS"] = "tests.doubles"  # the documented double: `--model scripted:` (tests/doubles.py)


def make_docs(folder: Path, n: int) -> None:
    import pymupdf
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    template = pymupdf.open()
    template.new_page(width=300, height=200)
    for i in range(n):
        if i % 4 == 3:
            img = Image.new("RGB", (200, 80), "white")
            ImageDraw.Draw(img).text((10, 30), f"Receipt {i} total {i % 97}.50", fill="black")
            img.save(folder / f"r{i:05d}.png")
        else:
            doc = pymupdf.open()
            page = doc.new_page(width=300, height=200)
            page.insert_text((20, 40), f"Invoice INV-{i:05d}")
            page.insert_text((20, 70), f"Total due EUR {i % 997}.00")
            doc.save(folder / f"d{i:05d}.pdf")


def child(mode: str, inputs: str, out: str, options_json: str) -> None:
    """Runs in a fresh process: the flow (mode=flow) or the plain loop (mode=loop); prints one JSON line."""
    from flows.prefect_env import configure

    configure()
    from schemas.options import RunOptions

    options = RunOptions.model_validate_json(options_json)
    if mode == "flow":
        from flows.batch import run_batch

        run_batch([inputs], out, options)  # warm: starts the ephemeral API, imports, first flow run
        t0 = time.perf_counter()
        rec = run_batch([inputs], out, options.replace(force=True))
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = run_batch([inputs], out, options)
        rerun = time.perf_counter() - t0
        result = {"seconds": seconds, "rerun_s": rerun, "skipped": again.skipped, "documents": rec.documents}
    else:
        from model.registry import get_backend
        from pipeline.discover import discover
        from pipeline.outputs import TableWriter, rows_for, write_document_json
        from pipeline.extract import Extractor
        from pipeline.keys import work_key
        from pipeline.prepare import prepare_document
        from schemas.catalog import load_schema

        schema = load_schema(options.schema_name)
        backend = get_backend(options.backend)
        found = discover([inputs])
        spool = Path(tempfile.mkdtemp())
        writer = TableWriter(Path(out), "loop")
        t0 = time.perf_counter()
        docs = found.documents
        for k in range(0, len(docs), options.chunk_size()):
            chunk = docs[k:k + options.chunk_size()]
            prepared = [prepare_document(d, options.ingest, spool) for d in chunk]
            keys = {p.doc.doc_id: work_key(p.doc.doc_id, schema, backend.model_id, options) for p in prepared}
            results = Extractor(backend, options.plan, schema).run(prepared, keys)
            for r in results:
                write_document_json(Path(out), r, "loop")
            writer.append(rows_for(results, "loop"))
        writer.compact()
        result = {"seconds": time.perf_counter() - t0, "documents": len(docs)}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("CHILD " + json.dumps(result), flush=True)


def run_child(mode: str, inputs: Path, out: Path, options) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--inputs", str(inputs), "--out", str(out),
           "--options", options.model_dump_json()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("CHILD ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"child {mode} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--child")
    ap.add_argument("--inputs")
    ap.add_argument("--out")
    ap.add_argument("--options")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.inputs, args.out, args.options)
        return
    from schemas.options import RunOptions

    options = RunOptions(model="scripted:", schema_name="invoice", ocr="off", chunk_docs=64, max_workers=2)
    work = Path(tempfile.mkdtemp(prefix="gemmadoc-scale-"))
    small_n = min(1000, args.docs)
    t0 = time.perf_counter()
    make_docs(work / "in_all", args.docs)
    small = work / "in_1k"
    small.mkdir()
    for p in sorted((work / "in_all").iterdir())[:small_n]:
        os.link(p, small / p.name)
    print(f"made {args.docs} documents in {time.perf_counter() - t0:.1f}s")

    loop_small = run_child("loop", small, work / "out_loop_1k", options)
    flow_small = run_child("flow", small, work / "out_flow_1k", options)
    print(f"{small_n} docs: plain loop {loop_small['seconds']:.1f}s, flow {flow_small['seconds']:.1f}s, "
          f"peak RSS {flow_small['peak_rss_mb']:.0f} MB, no-change re-run {flow_small['rerun_s']:.1f}s")
    if args.docs > small_n:
        loop_big = run_child("loop", work / "in_all", work / "out_loop", options)
        flow_big = run_child("flow", work / "in_all", work / "out_flow", options)
    else:
        loop_big, flow_big = loop_small, flow_small
    print(f"{args.docs} docs: plain loop {loop_big['seconds']:.1f}s, flow {flow_big['seconds']:.1f}s, "
          f"peak RSS {flow_big['peak_rss_mb']:.0f} MB, no-change re-run {flow_big['rerun_s']:.1f}s "
          f"({flow_big['skipped']} skipped)")
    overhead = (flow_big["seconds"] - loop_big["seconds"]) / args.docs * 1000
    print(f"orchestration overhead: {overhead:.1f} ms per document "
          f"(flow {flow_big['seconds'] / args.docs * 1000:.1f} ms vs plain loop {loop_big['seconds'] / args.docs * 1000:.1f} ms)")
    print(f"RESULT docs={args.docs} overhead_ms_per_doc={overhead:.1f} peak_rss_mb_1k={flow_small['peak_rss_mb']:.0f} "
          f"peak_rss_mb_10k={flow_big['peak_rss_mb']:.0f} rerun_s={flow_big['rerun_s']:.1f}")


if __name__ == "__main__":
    main()
