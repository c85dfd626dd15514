#!/usr/bin/env python3
"""Ingest speed on the shared corpus, against poppler and ffmpeg, on one core, in one run.

* every page of every corpus PDF rendered at the same DPI: our ingest (PyMuPDF in the guarded render
  worker, text layer words included, JPEG written) vs `pdftoppm -r DPI -jpeg`;
* the corpus videos sampled at 1 fps: our ingest (OpenCV, timestamp sampling, JPEG written) vs
  `ffmpeg -vf fps=1`;
* peak RSS of the ingesting process while it streams a 352-page PDF vs a 1-page one (flat = streaming).

Needs `apt-get install poppler-utils ffmpeg`. Usage: python bench/ingest.py [--dpi 150] [--corpus DIR]
Ends with: RESULT raster_ratio_vs_pdftoppm=... video_ratio_vs_ffmpeg=... raster_pages_per_s=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.discover import discover  # noqa: E402
from pipeline.ingest import ingest_document  # noqa: E402
from schemas.options import IngestOptions  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def compare(docs, opts, work: Path, unit: str, tool: str, command) -> tuple[int, float, float]:
    """Time our ingest and `command(doc, out_dir)` on each document; (units, our seconds, tool seconds)."""
    print(f"{'document':45s} {unit:>6s} {'ours s':>8s} {tool + ' s':>11s} {'ratio':>6s}")
    units = ours_s = ref_s = 0
    for d in docs:
        t0 = time.perf_counter()
        n = len(ingest_document(d, opts, work / "ours").units)
        t_ours = time.perf_counter() - t0
        out = work / "ref"
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run(command(d, out), check=False, stderr=subprocess.DEVNULL)
        t_ref = time.perf_counter() - t0
        units, ours_s, ref_s = units + n, ours_s + t_ours, ref_s + t_ref
        print(f"{d.name[:45]:45s} {n:6d} {t_ours:8.2f} {t_ref:11.2f} {t_ref / t_ours if t_ours else 0:6.2f}")
        shutil.rmtree(work / "ours", ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    return units, ours_s, ref_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    args = ap.parse_args()
    for tool in ("pdftoppm", "ffmpeg"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install poppler-utils ffmpeg")
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, inherited by children
    corpus = Path(args.corpus)
    pdfs = [d for d in discover([corpus / "docs"]).documents if d.media_type == "pdf"]
    videos = [d for d in discover([corpus / "video"]).documents if d.media_type == "video"]
    opts = IngestOptions(ocr="off", dpi=args.dpi, max_side_px=65_500, max_page_pixels=10**10)
    work = Path(tempfile.mkdtemp(prefix="gemmadoc-bench-"))

    # warm both paths once (worker start, imports) outside the timings
    ingest_document(pdfs[0], opts, work / "warm")
    subprocess.run(["pdftoppm", "-r", str(args.dpi), "-jpeg", "-f", "1", "-l", "1", pdfs[0].path, str(work / "w")], check=True)

    pages, ours_s, ref_s = compare(
        pdfs, opts, work, "pages", "pdftoppm",
        lambda d, out: ["pdftoppm", "-r", str(args.dpi), "-jpeg", d.path, str(out / "p")])
    raster_pps = pages / ours_s
    raster_ratio = ref_s / ours_s
    print(f"PDF raster: {pages} pages, ours {raster_pps:.1f} pages/s, pdftoppm {pages / ref_s:.1f} pages/s, "
          f"ratio {raster_ratio:.2f}x\n")
    frames, v_ours, v_ref = compare(
        videos, opts, work, "frames", "ffmpeg",
        lambda d, out: ["ffmpeg", "-loglevel", "error", "-threads", "1", "-i", d.path, "-vf", "fps=1", str(out / "f%05d.jpg")])
    video_ratio = v_ref / v_ours
    print(f"video: {frames} frames, ours {frames / v_ours:.1f} frames/s, ffmpeg {frames / v_ref:.1f} frames/s, "
          f"ratio {video_ratio:.2f}x")

    # memory: RSS growth while streaming a long PDF vs a 1-page one (page images go to disk, not RAM)
    by_pages = sorted(pdfs, key=lambda d: d.size_bytes)
    long_doc = max(pdfs, key=lambda d: d.size_bytes if "freeculture" in d.name else 0)
    small = next(d for d in by_pages if d.name.startswith("sample-files_google"))
    base = current_rss_mb()
    ingest_document(small, opts, work / "m1")
    after_small = current_rss_mb()
    ingest_document(long_doc, opts, work / "m2")
    after_long = current_rss_mb()
    print(f"\nRSS: start {base:.0f} MB, after 1-page PDF {after_small:.0f} MB, after {long_doc.name} {after_long:.0f} MB "
          f"(growth {after_long - after_small:+.0f} MB); peak {rss_mb():.0f} MB")
    shutil.rmtree(work, ignore_errors=True)
    print(f"RESULT raster_ratio_vs_pdftoppm={raster_ratio:.2f} video_ratio_vs_ffmpeg={video_ratio:.2f} "
          f"raster_pages_per_s={raster_pps:.1f} peak_rss_mb={rss_mb():.0f}")


if __name__ == "__main__":
    main()
