"""Image ingest through Pillow: PNG, JPEG, TIFF (every page; float and signed samples through OpenCV), WebP, BMP, GIF, JPEG 2000, AVIF and HEIC. EXIF
orientation, CMYK and 16-bit handled; a file that ends early or is damaged keeps what decodes. An animated
GIF, PNG, WebP or AVIF is read like a video (pipeline/ingest/animation.py); a JPEG that carries more pictures (MPO:
a phone's HDR gain map or preview, a stereo camera's second eye) is its primary picture."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.animation import ingest_animation, is_animation
from pipeline.ingest.lenient import GATE, Damage
from pipeline.ingest.ocr import finer_or_first, ocr_page
from pipeline.ingest.render import spool_path
from pipeline.ingest.result import (OCR_FINER, IngestResult, fit_scale, fit_size, numbered, ocr_fit_scale, reread_scale, tiled,
                                    word_density)
from pipeline.ingest.scripts import unread_message
from pipeline.ingest.tiffsamples import opencv_tiff
from pipeline.legibility import tile_side
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, ImageRef, PageUnit, SourceDocument


DECODERS = {"image/webp": ("webp", "WebP"), "image/avif": ("avif", "AVIF"), "image/jp2": ("jpg_2000", "JPEG 2000"),
            "image/j2k": ("jpg_2000", "JPEG 2000"), "image/tiff": ("libtiff", "compressed TIFF")}  # Pillow features


def codec_missing(mime: str) -> str | None:
    """The kind of image this machine's Pillow (or pillow-heif) cannot decode, for `mime`; None when it can."""
    if mime == "image/heic":
        try:
            importlib.import_module("pillow_heif")
        except ImportError:
            return "HEIC"
        return None
    if mime not in DECODERS:
        return None
    from PIL import features

    feature, name = DECODERS[mime]
    return None if features.check(feature) else name


def missing_how(name: str) -> str:
    """How to get the decoder `codec_missing` named."""
    if name == "HEIC":
        return "install the pillow-heif package"
    return f"this Pillow was built without {name} support; install Pillow's own wheel (pip install --force-reinstall pillow)"


def decoders() -> str:
    """One line on the image decoders this machine has: what is missing, or that all are there."""
    missing = sorted({m for m in (codec_missing(mime) for mime in [*DECODERS, "image/heic"]) if m})
    return f"missing: {', '.join(missing)} (such images fail as unsupported_type)" if missing else \
        "WebP, AVIF, JPEG 2000, compressed TIFF and HEIC all decode"


WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def backdrop(im) -> tuple[int, int, int]:
    """What a transparent image is laid on: white, unless everything it draws is light (white text and
    lines for a dark theme, which would vanish on white), then black. Judged on a 256-px sample."""
    import numpy as np
    from PIL import Image

    if im.mode not in ("RGBA", "LA", "PA") and not (im.mode == "P" and "transparency" in im.info):
        return WHITE
    sample = im.resize((min(im.width, 256), min(im.height, 256)), Image.NEAREST).convert("RGBA")
    rgba = np.asarray(sample, dtype=np.float32)
    drawn = rgba[..., 3] > 128
    if drawn.mean() < 0.001:
        return WHITE
    lum = rgba[..., :3][drawn] @ np.array([0.299, 0.587, 0.114], np.float32)
    return BLACK if (lum < 128).mean() < 0.01 and (lum > 200).mean() > 0.5 else WHITE


def to_rgb(im, background: tuple[int, int, int] | None = None):
    """Convert any PIL mode to 8-bit RGB: 16/32-bit greyscale is rescaled, alpha composited on
    `background` (by default the image's own `backdrop`)."""
    import numpy as np
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("P", "RGBA", "LA", "PA"):
        background = background or backdrop(im)  # judged before a palette is expanded
        rgba = im.convert("RGBA")
        base = Image.new("RGB", im.size, background)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    if im.mode == "1":
        return im.convert("L").convert("RGB")
    return im.convert("RGB")


BYTES_PER_PIXEL = {"1": 0.125, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2, "RGB": 3,
                   "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4}
STRIP_MODES = {"1", "L", "P", "LA", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"}  # converted strip by strip


def decoded_mb(mode: str, width: int, height: int) -> float:
    """Memory one frame takes once decoded in its own mode (before any conversion)."""
    return width * height * BYTES_PER_PIXEL.get(mode, 4) / 2**20


def shrink_to_rgb(im, options: IngestOptions, size: tuple[int, int] | None = None):
    """8-bit RGB within --max-page-pixels and --max-side (or at `size`, no larger than the frame), built
    strip by strip for large images: peak memory is the decoded frame plus one strip, never a full-size
    RGBA/RGB copy (a 9990x9990 palette PNG needs ~100 MB decoded, not 2 GB of conversions)."""
    from PIL import Image

    w, h = im.size
    if size is None:
        factor = int(1 / min(1.0, fit_scale(w, h, options)))  # integer box reduction first, exact resize after
    else:
        size = (max(1, min(w, size[0])), max(1, min(h, size[1])))
        factor = int(min(w / size[0], h / size[1]))
    if factor < 2 or im.mode not in STRIP_MODES:
        rgb = to_rgb(im)
    else:
        background = backdrop(im)  # one for the whole image, not one a strip
        ow, oh = -(-w // factor), -(-h // factor)
        rgb = Image.new("RGB", (ow, oh), (255, 255, 255))
        rows = factor * max(1, (8 << 20) // (w * 4 * factor))  # ~8 MB of RGBA per strip
        for y in range(0, h, rows):
            strip = to_rgb(im.crop((0, y, w, min(h, y + rows))), background)
            rgb.paste(strip.reduce(factor), (0, y // factor))
    size = fit_size(*rgb.size, options) if size is None else size
    return rgb.resize(size, Image.LANCZOS) if size != rgb.size else rgb


def ingest_image(doc: SourceDocument, options: IngestOptions, spool: Path, deadline: float) -> IngestResult:
    """Every frame of an image file as a page (an animation's as timed frames). A frame that ends early or
    whose data is damaged keeps the rows that decode (an error row says how many); a frame that cannot be
    read after good ones stops the document with those kept."""
    import numpy as np
    from PIL import Image

    res = IngestResult()
    err = lambda kind, msg, page=None: res.errors.append(  # noqa: E731
        ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind=kind, message=msg, page=page))
    # Pillow's own bomb check is process-wide: only ever raised to --max-pixels (the size check of each
    # frame is `_check_size`, per run). Lowering it would fail this process's later opens of the pages it
    # renders itself (2.6 MP), for OCR and review copies, under a --max-pixels below that.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < options.max_pixels:
        Image.MAX_IMAGE_PIXELS = options.max_pixels
    if doc.mime == "image/heic" and not codec_missing(doc.mime):
        import pillow_heif

        pillow_heif.register_heif_opener()  # idempotent; applies the photo's rotation and resets its EXIF tag
    try:
        with GATE.strict():
            im = Image.open(doc.path)
    except Image.DecompressionBombError as e:
        raise StageError("ingest", "limit_pixels", f"image above --max-pixels {options.max_pixels}: {e}") from e
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for broken files
        if missing := codec_missing(doc.mime):
            raise StageError("ingest", "unsupported_type", f"this machine cannot decode {missing} images: {missing_how(missing)} "
                             "(`gemmadoc doctor` lists the image decoders)") from e
        opened = opencv_tiff(doc.path, options) if doc.mime == "image/tiff" and isinstance(e, Image.UnidentifiedImageError) else None
        if opened is None:  # a float or signed-integer TIFF decodes through OpenCV (pipeline/ingest/tiffsamples.py)
            raise StageError("ingest", "corrupt", f"cannot decode image: {e}") from e
        im, listed = opened
        if (decoded := getattr(im, "n_frames", 1)) < min(listed, options.max_pages):  # a page after good ones does not decode
            err("truncated", f"page {decoded + 1} of the {listed} the file lists does not decode; the {decoded} before it "
                "were kept", page=decoded + 1)
    unread: dict[int, str] = {}  # frame -> what OCR made of a script it does not read
    with im:
        if is_animation(im):
            _check_size(im, options, "RGBA")  # a GIF's later frames decode to RGBA over the palette
            return ingest_animation(doc, im, options, spool, deadline,
                                    lambda index: _decode_frame(doc.path, im, index, options)[:3])
        for index in range(options.max_pages + 1):
            if index == 1 and im.format == "MPO":  # the other pictures illustrate the first
                break
            try:
                with GATE.strict():
                    im.seek(index)
            except EOFError:
                break
            except Exception as e:  # noqa: BLE001 - a broken frame directory (truncated TIFF and friends)
                if index == 0:
                    raise StageError("ingest", "corrupt", f"cannot decode image: {e}") from e
                err("truncated", f"the file breaks at frame {index + 1} ({type(e).__name__}: {e}); "
                    f"the {index} frame(s) before it were kept", page=index + 1)
                break
            if index == options.max_pages:
                err("limit_pages", f"more than --max-pages {options.max_pages} frames; the rest skipped")
                break
            if time.monotonic() > deadline:
                err("timeout", f"stopped after {index} frames: over --doc-timeout")
                break
            _check_size(im, options)
            try:
                shown, (w, h), damage, finer = _decode_frame(doc.path, im, index, options, ocr=options.ocr != "off")
            except StageError as e:
                if index == 0:
                    raise
                err("corrupt", f"{e.message}; the {index} frame(s) before it were kept", page=index + 1)
                break
            if damage is not None:
                err(damage.kind, damage.message, page=index + 1)
            out = spool_path(spool, doc.doc_id, f"p{index + 1:05d}.jpg")
            shown.save(out, quality=90)
            words, turn = [], 0
            if options.ocr != "off":
                read = finer or shown  # page coordinates stay those of the full-size upright image
                reading = ocr_page(np.asarray(read), scale=w / read.size[0], quarter_turns=True)
                if (at := reread_scale(reading.print_words, w, h, read.size[0] / w, confidence=reading.confidence)) and (again := _redecoded(doc.path, index, options, at)):
                    reading, finer = finer_or_first(reading, ocr_page(np.asarray(again), scale=w / again.size[0], quarter_turns=True)), again
                words, turn = reading.words, reading.turn
                if reading.unread:
                    unread.setdefault(index + 1, reading.unread)
                if (side := tile_side(words, w, h)) > 1 and (bigger := _retiled(doc.path, index, tiled(options, side), shown, finer)):
                    shown = bigger  # small print one image shows too small: kept for tiles (pipeline/legibility.py)
                    shown.save(out, quality=90)
            ink = float((np.asarray(shown.convert("L"))[::4, ::4] < 128).mean())
            res.units.append(PageUnit(
                doc_id=doc.doc_id, page=index + 1, width=float(w), height=float(h),
                image=ImageRef(kind="file", path=out, turn=turn), image_width=shown.size[turn % 2],
                image_height=shown.size[1 - turn % 2],
                words=words, text_source="ocr" if words else "none",
                density=word_density(words, w, h) if words else ink))
    if unread:
        frames = sorted(unread)
        where = "the image" if len(res.units) == 1 else numbered("frame", frames)
        res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="unread_script", severity="warning",
                                      message=unread_message(where, unread[frames[0]]), page=frames[0]))
    return res


def _check_size(im, options: IngestOptions, mode: str | None = None) -> None:
    """Refuse a frame above --max-pixels or --max-image-mb, from its header, before a byte is decoded
    (`mode`: the one its frames decode to, when not the first frame's)."""
    w, h = im.size
    if w * h > options.max_pixels:
        raise StageError("ingest", "limit_pixels", f"{w}x{h} px is above --max-pixels {options.max_pixels}")
    mode = mode or im.mode
    need = decoded_mb(mode, w, h)
    if need > options.max_image_mb:
        raise StageError("ingest", "limit_memory", f"{w}x{h} px in mode {mode} decodes to {need:.0f} MB, "
                         f"above --max-image-mb {options.max_image_mb:g}")


def _decode_frame(path: str, im, index: int, options: IngestOptions, ocr: bool = False):
    """(upright RGB image within max_side_px, upright full size, Damage or None, the picture OCR reads
    when it is finer than the first, else None; see `ocr_fit_scale`). A frame Pillow refuses (the file
    ends early, or its data is damaged) is decoded again leniently from a fresh handle, and kept when
    some of its rows decode."""
    try:
        with GATE.strict():
            shown, size, finer = _upright(im, index, options, ocr)
            return shown, size, None, finer
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for broken data
        refused = e
    from PIL import Image

    try:
        with GATE.lenient(), Image.open(path) as again:
            again.seek(index)
            again.load()  # at full size (no JPEG draft), so rows and page coordinates stay those of the file
            damage = Damage.of(again, refused)
            if damage.rows == 0:
                raise ValueError("not one row decodes")
            shown, size, finer = _upright(again, index, options, ocr)
            return shown, size, damage, finer
    except Exception as e:  # noqa: BLE001
        raise StageError("ingest", "corrupt", f"cannot decode image frame {index + 1}: {refused}") from e


def _retiled(path: str, index: int, options: IngestOptions, shown, finer=None):
    """Frame `index` within `options` (room for tiles): made from `finer`, the picture OCR read, when
    there is one (at most its size), else decoded again from the file; None when that adds no pixels to
    `shown` (a picture not larger than one image) or does not decode."""
    from PIL import Image

    try:
        if finer is not None:
            size = fit_size(*finer.size, options)
            bigger = finer.resize(size, Image.LANCZOS) if size != finer.size else finer
        else:
            with GATE.strict(), Image.open(path) as again:
                again.seek(index)
                bigger = _upright(again, index, options)[0]
    except Exception:  # noqa: BLE001 - kept as first decoded
        return None
    return bigger if bigger.width * bigger.height > 1.1 * shown.width * shown.height else None


def stated_dpi(im) -> float | None:
    """The resolution an image states (TIFF, PNG pHYs, JPEG JFIF or EXIF), or None."""
    try:
        dpi = im.info.get("dpi")
        return float(min(dpi)) if dpi and min(dpi) > 0 else None
    except (TypeError, ValueError):
        return None


def _redecoded(path: str, index: int, options: IngestOptions, at: float):
    """Frame `index` of the file decoded again, upright, at `at` of its full size for OCR to read again
    (`reread_scale`); None when it does not decode or is not finer than the model's picture."""
    from PIL import Image

    try:
        with GATE.strict(), Image.open(path) as again:
            again.seek(index)
            return _upright(again, index, options, at=at)[2]
    except Exception:  # noqa: BLE001 - kept as first read
        return None


def _upright(frame, index: int, options: IngestOptions, ocr: bool = False, at: float | None = None):
    """The frame turned as its EXIF says (first frame only) and shrunk to RGB; its upright full size; and
    when `ocr` asks for a finer picture than the model's (`ocr_fit_scale`, or `at` of full size when
    given), that picture, else None."""
    from PIL import Image, ImageOps

    w, h = frame.size
    scale = min(1.0, fit_scale(w, h, options))
    finer = at if at is not None else ocr_fit_scale(w, h, options, stated_dpi(frame)) if ocr else scale
    finer = finer if finer > OCR_FINER * scale else scale
    if index > 0:
        upright = frame
    else:
        if frame.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF turns it a quarter: the page is upright
            w, h = h, w
        if frame.format in ("JPEG", "MPO"):  # decodes at 1/2..1/8 scale, never below the size kept
            frame.draft("RGB", (max(1, round(frame.width * finer)), max(1, round(frame.height * finer))))
        upright = ImageOps.exif_transpose(frame)
    if finer == scale:
        return shrink_to_rgb(upright, options), (w, h), None
    big = shrink_to_rgb(upright, options, (max(1, round(w * finer)), max(1, round(h * finer))))
    return big.resize(fit_size(*big.size, options), Image.LANCZOS), (w, h), big
