"""Lines shown to OCR's recogniser in soft contrast (pipeline 0.3.20, `pipeline/ingest/contrast.py`):
RapidOCR's recogniser keeps far more of the spaces between words set tight when the print is a third as
dark, so each line's crop is brought to 77 grey levels about its own ground before it is recognised,
against recognising it as given (0.3.19), in the same process.

Workloads, each page read by `ocr_page` both ways:
- bench/ocr_input.py's 40 pages at 150 dpi from their lossless pixels (the first 2 pages of the
  born-digital PDFs of bench/grounding.py's list, whose text layer is the truth; the first 6 pages of the
  scans, one with a Tesseract transcript, one handwritten form): word recall, words run together and
  split apart (bench/word_spaces.py's counts), and the handwritten form's tokens;
- the born-digital pages as a dark theme's screen shows them (light print on a near-black ground);
- the first 10 born-digital pages under a shadow (the light falling from 100 % to 25 % across the page, as
  a phone photo in a room gets it), with noise (Gaussian, sigma 20 grey levels), and faded to a quarter of
  their contrast (`faded`: soft already, so read the same both ways: `faded_same`).

    python bench/soft_contrast.py

Ends with `RESULT recall=... recall_before=... run_together=... run_together_before=... split_apart=...
split_apart_before=... scan_recall=... scan_recall_before=... dark_recall=... dark_recall_before=...
shadow_recall=... shadow_recall_before=... noisy_recall=... noisy_recall_before=... faded_same=...
handwriting_tokens=... handwriting_tokens_before=... seconds_ratio=... pages=... seconds=...`."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ocr_input import count_recall, pages, recall_share, run_together  # noqa: E402 - the same pages and counts
from text_recall import words  # noqa: E402
from word_spaces import HANDWRITING, dark_theme, split_apart  # noqa: E402

DEGRADED_PAGES = 10
NOISE_SIGMA = 20.0
FADED = 0.25  # 64 grey levels: softer than INK_CONTRAST already


def shadow(pixels):
    """The page lit from one side: brightness falling from 100 % to 25 % across it, 100 % to 60 % down it."""
    import numpy as np

    h, w = pixels.shape[:2]
    light = np.linspace(1.0, 0.25, w)[None, :] * np.linspace(1.0, 0.6, h)[:, None]
    return (pixels * light[..., None]).astype(np.uint8)


def noisy(pixels):
    import numpy as np

    rng = np.random.default_rng(0)
    return (pixels + rng.normal(0, NOISE_SIGMA, pixels.shape)).clip(0, 255).astype(np.uint8)


def faded(pixels):
    return (255 - (255 - pixels.astype("float32")) * FADED).astype("uint8")


def main() -> None:
    import numpy as np

    import pipeline.ingest.contrast as contrast
    import pipeline.ingest.ocr as ocr

    ocr.ocr_page(np.full((64, 256, 3), 255, np.uint8))  # OCR's models loaded before anything is timed
    soften = contrast.softened
    sides = {"after": soften, "before": lambda image: image}
    tally = {side: collections.Counter() for side in sides}
    faded_same = True
    start = time.perf_counter()
    n = born = 0
    for name, pixels, truth, layer in pages():
        n += 1
        variants = {"": pixels}
        if layer is not None:
            variants["dark"] = dark_theme(pixels)
            if born < DEGRADED_PAGES:
                variants.update(shadow=shadow(pixels), noisy=noisy(pixels), faded=faded(pixels))
            born += 1
        out = [f"{name[:44]:44s}"]
        faded_read = {}
        for side, how in sides.items():
            contrast.softened = how
            read = {}
            for kind, picture in variants.items():
                began = time.perf_counter()
                read[kind] = ocr.ocr_page(picture, quarter_turns=True).words
                tally[side]["seconds"] += time.perf_counter() - began
            contrast.softened = soften
            tokens = [w.text for w in read[""]]
            if name.startswith(HANDWRITING + "#"):
                tally[side]["handwriting"] += len(tokens)
            shown = count_recall(tally[side], "scan" if layer is None else "born", truth, tokens)
            if layer is not None:
                known = set(words(" ".join(layer)))
                tally[side]["together"] += run_together(tokens, layer)
                tally[side]["apart"] += split_apart([(w.text, w.line) for w in read[""]], known)
                for kind in variants.keys() - {""}:
                    shown += f" {kind} " + count_recall(tally[side], kind, truth, [w.text for w in read[kind]])
            out.append(f"{side} {shown}")
            if "faded" in read:
                faded_read[side] = read["faded"]
        faded_same &= faded_read.get("after") == faded_read.get("before")
        print("  ".join(out), flush=True)
    a, b = tally["after"], tally["before"]
    for side, t in tally.items():
        print(f"{side:6s}: recall {recall_share(t, 'born'):.4f}, {t['together']} run together, {t['apart']} split apart; "
              f"scan recall {recall_share(t, 'scan'):.4f}; dark {recall_share(t, 'dark'):.4f}; shadow {recall_share(t, 'shadow'):.4f}; "
              f"noisy {recall_share(t, 'noisy'):.4f}; faded {recall_share(t, 'faded'):.4f}; handwriting tokens {t['handwriting']}; "
              f"OCR {t['seconds']:.1f} s")
    def shares(*pairs: tuple[str, str]) -> str:
        return " ".join(f"{key}={recall_share(a, kind):.3f} {key}_before={recall_share(b, kind):.3f}" for key, kind in pairs)

    print(f"RESULT {shares(('recall', 'born'))} run_together={a['together']} run_together_before={b['together']} "
          f"split_apart={a['apart']} split_apart_before={b['apart']} "
          f"{shares(('scan_recall', 'scan'), ('dark_recall', 'dark'), ('shadow_recall', 'shadow'), ('noisy_recall', 'noisy'))} "
          f"faded_same={faded_same} handwriting_tokens={a['handwriting']} "
          f"handwriting_tokens_before={b['handwriting']} seconds_ratio={a['seconds'] / max(1e-9, b['seconds']):.2f} "
          f"pages={n} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
