"""Blurred pages read sharpened (pipeline 0.3.21, `pipeline/ingest/deblur.py`), against reading them as
given (0.3.20), in the same process.

Workload: the first page of each document of bench/ocr_input.py (born-digital corpus PDFs, whose text
layer is the truth, and the corpus scans, one with a Tesseract transcript and one handwritten form),
rendered at 150 dpi and read as given, under a Gaussian blur of sigma 1.0, 1.5 and 2.0 pixels (a phone
photo a little, more and badly out of focus), and under a defocus blur (a disk of radius 2 pixels: the
lens's own blur, a kernel the threshold was not chosen on). Each picture is read by `ocr_page` both ways.
Counted: word recall (bench/text_recall.py's split and count, over the born-digital pages and the scan
with a transcript), words run together (bench/ocr_input.py's count), and the tokens of the handwritten
form read as given (`sharp_same`: every picture read as given gives the same words both ways).

    python bench/blurred_print.py

Ends with `RESULT recall_sharp=... recall_sharp_before=... recall_blur1=... recall_blur1_before=...
recall_blur15=... recall_blur15_before=... recall_blur2=... recall_blur2_before=... recall_defocus=...
recall_defocus_before=... run_together_blur15=... run_together_blur15_before=... sharp_same=...
seconds_ratio=... sharp_seconds_ratio=... pages=... seconds=...` (`sharp_seconds_ratio`: the pictures read
as given, where only the blur is measured)."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ocr_input import count_recall, pages, run_together  # noqa: E402 - the same pages and counts

DEFOCUS_RADIUS = 2
LEVELS = {"sharp": 0.0, "blur1": 1.0, "blur15": 1.5, "blur2": 2.0, "defocus": DEFOCUS_RADIUS}


def blurred(pixels, level: str):
    """The page as a camera out of focus shows it: a Gaussian blur, or a disk (defocus)."""
    import cv2
    import numpy as np

    if level == "sharp":
        return pixels
    if level == "defocus":
        size = 2 * int(np.ceil(DEFOCUS_RADIUS)) + 1
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)).astype(np.float32)
        return cv2.filter2D(pixels, -1, disk / disk.sum())
    return np.ascontiguousarray(cv2.GaussianBlur(pixels, (0, 0), LEVELS[level]))


def main() -> None:
    import numpy as np

    from pipeline.ingest import ocr

    ocr.ocr_page(np.full((64, 64, 3), 255, np.uint8))  # the engine loaded before anything is timed
    start = time.perf_counter()
    tally = {(level, side): collections.Counter() for level in LEVELS for side in ("after", "before")}
    seconds = collections.Counter()
    same = True
    blurred_at = ocr.BLURRED
    n = 0
    for name, pixels, truth, layer in pages():
        if not name.endswith("#1"):
            continue
        n += 1
        for level in LEVELS:
            shown = blurred(pixels, level)
            line, read = [f"{name:45s} {level:8s}"], {}
            for side, threshold in (("after", blurred_at), ("before", float("inf"))):
                ocr.BLURRED = threshold  # the baseline never counts a picture blurred
                t0 = time.perf_counter()
                words = ocr.ocr_page(shown, quarter_turns=True).words
                seconds[side] += time.perf_counter() - t0
                seconds[f"{level}_{side}"] += time.perf_counter() - t0
                read[side] = tokens = [w.text for w in words]
                kind = "scan" if layer is None else "born"
                line.append(f"{side} {count_recall(tally[(level, side)], kind, truth, tokens)}")
                if layer is not None:
                    tally[(level, side)]["together"] += run_together(tokens, layer)
            ocr.BLURRED = blurred_at
            same &= level != "sharp" or read["after"] == read["before"]
            print("  ".join(line), flush=True)

    def share(level: str, side: str) -> float:
        t = tally[(level, side)]
        return (t["born_hit"] + t["scan_hit"]) / max(1, t["born_of"] + t["scan_of"])

    fields = []
    for level in LEVELS:
        fields += [f"recall_{level}={share(level, 'after'):.3f}", f"recall_{level}_before={share(level, 'before'):.3f}"]
    fields += [f"run_together_blur15={tally[('blur15', 'after')]['together']}",
               f"run_together_blur15_before={tally[('blur15', 'before')]['together']}",
               f"sharp_same={same}", f"seconds_ratio={seconds['after'] / max(1e-9, seconds['before']):.2f}",
               f"sharp_seconds_ratio={seconds['sharp_after'] / max(1e-9, seconds['sharp_before']):.2f}",
               f"pages={n}", f"seconds={time.perf_counter() - start:.1f}"]
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
