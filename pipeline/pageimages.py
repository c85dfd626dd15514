"""Light copies of the page and frame images a run looked at, kept in `OUT/pages/` so that the review
site can show citations on their pages after the run's spool is gone.

Kept: the first unit of every document and every unit a citation points to (claimed or found), as
JPEG no longer than `max_side` px. Names: `pages/<doc_id[:16]>/p00003.jpg` for page 3,
`t000012500.jpg` for the frame at 12.5 s."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

from schemas.records import DocumentResult, FrameUnit, PageUnit

KEEP_MAX_SIDE = 1000


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


def keep_page_images(out: Path, result: DocumentResult, units: list[PageUnit | FrameUnit],
                     max_side: int = KEEP_MAX_SIDE) -> int:
    """Copy the units the review needs from the spool into `OUT/pages/`, downscaled; returns how many.
    A unit whose spool image is missing is skipped (the review re-renders from the source, or says why not)."""
    from PIL import Image

    from pipeline.outputs import atomic_write_bytes

    folder = pages_dir(out, result.doc_id)
    kept = 0
    for unit in cited_units(result, units):
        if unit.image.kind != "file" or not os.path.exists(unit.image.path):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        with Image.open(unit.image.path) as im:
            im.draft("RGB", (max_side, max_side))
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side))
            buf = BytesIO()
            im.save(buf, "JPEG", quality=80)
        atomic_write_bytes(folder / unit_file(unit), buf.getvalue())
        kept += 1
    return kept
