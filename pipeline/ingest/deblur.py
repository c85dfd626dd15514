"""Blurred pictures read sharpened.

A phone photo taken out of focus, or a soft photocopy scanned, loses OCR most of its words: RapidOCR's
recogniser runs words together whose spaces the blur has filled (`theinferenceruntime overHTML`), the
word-space measure (`wordgaps`) finds no blank columns left between them, and at worse blur the
detector misses lines of small print altogether. Blur is measured on the lines found, as the width of
their edges: a line's contrast over its steepest steps (EDGE_PERCENTILE) from one pixel to the next, in
pixels. Print rendered sharp steps in about a pixel (1.0-1.1), the corpus's scans and photos in 1.1-1.6,
print under a Gaussian blur of sigma s in about 2 s (a phone photo a little out of focus: 2.1). A
picture whose lines' median edge is wider than BLURRED is read again sharpened (unsharp masking at its
own blur) from the start: detection, recognition and word spaces alike. The sharpened reading is kept
where it reads more characters confidently. Unsharp masking suits a Gaussian blur (a soft scan, a photo
shaken a little) and overshoots a lens's defocus, whose disk-shaped blur often reads better as given;
the recogniser's confidence tells the two apart only in part (bench/blurred_print.py: defocus 0.707 to
0.697 of the words, a Gaussian blur of sigma 1.5 px 0.839 to 0.890)."""

from __future__ import annotations

from pipeline.ingest.contrast import darkest, levels

BLURRED = 1.8  # edge width in pixels above which a picture is read sharpened (the corpus's scans and photos: 1.1-1.6)
SHARPEN_AMOUNT = 1.0  # unsharp masking: the picture plus this much of itself less its blurred copy
MIN_CONTRAST = 32  # grey levels from a line's print to its ground, at least, to measure its edges
MAX_LINES = 30  # lines measured, at most (spread over the picture)
EDGE_PERCENTILE = 99.5  # the steepest steps of a line (a stray sharp pixel of noise is not its print)


def edge_width(crop) -> float | None:
    """How many pixels the print of one line's `crop` (RGB or grey uint8) takes to step from its ground to
    full ink: about 1 when sharp; None for a crop too small or too faint to tell."""
    import numpy as np

    grey = darkest(crop)
    if grey.shape[0] < 2 or grey.shape[1] < 2:
        return None
    dark, light = levels(grey, (1.0, 99.0))
    if light - dark < MIN_CONTRAST:
        return None
    grey = grey.astype(np.int16)
    steps = np.concatenate([np.abs(np.diff(grey, axis=1)).ravel(), np.abs(np.diff(grey, axis=0)).ravel()])
    steep, = levels(steps.astype(np.uint8), (EDGE_PERCENTILE,))
    return (light - dark) / max(1, steep)


def picture_blur(image, boxes: list[tuple[float, float, float, float]]) -> float:
    """The median edge width of the lines at `boxes` (x0, y0, x1, y1 in `image`'s pixels, at most
    MAX_LINES of them spread over the picture); 0 when none can be measured."""
    import statistics

    h, w = image.shape[:2]
    widths = []
    step = max(1, -(-len(boxes) // MAX_LINES))
    for x0, y0, x1, y1 in boxes[::step]:
        crop = image[max(0, int(y0)):min(h, int(round(y1))), max(0, int(x0)):min(w, int(round(x1)))]
        width = edge_width(crop) if crop.size else None
        if width is not None:
            widths.append(width)
    return statistics.median(widths) if widths else 0.0


def sharpened(image, blur: float):
    """`image` (RGB or grey uint8) sharpened by unsharp masking at the blur its edges show (`blur`, an edge
    width: a Gaussian of sigma blur / 2)."""
    import cv2

    soft = cv2.GaussianBlur(image, (0, 0), blur / 2)
    return cv2.addWeighted(image, 1 + SHARPEN_AMOUNT, soft, -SHARPEN_AMOUNT, 0)
