"""What ingest returns for one document."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from pipeline.legibility import letter_pitch
from pipeline.slices import area_slices
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, FrameUnit, PageUnit


def scale_within(width: float, height: float, max_pixels: float, max_side: float) -> float:
    """Largest scale at which a width x height image keeps within `max_pixels` of area and `max_side` on its
    longest side. An area cap keeps a long receipt as wide as a page of the same pixel count; a cap on the
    longest side alone would shrink it to a sliver."""
    width, height = max(width, 1.0), max(height, 1.0)
    return min(max_side / max(width, height), math.sqrt(max_pixels / (width * height)))


def fit_scale(width: float, height: float, options: IngestOptions) -> float:
    """Scale at which a page or frame keeps within --max-page-pixels (what the largest image budget reads)
    for each slice the model is shown it in (pipeline/slices.py: a page far longer than wide keeps up to
    8 pages' area), and --max-side."""
    return scale_within(width, height, options.max_page_pixels * area_slices(width, height), options.max_side_px)


def tiled(options: IngestOptions, side: int) -> IngestOptions:
    """`options` with room for a page shown in side x side tiles (pipeline/slices.py): --max-page-pixels
    for each tile."""
    return options if side <= 1 else options.model_copy(update={"max_page_pixels": options.max_page_pixels * side * side})


OCR_SHORT_SIDE = 1400  # OCR reads a picture at least this many pixels across, where the picture has them
OCR_MAX_PIXELS = 40_000_000  # ... and within this area
OCR_FINER = 1.1  # a picture is made again for OCR only when that reads it this much finer than the model's


SCANNER_DPI = 150  # an image that states at least this resolution is a scan, its size on paper known


def ocr_fit_scale(width: float, height: float, options: IngestOptions, dpi: float | None = None) -> float:
    """Scale (at most 1) OCR reads a width x height picture at: the model's (`fit_scale`), or finer where
    that leaves fewer than OCR_SHORT_SIDE pixels across (a 1440 x 40000 px screenshot, longer than 8
    slices, is kept 590 px wide), or, for a scan that states its `dpi`, below
    --dpi (an A1 sheet scanned at 300 dpi is shown at 58 dpi). OCR is not bound by the image budget, and
    its words go to the model as the page's text."""
    width, height = max(width, 1.0), max(height, 1.0)
    model = min(1.0, fit_scale(width, height, options))
    wanted = OCR_SHORT_SIDE / min(width, height)
    if dpi and dpi >= SCANNER_DPI:
        wanted = max(wanted, options.dpi / dpi)
    return max(model, min(1.0, wanted, math.sqrt(OCR_MAX_PIXELS / (width * height))))


OCR_PITCH_PX = 6.0  # letters read narrower than this (10-pt print on a 4K screen shrunk to the model's area: 3 px) are read again finer
OCR_PITCH_GOAL_PX = 8.0  # ... at the scale that shows them this wide, where the source has the pixels (bench/pdf_print.py)
OCR_SURE = 0.97  # a reading this sure is not read again, however small its letters (bench/pdf_print.py --sweep, bench/reread_gate.py)


def reread_scale(words, width: float, height: float, read_at: float, finest: float = 1.0,
                 confidence: float = 0.0) -> float | None:
    """Scale to read a width x height picture again at, when OCR read it at `read_at` and found the letters
    of its small print (`words`, in full-size units: `letter_pitch`) under OCR_PITCH_PX wide there: the
    one that shows them OCR_PITCH_GOAL_PX wide, within the finest the source gives (`finest`: 1 for a
    picture's own pixels, a scan's pixels per point for a PDF page, `math.inf` for drawn print) and
    OCR_MAX_PIXELS. None when the print is read large enough or cannot be measured, when no read is
    OCR_FINER finer, or when the reading's mean `confidence` is OCR_SURE or more (small print that reads
    well: read finer, RapidOCR runs more of its words together, at two to four times the cost). A 4K
    screen recording in 10-pt print, read at the model's scale, keeps 0.4 of its words
    (bench/video_print.py); 2-up pages of 10-pt print scanned at 300 dpi, read at 150 dpi, 0.81-0.89
    (bench/pdf_print.py)."""
    pitch = letter_pitch(words)
    if pitch is None or pitch * read_at >= OCR_PITCH_PX or confidence >= OCR_SURE:
        return None
    scale = min(finest, OCR_PITCH_GOAL_PX / pitch, math.sqrt(OCR_MAX_PIXELS / (max(width, 1.0) * max(height, 1.0))))
    return scale if scale > OCR_FINER * read_at else None


def fit_size(width: int, height: int, options: IngestOptions) -> tuple[int, int]:
    """Size a width x height image is kept at by ingest (`fit_scale`, never enlarged)."""
    scale = min(1.0, fit_scale(width, height, options))
    return max(1, round(width * scale)), max(1, round(height * scale))


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


def page_list(pages: list, shown: int = 10) -> str:
    """Page numbers (or frame times) for a message: the first `shown`, then how many more."""
    return ", ".join(str(p) for p in pages[:shown]) + (f" and {len(pages) - shown} more" if len(pages) > shown else "")


def numbered(noun: str, items: list) -> str:
    """'page 3' or 'pages 1, 2 and 9 more': `noun`, plural for several, and `page_list(items)`."""
    return f"{noun}{'s' if len(items) > 1 else ''} {page_list(items)}"
