"""What ingest returns for one document."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from schemas.options import IngestOptions
from schemas.records import ErrorRecord, FrameUnit, PageUnit


def fit_scale(width: float, height: float, options: IngestOptions) -> float:
    """Largest scale at which a width x height page or frame keeps within --max-page-pixels (its area) and
    --max-side (its longest side). An area cap keeps a long receipt as wide as the model's budget needs;
    a cap on the longest side alone would shrink it to a sliver."""
    width, height = max(width, 1.0), max(height, 1.0)
    return min(options.max_side_px / max(width, height), math.sqrt(options.max_page_pixels / (width * height)))


@dataclass
class IngestResult:
    units: list[PageUnit | FrameUnit] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)  # errors and warnings; units before them are kept
    skipped_frames: list[float] = field(default_factory=list)  # timestamps dropped as near-duplicates

    @property
    def status(self) -> Literal["ok", "partial", "failed"]:
        hard = [e for e in self.errors if e.severity == "error"]
        if not self.units:
            return "failed"
        return "partial" if hard else "ok"


def word_density(words, width: float, height: float) -> float:
    """Share of the unit's area covered by word boxes (0..1)."""
    if not words or width <= 0 or height <= 0:
        return 0.0
    area = sum(max(0.0, w.x1 - w.x0) * max(0.0, w.y1 - w.y0) for w in words)
    return min(1.0, area / (width * height))
