"""Light copies of the page and frame images a run looked at, kept in `OUT/pages/` so that the review
site can show citations on their pages after the run's spool is gone.

Kept: the first unit of every document and every unit a citation points to (claimed or found), as
JPEG of at most KEEP_MAX_PIXELS a page-shaped slice or tile (by area, so a till roll keeps a readable width,
and a large sheet shown in tiles its small print). Names:
`pages/<doc_id[:16]>/p00003.jpg` for page 3, `t000012500.jpg` for the frame at 12.5 s."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pipeline.ingest.result import scale_within
from pipeline.slices import area_slices, kept_tile_side
from schemas.records import DocumentResult, FrameUnit, PageUnit

KEEP_MAX_PIXELS = 800_000  # an A4 page kept at about 750 x 1060
KEEP_MAX_SIDE = 8000  # a guard for very long pages


def keep_scale(width: float, height: float, parts: int | None = None) -> float:
    """Scale at which a width x height page or frame is kept for the review: within KEEP_MAX_PIXELS of
    area for each of the `parts` the model is shown it in (by default its slices: a page far longer than
    wide keeps its print size, as for the model: pipeline/slices.py) and KEEP_MAX_SIDE on its longest side
    (above 1 for a PDF page measured in points)."""
    parts = area_slices(width, height) if parts is None else parts
    return scale_within(width, height, KEEP_MAX_PIXELS * parts, KEEP_MAX_SIDE)


def keep_size(width: int, height: int) -> tuple[int, int]:
    """Size a width x height picture, as ingest kept it, is kept at for the review: within the area of
    its slices or tiles (a large sheet kept for tiles keeps its print readable too), never enlarged,
    rounded down."""
    scale = min(1.0, keep_scale(width, height, area_slices(width, height) * kept_tile_side(width, height) ** 2))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def shrink_to_keep(im):
    """`im` reduced in place to its kept size (PIL thumbnail: aspect kept, never enlarged)."""
    im.thumbnail(keep_size(*im.size))
    return im


def unit_file(unit_or_page: PageUnit | FrameUnit | int | float, video: bool = False) -> str:
    """The kept file name of a page (number) or a frame (time in seconds)."""
    if isinstance(unit_or_page, PageUnit):
        return f"p{unit_or_page.page:05d}.jpg"
    if isinstance(unit_or_page, FrameUnit):
        return f"t{round(unit_or_page.t_seconds * 1000):09d}.jpg"
    return f"t{round(float(unit_or_page) * 1000):09d}.jpg" if video else f"p{int(unit_or_page):05d}.jpg"


def pages_dir(out: Path, doc_id: str) -> Path:
    return out / "pages" / doc_id[:16]


def cited_units(result: DocumentResult, units: list[PageUnit | FrameUnit]) -> list[PageUnit | FrameUnit]:
    """The first unit and every unit a citation of `result` names (the page found or the page claimed)."""
    pages: set[int] = set()
    times: set[float] = set()
    for e in result.extractions:
        for c in e.citations:
            pages.update(p for p in (c.page, c.claimed_page) if p is not None)
            times.update(round(t, 3) for t in (c.t_seconds, c.claimed_t_seconds) if t is not None)
    keep = []
    for i, u in enumerate(units):
        if i == 0 or (isinstance(u, PageUnit) and u.page in pages) or (isinstance(u, FrameUnit) and round(u.t_seconds, 3) in times):
            keep.append(u)
    return keep


@dataclass(frozen=True)
class PageCopy:
    """A downscaled JPEG of one page or frame, named as it is kept (`p00003.jpg`, `t000012500.jpg`)."""

    name: str
    jpeg: bytes


def page_copies(result: DocumentResult, units: list[PageUnit | FrameUnit]) -> list[PageCopy]:
    """The copies the review needs of `result`'s units (see `cited_units`), from spool files or inline
    bytes. A unit whose image is gone is skipped (the review re-renders from the source, or says why not)."""
    from PIL import Image

    copies = []
    for unit in cited_units(result, units):
        if unit.image.kind == "encoded" and unit.image.data:
            source = BytesIO(unit.image.data)
        elif unit.image.kind == "file" and os.path.exists(unit.image.path):
            source = unit.image.path
        else:
            continue
        with Image.open(source) as im:
            im.draft("RGB", keep_size(*im.size))  # JPEG decodes at 1/2..1/8 scale, never below the size kept
            im = shrink_to_keep(im.convert("RGB"))
            buf = BytesIO()
            im.save(buf, "JPEG", quality=80)
        copies.append(PageCopy(unit_file(unit), buf.getvalue()))
    return copies


def write_page_copies(out: Path, doc_id: str, copies: list[PageCopy]) -> int:
    """Write a document's copies into `OUT/pages/<doc_id[:16]>/`; returns how many."""
    from pipeline.outputs import atomic_write_bytes

    for copy in copies:
        folder = pages_dir(out, doc_id)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / copy.name, copy.jpeg)
    return len(copies)
