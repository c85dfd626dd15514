"""Load the pixels an ImageRef points to (PIL only: the model layer never imports PDF or video code)."""

from __future__ import annotations

import io

from schemas.records import ImageRef


def load_image(ref: ImageRef):
    from PIL import Image

    if ref.kind == "encoded":
        if ref.data is None:
            raise ValueError("encoded ImageRef without data")
        im = Image.open(io.BytesIO(ref.data))
    else:
        im = Image.open(ref.path)
    im.load()
    return im.convert("RGB") if im.mode != "RGB" else im
