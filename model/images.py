"""Load the pixels an ImageRef points to (PIL only: the model layer never imports PDF or video code)."""

from __future__ import annotations

import io

from schemas.records import ImageRef


def load_image(ref: ImageRef):
    """The picture as the model is shown it: RGB, turned upright where ingest's OCR found it turned, and
    cut to `ref.crop` (one slice of a long page, or one tile of a large sheet)."""
    from PIL import Image

    if ref.kind == "encoded":
        if ref.data is None:
            raise ValueError("encoded ImageRef without data")
        im = Image.open(io.BytesIO(ref.data))
    else:
        im = Image.open(ref.path)
    im.load()
    im = im.convert("RGB") if im.mode != "RGB" else im
    turns = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
    im = im.transpose(turns[ref.turn % 4]) if ref.turn % 4 else im
    return im.crop(ref.crop) if ref.crop else im
