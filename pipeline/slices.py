"""Pages far longer than wide (a phone's scrolling screenshot, a till roll, a web page printed as one page),
or far wider than tall, shown to the model in slices.

The model reads an image at a fixed area (its image budget), whatever its shape: a 1080 x 12000 px
screenshot shown whole is 470 px wide at the largest budget, its text 6 px tall. Cut along its length into
slices of a page's proportions that overlap a little (a line cut at one edge reads whole in the next),
each read at the budget, it keeps its print size; it is cut into no more slices than its pixels fill at
that budget. Ingest keeps such a page at the area of its slices
(`area_slices`), so the pixels are there to show; citations and boxes stay the page's own.

A page of usual shape whose small print one image cannot show legibly (an A1 drawing, a poster, a
spreadsheet printed on one A3 sheet) is kept by ingest at the area of a grid of tiles, 2 x 2 or 3 x 3
(pipeline/legibility.py: `tile_side`), and shown in those tiles, overlapping a little, each at the
budget. The grid is read back from the picture's area: a picture of usual shape larger than one image
of the largest budget is shown in tiles (so a --max-page-pixels above that area shows every page that
fills it in tiles)."""

from __future__ import annotations

import math

from schemas.options import IMAGE_BUDGETS, PIXELS_PER_IMAGE_TOKEN

SLICE_AT = 2.5  # long side / short side above which a picture is shown in slices
SLICE_ASPECT = 2.0  # ... each at most about this long for its width
MAX_SLICES = 8  # a longer picture gets longer slices (and ingest keeps it at 8 slices' area)
OVERLAP = 0.04  # share of the long side's slice length shown again at the top of the next slice
MAX_TILE_SIDE = 3  # a page is shown in at most 3 x 3 tiles
TILE_OVERLAP = 0.06  # share of a tile's width (height) shown again in the next tile across (down)
ONE_IMAGE = IMAGE_BUDGETS[-1] * PIXELS_PER_IMAGE_TOKEN  # pixels the largest image budget reads
AREA_SLACK = 1.02  # a picture within this much of a grid's area (rounding) is kept at that grid

Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels of the picture as shown (upright)


def area_slices(width: float, height: float) -> int:
    """How many slices a width x height picture is shown in (1: whole). Depends on its shape alone, so
    ingest (which keeps that many times the area) and the prompt agree at any scale."""
    short, long = sorted((max(width, 1.0), max(height, 1.0)))
    ratio = long / short
    if ratio <= SLICE_AT:
        return 1
    return min(MAX_SLICES, math.ceil(ratio / SLICE_ASPECT))


def kept_tile_side(width: float, height: float) -> int:
    """Tiles per side a width x height picture of usual shape is shown in: 1 (whole) up to one image of
    the largest budget's area, else as many as its area holds such images (ingest keeps a tiled page at
    side x side of them), at most MAX_TILE_SIDE. 1 for a long picture (shown in slices)."""
    if area_slices(width, height) > 1:
        return 1
    return max(1, min(MAX_TILE_SIDE, math.ceil(math.sqrt(width * height / (ONE_IMAGE * AREA_SLACK)))))


def slice_boxes(width: int, height: int, shown_pixels: float) -> list[Box]:
    """The parts a width x height picture is shown in when each image is read at `shown_pixels` of area
    (its budget's). A long picture: slices, as many as its pixels fill, up to `area_slices`, top to bottom
    (left to right for a wide one), each overlapping the next by OVERLAP of its length. A large picture of
    usual shape: a grid of up to `kept_tile_side` tiles a side, row by row. One box, the whole picture, for
    a page of usual shape and size, and for a long one that the budget shows whole at full size."""
    fill = width * height / max(shown_pixels, 1.0)
    if (side := min(kept_tile_side(width, height), math.ceil(math.sqrt(fill) - 1e-9))) > 1:
        return [(left, top, right, bottom) for top, bottom in _spans(height, side, TILE_OVERLAP)
                for left, right in _spans(width, side, TILE_OVERLAP)]
    n = min(area_slices(width, height), math.ceil(fill))
    if n <= 1:
        return [(0, 0, width, height)]
    tall = height >= width
    long = height if tall else width
    overlap = round(OVERLAP * long / n)
    length = math.ceil((long + (n - 1) * overlap) / n)
    starts = [min(k * (length - overlap), long - length) for k in range(n)]
    return [(0, s, width, s + length) if tall else (s, 0, s + length, height) for s in starts]


def _spans(length: int, n: int, overlap: float) -> list[tuple[int, int]]:
    """`n` spans covering 0..length, each overlapping the next by `overlap` of its own length."""
    span = math.ceil(length / (n - (n - 1) * overlap))
    step = (length - span) / (n - 1)
    starts = [min(round(k * step), length - span) for k in range(n)]
    return [(s, s + span) for s in starts]


def slice_note(boxes: list[Box]) -> str:
    """What the prompt says after a sliced or tiled unit's label ('' for a whole one)."""
    if len(boxes) == 1:
        return ""
    across = sum(1 for b in boxes if b[1] == boxes[0][1])
    if 1 < across < len(boxes):
        return f" (shown in {len(boxes)} overlapping tiles, {len(boxes) // across} rows of {across}, row by row)"
    tall = boxes[0][0] == boxes[1][0]
    return f" (shown in {len(boxes)} overlapping parts, {'top to bottom' if tall else 'left to right'})"
