"""Load the pixels an ImageRef points to (PIL only: the model layer never imports PDF or video code)."""

from __future__ import annotations

import io
import os
import threading

from schemas.records import ImageRef


_last = threading.local()  # each thread's last decoded file: the parts of one page follow each other


def load_image(ref: ImageRef):
    """The picture as the model is shown it: RGB, turned upright where ingest's OCR found it turned, and
    cut to `ref.crop` (one slice of a long page, or one tile of a large sheet). The parts of one page
    file are cut from one decode of it."""
    if not ref.crop or ref.kind != "file":
        im = _upright(ref)
        return im.crop(ref.crop) if ref.crop else im
    st = os.stat(ref.path)
    key = (ref.path, ref.turn, st.st_mtime_ns, st.st_size)
    if getattr(_last, "key", None) != key:
        _last.key, _last.image = None, None  # the previous page's pixels are freed before the next decode
        _last.image, _last.key = _upright(ref), key
    return _last.image.crop(ref.crop)


def _upright(ref: ImageRef):
    """The whole picture `ref` points to, decoded to RGB and turned upright."""
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
    return im.transpose(turns[ref.turn % 4]) if ref.turn % 4 else im
