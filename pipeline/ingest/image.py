"""Image ingest: PNG, JPEG, TIFF (every page), WebP. EXIF orientation, CMYK and 16-bit handled."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.ocr import ocr_words
from pipeline.ingest.render import spool_path
from pipeline.ingest.result import IngestResult, word_density
from schemas.options import RunOptions
from schemas.records import ErrorRecord, ImageRef, PageUnit, SourceDocument


def to_rgb(im):
    """Convert any PIL mode to 8-bit RGB: 16/32-bit greyscale is rescaled, alpha composited on white."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L").convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        base = Image.new("RGB", im.size, (255, 255, 255))
        base.paste(im.convert("RGBA"), mask=im.convert("RGBA").split()[-1])
        return base
    if im.mode == "1":
        return im.convert("L").convert("RGB")
    return im.convert("RGB")


def ingest_image(doc: SourceDocument, options: RunOptions, spool: Path, deadline: float) -> IngestResult:
    import numpy as np
    from PIL import Image, ImageOps, ImageSequence

    res = IngestResult()
    Image.MAX_IMAGE_PIXELS = options.max_pixels
    try:
        im = Image.open(doc.path)
    except Image.DecompressionBombError as e:
        raise StageError("ingest", "limit_pixels", f"image above --max-pixels {options.max_pixels}: {e}") from e
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for broken files
        raise StageError("ingest", "corrupt", f"cannot decode image: {e}") from e
    with im:
        for index, frame in enumerate(ImageSequence.Iterator(im)):
            if index >= options.max_pages:
                res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="limit_pages",
                                              message=f"more than --max-pages {options.max_pages} frames; the rest skipped"))
                break
            if time.monotonic() > deadline:
                res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="timeout",
                                              message=f"stopped after {index} frames: over --doc-timeout"))
                break
            w, h = frame.size
            if w * h > options.max_pixels:
                raise StageError("ingest", "limit_pixels", f"{w}x{h} px is above --max-pixels {options.max_pixels}")
            try:
                rgb = to_rgb(ImageOps.exif_transpose(frame) if index == 0 else frame)
            except Exception as e:  # noqa: BLE001
                raise StageError("ingest", "corrupt", f"cannot decode image frame {index + 1}: {e}") from e
            w, h = rgb.size
            scale = min(1.0, options.max_side_px / max(w, h))
            shown = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS) if scale < 1 else rgb
            out = spool_path(spool, doc.doc_id, f"p{index + 1:05d}.jpg")
            shown.save(out, quality=90)
            words = []
            if options.ocr != "off":
                words = ocr_words(np.asarray(shown), scale=1 / scale)
            ink = float((np.asarray(shown.convert("L"))[::4, ::4] < 128).mean())
            res.units.append(PageUnit(
                doc_id=doc.doc_id, page=index + 1, width=float(w), height=float(h),
                image=ImageRef(kind="file", path=out), image_width=shown.size[0], image_height=shown.size[1],
                words=words, text_source="ocr" if words else "none",
                density=word_density(words, w, h) if words else ink))
    return res
