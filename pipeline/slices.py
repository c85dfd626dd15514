"""Pages far longer than wide (a phone's scrolling screenshot, a till roll, a web page printed as one page),
or far wider than tall, shown to the model in slices.

The model reads an image at a fixed area (its image budget), whatever its shape: a 1080 x 12000 px
screenshot shown whole is 470 px wide at the largest budget, its text 6 px tall. Cut along its length into
slices of a page's proportions that overlap a little (a line cut at one edge reads whole in the next),
each read at the budget, it keeps its print size; it is cut into no more slices than its pixels fill at
that budget. Ingest keeps such a page at the area of its slices
(`area_slices`), so the pixels are there to show; citations and boxes stay the page's own."""

from __future__ import annotations

import math

SLICE_AT = 2.5  # long side / short side above which a picture is shown in slices
SLICE_ASPECT = 2.0  # ... each at most about this long for its width
MAX_SLICES = 8  # a longer picture gets longer slices (and ingest keeps it at 8 slices' area)
OVERLAP = 0.04  # share of the long side's slice length shown again at the top of the next slice

Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels of the picture as shown (upright)


def area_slices(width: float, height: float) -> int:
    """How many slices a width x height picture is shown in (1: whole). Depends on its shape alone, so
    ingest (which keeps that many times the area) and the prompt agree at any scale."""
    short, long = sorted((max(width, 1.0), max(height, 1.0)))
    ratio = long / short
    if ratio <= SLICE_AT:
        return 1
    return min(MAX_SLICES, math.ceil(ratio / SLICE_ASPECT))


def slice_boxes(width: int, height: int, shown_pixels: float) -> list[Box]:
    """The slices a width x height picture is shown in when each image is read at `shown_pixels` of area
    (its budget's): as many as its pixels fill, up to `area_slices`, top to bottom (left to right for a
    wide one), each overlapping the next by OVERLAP of its length. One box, the whole picture, for a page
    of usual shape, and for a long one that the budget shows whole at full size (a small label)."""
    n = min(area_slices(width, height), math.ceil(width * height / max(shown_pixels, 1.0)))
    if n <= 1:
        return [(0, 0, width, height)]
    tall = height >= width
    long = height if tall else width
    overlap = round(OVERLAP * long / n)
    length = math.ceil((long + (n - 1) * overlap) / n)
    starts = [min(k * (length - overlap), long - length) for k in range(n)]
    return [(0, s, width, s + length) if tall else (s, 0, s + length, height) for s in starts]


def slice_note(boxes: list[Box]) -> str:
    """What the prompt says after a sliced unit's label ('' for a whole one)."""
    if len(boxes) == 1:
        return ""
    tall = boxes[0][0] == boxes[1][0]
    return f" (shown in {len(boxes)} overlapping parts, {'top to bottom' if tall else 'left to right'})"
