"""Denoising a page before OCR: tried and dropped (session x, pipeline 0.3.23). Kept so that the figures
in bench/RESULTS.md can be made again, and the question asked again when OCR changes.

Workload: the first 6 born-digital pages of bench/ocr_input.py's list (150 dpi, their text layer the
truth), each with Gaussian noise of sigma 25, 40 and 60 grey levels (the same on every channel, as a
sensor's grain), sigma 40 on each channel apart (colour noise), and 5 % salt and pepper, besides the page
clean. Each picture is read by `ocr_page` three ways, in one process: as given (what the pipeline does), through a 3-px
median filter, and through OpenCV's non-local means (`fastNlMeansDenoisingColored`, h near the noise's
sigma). Word recall as bench/text_recall.py counts it.

    python bench/denoise.py

Ends with `RESULT clean=... clean_median=... clean_nlm=... g25=... g25_median=... g25_nlm=... g40=...
g40_median=... g40_nlm=... g60=... g60_median=... g60_nlm=... colour40=... colour40_median=...
colour40_nlm=... saltpepper=... saltpepper_median=... saltpepper_nlm=... pages=... seconds=...`."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ocr_input import pages  # noqa: E402 - the same pages
from text_recall import recall, words  # noqa: E402 - the same word count

PAGES = 6
STRENGTH = {"clean": 3, "g25": 15, "g40": 25, "g60": 35, "colour40": 25, "saltpepper": 20}  # non-local means' h


def grain(pixels, sigma: float):
    """Gaussian noise, the same on every channel."""
    import numpy as np

    noise = np.random.default_rng(0).normal(0, sigma, pixels.shape[:2])[..., None]
    return (pixels + noise).clip(0, 255).astype(np.uint8)


def colour_noise(pixels, sigma: float):
    import numpy as np

    return (pixels + np.random.default_rng(0).normal(0, sigma, pixels.shape)).clip(0, 255).astype(np.uint8)


def salt_and_pepper(pixels, share: float):
    import numpy as np

    out, draw = pixels.copy(), np.random.default_rng(0).random(pixels.shape[:2])
    out[draw < share / 2], out[draw > 1 - share / 2] = 0, 255
    return out


def main() -> None:
    import cv2
    import numpy as np

    import pipeline.ingest.ocr as ocr

    ocr.ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    fixes = {"": lambda x, h: x, "_median": lambda x, h: cv2.medianBlur(x, 3),
             "_nlm": lambda x, h: cv2.fastNlMeansDenoisingColored(x, None, h, h, 7, 21)}
    tally: collections.Counter = collections.Counter()
    start, n = time.perf_counter(), 0
    for name, pixels, truth, layer in pages():
        if layer is None:
            continue
        if n == PAGES:
            break
        n += 1
        variants = {"clean": pixels, "g25": grain(pixels, 25), "g40": grain(pixels, 40), "g60": grain(pixels, 60),
                    "colour40": colour_noise(pixels, 40), "saltpepper": salt_and_pepper(pixels, 0.05)}
        shown = [name[:32]]
        for kind, picture in variants.items():
            for fix, how in fixes.items():
                tokens = [w.text for w in ocr.ocr_page(how(picture, STRENGTH[kind]), quarter_turns=True).words]
                share = recall(truth, words(" ".join(tokens)))
                tally[kind + fix] += share * len(truth)
                tally[kind + fix + "/of"] += len(truth)
                shown.append(f"{kind}{fix}={share:.2f}")
        print(" ".join(shown), flush=True)
    keys = [kind + fix for kind in STRENGTH for fix in fixes]
    print("RESULT " + " ".join(f"{k}={tally[k] / max(1, tally[k + '/of']):.3f}" for k in keys)
          + f" pages={n} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
