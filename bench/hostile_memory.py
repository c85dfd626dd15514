"""Memory and time of ingesting two decompression bombs: a 9990x9990 palette PNG of ~14 KB and a PDF whose
content stream inflates to 1.2 GiB. Peak resident memory of the ingesting process and its page worker
together (psutil, sampled every 50 ms).

    python bench/hostile_memory.py [--code-root PATH]   (PATH: another checkout, e.g. an older commit)
Ends with: RESULT png_bomb_peak_mb=<m> png_bomb_s=<s> pdf_bomb_peak_mb=<m> pdf_bomb_s=<s>"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import psutil
from pipeline.discover import discover
from pipeline.ingest import ingest_document
from schemas.options import IngestOptions

def watch(stop, peak):
    me = psutil.Process()
    while not stop.is_set():
        kids = [c for c in me.children(recursive=True) if c.is_running()]
        peak[0] = max(peak[0], me.memory_info().rss + sum(c.memory_info().rss for c in kids))
        time.sleep(0.05)

if __name__ == "__main__":
    doc = discover([sys.argv[2]]).documents[0]
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=watch, args=(stop, peak))
    watcher.start()
    t0 = time.perf_counter()
    try:
        res = ingest_document(doc, IngestOptions(ocr="off"), Path(sys.argv[3]))
        what = f"units={len(res.units)} errors={[e.kind for e in res.errors]}"
    except Exception as e:
        what = f"{type(e).__name__}: {e}"[:160]
    stop.set()
    watcher.join()
    print(f"{time.perf_counter() - t0:.1f} {peak[0] / 2**20:.0f} {what}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--code-root", default=str(ROOT), help="checkout whose pipeline is measured")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.hostile_inputs import palette_png_bomb, pdf_stream_bomb

    figures = {}
    with tempfile.TemporaryDirectory(prefix="gemmadoc-bombs-") as work:
        work = Path(work)
        for key, path in (("png_bomb", palette_png_bomb(work / "bomb.png")), ("pdf_bomb", pdf_stream_bomb(work / "bomb.pdf", 1200))):
            spool = work / f"spool-{key}"
            spool.mkdir()
            done = subprocess.run([sys.executable, "-c", PROBE, args.code_root, str(path), str(spool)],
                                  capture_output=True, text=True, timeout=900)
            seconds, peak, what = done.stdout.strip().split(" ", 2)
            print(f"{path.name} ({path.stat().st_size / 1024:.0f} KB): {seconds} s, peak {peak} MB, {what}")
            figures[key] = (peak, seconds)
    print("RESULT " + " ".join(f"{k}_peak_mb={p} {k}_s={s}" for k, (p, s) in figures.items()))


if __name__ == "__main__":
    main()
