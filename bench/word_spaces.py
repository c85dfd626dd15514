"""Word spaces OCR leaves out, and what putting them back from the pixels (`pipeline/ingest/wordgaps.py`) gains.

Workload: bench/ocr_input.py's 40 corpus pages at 150 dpi, from their lossless pixels (the first 2 pages of
every born-digital PDF of bench/grounding.py's list, whose text layer is the truth, and the first 6 pages
of the scans, one with a Tesseract transcript and one of handwriting). Each page is read by `ocr_page`
twice in one process: as the pipeline reads it, and with `restore_spaces` swapped for one that leaves the
lines as RapidOCR read them (the baseline). Counted on the born-digital pages:
- recall: the text layer's words found among OCR's words (bench/text_recall.py's split and count);
- run_together: OCR tokens that hold two or more of the page's words (`Invoicenumber`);
- split_apart: neighbouring OCR tokens on one line that are one of the page's words cut in two while
  a part of it is not one (`Aufstel lung`): what a wrong space costs.
On the scans: recall against the transcript, and on the handwritten form (no truth) the spaces put in.
The born-digital pages are read a second time as a dark theme's screen shows them (light grey print on
a near-black ground, `dark_theme`): recall and words run together there (`dark_*`).

    python bench/word_spaces.py
    python bench/word_spaces.py --sweep   # each threshold varied alone, on RapidOCR's lines read once

Ends with `RESULT recall_spaced=... recall_unspaced=... run_together_spaced=... run_together_unspaced=...
split_apart_spaced=... split_apart_unspaced=... scan_recall_spaced=... scan_recall_unspaced=...
dark_recall_spaced=... dark_recall_unspaced=... dark_run_together_spaced=... dark_run_together_unspaced=...
handwriting_spaces_added=... restore_share=... pages=... seconds=...`."""

from __future__ import annotations

import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from ocr_input import count_recall, pages, recall_share, run_together  # noqa: E402 - the same pages and counts
from text_recall import recall, words  # noqa: E402

HANDWRITING = "mupdf_test_3863_scanned_forms.pdf"


def split_apart(tokens: list[tuple[str, int]], known: set[str]) -> int:
    """Neighbouring tokens (text, line) on one line whose join is a word of the page while a part is not."""
    count = 0
    for (a, line_a), (b, line_b) in zip(tokens, tokens[1:]):
        left, right = words(a), words(b)
        if line_a != line_b or not left or not right:
            continue
        if left[-1] + right[0] in known and (left[-1] not in known or right[0] not in known):
            count += 1
    return count


SWEEP = {"SPACE_SHARE": (0.4, 0.5, 0.6, 0.7), "HEIGHT_SHARE": (0.15, 0.2, 0.25, 0.3), "LETTER_TIMES": (1.5, 2.0, 3.0),
         "PRINT_SCORE": (0.9, 0.93, 0.95, 0.97)}


def sweep() -> None:
    """Each threshold of `wordgaps` varied alone, the others as set: RapidOCR's lines of every page read
    once (upright, as these pages lie), then spaces put back and words made again for each value."""
    from pipeline.ingest import ocr, wordgaps

    start = time.perf_counter()
    read = [(name, pixels, layer, ocr._read(pixels)[0]) for name, pixels, _, layer in pages()]
    chosen = {key: getattr(wordgaps, key) for key in SWEEP}

    def measure() -> str:
        hit = of = together = apart = handwriting = 0
        for name, pixels, layer, lines in read:
            got = ocr._words(wordgaps.restore_spaces(pixels, lines), pixels.shape[:2], 0)
            tokens = [w.text for w in got]
            handwriting += len(tokens) if name.startswith(HANDWRITING + "#") else 0
            if layer is None:
                continue
            known = set(words(" ".join(layer)))
            truth = words(" ".join(layer))
            hit, of = hit + round(recall(truth, words(" ".join(tokens))) * len(truth)), of + len(truth)
            together += run_together(tokens, layer)
            apart += split_apart([(w.text, w.line) for w in got], known)
        return f"recall={hit / max(1, of):.4f} run_together={together} split_apart={apart} handwriting_tokens={handwriting}"

    for key, values in SWEEP.items():
        for value in values:
            setattr(wordgaps, key, value)
            print(f"{key}={value}{' (chosen)' if value == chosen[key] else ''}: {measure()}", flush=True)
        setattr(wordgaps, key, chosen[key])
    print(f"RESULT {' '.join(f'{k.lower()}={v}' for k, v in chosen.items())} values={sum(map(len, SWEEP.values()))} "
          f"pages={len(read)} seconds={time.perf_counter() - start:.1f}")


def dark_theme(pixels):
    """A page as a dark theme's screen shows it: light grey print on a near-black ground."""
    import numpy as np

    return ((255 - pixels.astype(np.int16)) * 0.85 + 30).clip(0, 255).astype(np.uint8)


def main() -> None:
    import pipeline.ingest.ocr as ocr

    if "--sweep" in sys.argv[1:]:
        sweep()
        return

    start = time.perf_counter()
    restore = ocr.restore_spaces
    spent = collections.Counter()

    def timed(gray, lines):
        t0 = time.perf_counter()
        try:
            return restore(gray, lines)
        finally:
            spent["restore"] += time.perf_counter() - t0

    sides = {"spaced": timed, "unspaced": lambda gray, lines: lines}
    tally = {side: collections.Counter() for side in sides}
    n = 0
    for name, pixels, truth, layer in pages():
        n += 1
        line = [f"{name:50s}"]
        for side, restorer in sides.items():
            ocr.restore_spaces = restorer
            t0 = time.perf_counter()
            read = ocr.ocr_page(pixels, quarter_turns=True).words
            tally[side]["seconds"] += time.perf_counter() - t0
            tokens = [w.text for w in read]
            tally[side]["tokens"] += len(tokens)
            if name.startswith(HANDWRITING + "#"):
                tally[side]["handwriting_tokens"] += len(tokens)
            line.append(f"{side} {count_recall(tally[side], 'scan' if layer is None else 'born', truth, tokens)}")
            if layer is not None:
                known = set(words(" ".join(layer)))
                together, apart = run_together(tokens, layer), split_apart([(w.text, w.line) for w in read], known)
                tally[side]["together"] += together
                tally[side]["apart"] += apart
                line.append(f"({together} run together, {apart} split apart)")
                dark = ocr.ocr_page(dark_theme(pixels), quarter_turns=True).words
                tokens = [w.text for w in dark]
                line.append(f"dark {count_recall(tally[side], 'dark', truth, tokens)}")
                tally[side]["dark_together"] += run_together(tokens, layer)
        ocr.restore_spaces = restore
        print("  ".join(line), flush=True)

    def share(side: str, key: str) -> float:
        return recall_share(tally[side], key)

    for side in tally:
        print(f"{side:8s}: born-digital recall {share(side, 'born'):.3f}, {tally[side]['together']} run together, "
              f"{tally[side]['apart']} split apart; scan recall {share(side, 'scan'):.3f}; {tally[side]['tokens']} tokens; "
              f"OCR {tally[side]['seconds']:.1f} s")
    for side in tally:
        print(f"{side:8s}: dark theme recall {share(side, 'dark'):.3f}, {tally[side]['dark_together']} run together")
    added = tally["spaced"]["handwriting_tokens"] - tally["unspaced"]["handwriting_tokens"]
    print(f"RESULT recall_spaced={share('spaced', 'born'):.3f} recall_unspaced={share('unspaced', 'born'):.3f} "
          f"run_together_spaced={tally['spaced']['together']} run_together_unspaced={tally['unspaced']['together']} "
          f"split_apart_spaced={tally['spaced']['apart']} split_apart_unspaced={tally['unspaced']['apart']} "
          f"scan_recall_spaced={share('spaced', 'scan'):.3f} scan_recall_unspaced={share('unspaced', 'scan'):.3f} "
          f"dark_recall_spaced={share('spaced', 'dark'):.3f} dark_recall_unspaced={share('unspaced', 'dark'):.3f} "
          f"dark_run_together_spaced={tally['spaced']['dark_together']} dark_run_together_unspaced={tally['unspaced']['dark_together']} "
          f"handwriting_spaces_added={added} restore_share={spent['restore'] / max(1e-9, tally['spaced']['seconds']):.3f} "
          f"pages={n} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
