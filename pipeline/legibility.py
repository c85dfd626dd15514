"""Image budgets chosen by print size: the lowest budget at which a unit's small print is shown tall
enough to read.

The model reads a picture at its budget's area, so what it can read depends on how tall the text is once
the picture is scaled to that area, not on how much of the page text covers. Choosing by coverage alone
gave a sparse invoice or form in 8-pt print a budget that shows it 7 px tall, and a receipt in large
print four times the tokens it needs. A unit whose words are too few to measure (a photo, a blank page, a
scan read without OCR) keeps the budget its coverage asks for.

Print size lowers the budget of a page with a text layer only. Words read by OCR are measured by the
detector's boxes, drawn wider than the print, and a scan's noise and blur need more pixels than clean
print of the same size: a scan's budget is raised where its print is small, never lowered below what its
coverage asks for (bench/print_size.py: lowered, faxed forms lost a fifth of their words).

A page whose small print even the largest budget shows too small (an A1 drawing, a poster, a sheet of
7-pt figures on A3) is kept by ingest at the area of 2 x 2 or 3 x 3 images and shown in tiles
(`tile_side`, pipeline/slices.py), as far as --dpi and the source's pixels allow."""

from __future__ import annotations

import math
from typing import Sequence

from pipeline.slices import MAX_TILE_SIDE, ONE_IMAGE, TILE_OVERLAP, area_slices, slice_boxes
from schemas.options import PIXELS_PER_IMAGE_TOKEN
from schemas.records import FrameUnit, PageUnit, Word

LEGIBLE_PX = 12.0  # small print's height as shown, above which OCR reads 95%+ of words (bench/print_size.py)
SMALL_PRINT = 0.25  # the quantile of word heights that counts as the unit's small print
MIN_WORDS = 5  # words of 3+ letters or digits needed to measure print size


def density_budget(density: float) -> int:
    """Image budget a unit wants by its text coverage: blank or photo pages need few tokens, dense text many."""
    if density < 0.01:
        return 70
    if density < 0.05:
        return 140
    if density < 0.15:
        return 280
    if density < 0.30:
        return 560
    return 1120


def clamp_budget(want: int, budgets: list[int]) -> int:
    """The highest of `budgets` (lowest first) not above `want`; the lowest when all are."""
    return ([b for b in budgets if b <= want] or budgets[:1])[-1]


def small_print(words: Sequence[Word]) -> float | None:
    """Height of the small print of `words` in their own units (the SMALL_PRINT quantile of their
    heights, a word's height being its box's short side, so vertical text counts too), or None when there
    are fewer than MIN_WORDS words of 3+ letters or digits."""
    heights = sorted(min(w.x1 - w.x0, w.y1 - w.y0) for w in words if sum(c.isalnum() for c in w.text) >= 3)
    return heights[int(len(heights) * SMALL_PRINT)] if len(heights) >= MIN_WORDS else None


def letter_pitch(words: Sequence[Word]) -> float | None:
    """Length per character of the small print of `words` in their own units (the SMALL_PRINT quantile over
    words of 4+ letters or digits, each box's long side, so a page read sideways counts too), or None
    when there are fewer than MIN_WORDS such words. OCR's boxes are padded to a few pixels' height however
    small the print, so their lengths say better than their heights how small print was read."""
    pitches = sorted(max(w.x1 - w.x0, w.y1 - w.y0) / len(w.text) for w in words if sum(c.isalnum() for c in w.text) >= 4)
    return pitches[int(len(pitches) * SMALL_PRINT)] if len(pitches) >= MIN_WORDS else None


def print_height(unit: PageUnit | FrameUnit) -> float | None:
    """Height of the unit's small print in pixels of its picture, or None when it cannot be measured."""
    height = small_print(unit.words)
    if height is None or unit.width <= 0 or unit.height <= 0:
        return None
    return height * math.sqrt(unit.image_width * unit.image_height / (unit.width * unit.height))


def tile_side(words: Sequence[Word], width: float, height: float) -> int:
    """Tiles per side (1 to MAX_TILE_SIDE) a width x height page (in its words' units) is kept for, so
    that each tile, read at the largest budget, shows its small print LEGIBLE_PX tall: 1 when one image
    does, when its print cannot be measured, and for a long page (shown in slices)."""
    print_size = small_print(words)
    if print_size is None or width <= 0 or height <= 0 or area_slices(width, height) > 1:
        return 1
    whole = print_size * math.sqrt(ONE_IMAGE / (width * height))  # shown as one image of the largest budget
    return next((k for k in range(1, MAX_TILE_SIDE) if whole * (k - (k - 1) * TILE_OVERLAP) >= LEGIBLE_PX), MAX_TILE_SIDE)


def shown_height(unit: PageUnit | FrameUnit, height: float, budget: int) -> float:
    """`height` pixels of the unit's picture as shown at `budget` (each slice or tile at the budget)."""
    shown = budget * PIXELS_PER_IMAGE_TOKEN
    left, top, right, bottom = slice_boxes(unit.image_width, unit.image_height, shown)[0]
    return height * math.sqrt(shown / max((right - left) * (bottom - top), 1))


def unit_budget(unit: PageUnit | FrameUnit, budgets: list[int]) -> int:
    """The budget (of `budgets`, lowest first) a unit wants: the lowest that shows its small print
    LEGIBLE_PX tall (the highest when none does); by text coverage when its print cannot be measured,
    and at least that for a unit read by OCR."""
    by_coverage = clamp_budget(density_budget(unit.density), budgets)
    height = print_height(unit)
    if height is None:
        return by_coverage
    by_size = next((b for b in budgets if shown_height(unit, height, b) >= LEGIBLE_PX), budgets[-1])
    return by_size if unit.text_source == "pdf" else max(by_size, by_coverage)
