"""TIFF sample formats Pillow does not read: 32- or 64-bit float RGB or RGBA, 64-bit float grey, signed
integer RGB (a scientific camera's, an HDR merge's, a GIS or microscopy export's). Pillow fails them as
"cannot identify image file", as it does a file that is no image. OpenCV's libtiff decodes them; each
page is brought to 8 bits (floats in 0..1 scaled, others stretched from their lowest to highest value)
and handed back as a multi-page 8-bit TIFF in memory, which the image ingest reads as any other."""

from __future__ import annotations

from io import BytesIO

from pipeline.errors import StageError
from schemas.options import IngestOptions

MAX_DIRECTORIES = 100_000  # a directory chain that loops is cut here
SIGNED, FLOAT = 2, 3  # TIFF SampleFormat values


def page_sizes(path: str, limit: int) -> list[tuple[int, int, float, int]]:
    """(width, height, bytes per pixel, sample format: 1 unsigned, 2 signed, 3 float) of the first `limit`
    pages, from the TIFF's directories alone (nothing is decoded); [] when they cannot be read."""
    from PIL import TiffImagePlugin

    sizes: list[tuple[int, int, float, int]] = []
    seen: set[int] = set()
    try:
        with open(path, "rb") as f:
            header = f.read(8)
            offset = TiffImagePlugin.ImageFileDirectory_v2(header).next
            while offset and offset not in seen and len(sizes) < min(limit, MAX_DIRECTORIES):
                seen.add(offset)
                f.seek(offset)
                ifd = TiffImagePlugin.ImageFileDirectory_v2(header)
                ifd.load(f)
                bits = ifd.get(258, (8,))
                bits = bits if isinstance(bits, tuple) else (bits,)
                samples = int(ifd.get(277, len(bits)) or 1)
                kind = ifd.get(339, (1,))
                sizes.append((int(ifd[256]), int(ifd[257]), samples * max(bits) / 8, int(kind[0] if isinstance(kind, tuple) else kind)))
                offset = ifd.next
    except Exception:  # noqa: BLE001 - not a TIFF Pillow can walk: nothing to decode here
        return sizes
    return sizes


def eight_bit(arr):
    """An OpenCV page (BGR or BGRA order, any depth) as 8-bit RGB or grey."""
    import cv2
    import numpy as np

    if arr.dtype != np.uint8:
        values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
        if arr.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:  # the usual range of float samples
            lo, hi = 0.0, 1.0
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        arr = ((values - lo) * scale).clip(0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    if arr.ndim == 3 and arr.shape[2] == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr[:, :, 0] if arr.ndim == 3 else arr


def opencv_tiff(path: str, options: IngestOptions):
    """The pages of a TIFF Pillow cannot identify, decoded by OpenCV into an 8-bit multi-page TIFF that
    Pillow opens (at most --max-pages + 1 pages, so the caller still sees that there are more), and how
    many pages its directories list (up to that many); or None when its first page's samples are not
    signed or float (a damaged file stays Pillow's to judge) or OpenCV cannot decode it either. Each page's size is checked against --max-pixels and
    --max-image-mb from its directory before it is decoded (StageError)."""
    import cv2
    from PIL import Image

    sizes = page_sizes(path, options.max_pages + 1)
    if not sizes or sizes[0][3] not in (SIGNED, FLOAT):
        return None
    pages = []
    for index, (width, height, per_pixel, _) in enumerate(sizes):
        if width * height > options.max_pixels:
            raise StageError("ingest", "limit_pixels", f"{width}x{height} px is above --max-pixels {options.max_pixels}")
        if width * height * per_pixel / 2**20 > options.max_image_mb:
            raise StageError("ingest", "limit_memory", f"{width}x{height} px at {per_pixel * 8:g} bits a pixel decodes to "
                             f"{width * height * per_pixel / 2**20:.0f} MB, above --max-image-mb {options.max_image_mb:g}")
        ok, mats = cv2.imreadmulti(path, start=index, count=1, flags=cv2.IMREAD_UNCHANGED)
        if not ok or not mats:
            break
        pages.append(Image.fromarray(eight_bit(mats[0])))
    if not pages:
        return None
    buffer = BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    buffer.seek(0)
    return Image.open(buffer), len(sizes)
