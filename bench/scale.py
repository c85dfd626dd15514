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

With --ray N: the model stage on a local Ray instance with 1..N simulated GPUs (logical `num_gpus`, one
model actor each), the scripted backend sleeping --delay seconds per request so that the model dominates,
the same documents and chunks (--chunk-docs) on every side. Each side runs in a fresh process: a warm
run (Ray start, actor load, Prefect start), then the timed run (--force). The baseline is the in-process
flow (no Ray) on the same documents; the Ray path's overhead per chunk is (Ray with 1 GPU - in-process)
/ chunks. Ends with: RESULT ray_scaling_3=<docs/s with 3 / with 1> ray_overhead_ms_per_chunk=<x>

With --engine R: the GPU idle share (runs.gpu_idle_share) over 1,000 documents with a scripted engine
serving R requests/s one call at a time, the flow overlapping two chunks' calls against one at a time,
both sides in one process after one warm run.
Ends with: RESULT engine_idle_share=<x> engine_idle_share_no_overlap=<y> docs=<n> rate=<R> chunk_docs=<c>
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


def child(mode: str, inputs: str, out: str, options_json: str, gpus: int = 0) -> None:
    """Runs in a fresh process: the flow (mode=flow), the plain loop (mode=loop), or a warm run then the
    timed one (mode=ray) with the model stage on a local Ray instance with `gpus` simulated GPUs, or in
    process when `gpus` is 0; prints one JSON line."""
    from flows.prefect_env import configure

    configure()
    from schemas.options import RunOptions

    if mode == "sides":  # several option sets after one warm run, in this one process (--engine)
        from flows.batch import run_batch

        sides = [RunOptions.model_validate(o) for o in json.loads(options_json)]
        run_batch([str(Path(inputs).parent / "warm")], out + "-warm", sides[0])  # Prefect's API, imports, workers
        results = []
        for k, options in enumerate(sides):
            t0 = time.perf_counter()
            rec = run_batch([inputs], f"{out}-{k}", options)
            results.append({"seconds": time.perf_counter() - t0, "documents": rec.processed,
                            "gpu_idle_share": rec.gpu_idle_share})
        print("CHILD " + json.dumps(results), flush=True)
        return
    options = RunOptions.model_validate_json(options_json)
    if mode == "ray":
        from flows.batch import run_batch

        if gpus:
            os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_enable_metrics_collection="0", RAY_AUTH_MODE="disabled",
                              RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
            import ray

            ray.init(address="local", num_gpus=gpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=200 * 2**20)
            options = options.replace(ray="local")
        warm = Path(inputs).parent / "warm"  # a few documents: Prefect's API, Ray, the model actors, ingest workers
        run_batch([str(warm)], out + "-warm", options)
        t0 = time.perf_counter()
        rec = run_batch([inputs], out, options.replace(force=True))
        seconds = time.perf_counter() - t0
        print("CHILD " + json.dumps({"seconds": seconds, "documents": rec.processed, "chunk_retries": rec.chunk_retries,
                                     "chunks_per_actor": [w.chunks for w in rec.workers],
                                     "gpu_idle_share": rec.gpu_idle_share}), flush=True)
        return
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


def run_child(mode: str, inputs: Path, out: Path, options, gpus: int = 0):
    """One child process (`child`); `options` is a RunOptions, or a list of them for mode "sides"."""
    options_json = (json.dumps([o.model_dump(mode="json") for o in options]) if isinstance(options, list)
                    else options.model_dump_json())
    cmd = [sys.executable, __file__, "--child", mode, "--inputs", str(inputs), "--out", str(out),
           "--options", options_json, "--gpus", str(gpus)]
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
    ap.add_argument("--gpus", type=int, default=0)
    ap.add_argument("--ray", type=int, default=0, help="measure the Ray path on 1..N simulated GPUs")
    ap.add_argument("--delay", type=float, default=0.5, help="--ray: seconds per request of the scripted model")
    ap.add_argument("--chunk-docs", type=int, default=4, help="--ray, --engine: documents per chunk")
    ap.add_argument("--engine", type=float, default=0.0,
                    help="the GPU idle share with a scripted engine serving this many requests/s (1,000 documents)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.inputs, args.out, args.options, args.gpus)
        return
    if args.ray:
        ray_scaling(args.ray, 144 if args.docs == 10_000 else args.docs, args.delay, args.chunk_docs)
        return
    if args.engine:
        engine_feeding(args.engine, 1000 if args.docs == 10_000 else args.docs, args.chunk_docs)
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


def engine_feeding(rate: float, n_docs: int, chunk_docs: int) -> None:
    """How much of the run a GPU engine waits for work: the runs table's gpu_idle_share over `n_docs`
    one-page documents, with a scripted engine (tests/doubles.py: ScriptedEngine) serving `rate` requests
    per second one call at a time, as vLLM's engine does; the flow overlapping two chunks' calls (what
    vLLM and server backends get) against one call at a time (the baseline: each chunk drains first)."""
    from schemas.options import RunOptions

    work = Path(tempfile.mkdtemp(prefix="gemmadoc-engine-"))
    make_docs(work / "in", n_docs)
    make_docs(work / "warm", chunk_docs * 2)
    names = ("overlap", "no_overlap")
    options = [RunOptions(model=f"scripted:rate={rate},overlap={overlap}", schema_name="invoice", ocr="off",
                          chunk_docs=chunk_docs, keep_page_images=False) for overlap in (1, 0)]
    sides = dict(zip(names, run_child("sides", work / "in", work / "out", options)))  # one process, in turn
    for name in names:
        print(f"{name}: {n_docs} documents in {sides[name]['seconds']:.1f}s (engine time {n_docs / rate:.1f}s), "
              f"GPU idle share {sides[name]['gpu_idle_share']:.4f}")
    print(f"RESULT engine_idle_share={sides['overlap']['gpu_idle_share']:.4f} "
          f"engine_idle_share_no_overlap={sides['no_overlap']['gpu_idle_share']:.4f} docs={n_docs} rate={rate:g} "
          f"chunk_docs={chunk_docs}")


def ray_scaling(max_gpus: int, n_docs: int, delay: float, chunk_docs: int) -> None:
    """Throughput of the Ray path on 1..max_gpus simulated GPUs against the in-process flow."""
    from schemas.options import RunOptions

    options = RunOptions(model=f"scripted:delay={delay}", schema_name="invoice", ocr="off", chunk_docs=chunk_docs,
                         keep_page_images=False)
    work = Path(tempfile.mkdtemp(prefix="gemmadoc-ray-scale-"))
    make_docs(work / "in", n_docs)
    make_docs(work / "warm", chunk_docs * max_gpus * 2)
    chunks = -(-n_docs // chunk_docs)
    print(f"{n_docs} documents in {chunks} chunks; scripted model {delay} s per request (model time "
          f"{n_docs * delay:.0f} s on one GPU)")
    local = run_child("ray", work / "in", work / "out_local", options)
    print(f"in-process flow: {local['seconds']:.1f} s ({n_docs / local['seconds']:.2f} docs/s)")
    rate = {}
    for gpus in range(1, max_gpus + 1):
        r = run_child("ray", work / "in", work / f"out_ray{gpus}", options, gpus)
        rate[gpus] = n_docs / r["seconds"]
        print(f"Ray, {gpus} GPU(s): {r['seconds']:.1f} s ({rate[gpus]:.2f} docs/s, x{rate[gpus] / rate[1]:.2f}); "
              f"chunks per actor {r['chunks_per_actor']}")
    overhead_ms = (n_docs / rate[1] - local["seconds"]) / chunks * 1000
    print(f"Ray path overhead: {overhead_ms:.0f} ms per chunk (Ray with 1 GPU vs in-process, {chunks} chunks)")
    print(f"RESULT ray_scaling_{max_gpus}={rate[max_gpus] / rate[1]:.2f} ray_overhead_ms_per_chunk={overhead_ms:.0f} "
          f"docs={n_docs} delay_s={delay} chunk_docs={chunk_docs}")


if __name__ == "__main__":
    main()
