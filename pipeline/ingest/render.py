"""PDF page reading (text layer and image) in a guarded worker process.

MuPDF can hang forever inside `get_pixmap` on hostile files (the corpus has one), and a C call cannot be
interrupted from Python. A content stream can also inflate to gigabytes (a decompression bomb), which
MuPDF buffers while interpreting it. Each calling thread therefore owns one worker process that runs
under an address-space limit; a page that does not finish within the timeout kills the worker (a fresh
one starts on the next call) and fails that page, and a page that needs more memory than the limit fails
alone, without taking the run with it."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Rendered:
    path: str  # encoded image written by the worker
    width: int
    height: int
    ink: float  # share of dark pixels (0..1), a cheap density signal for scans
    hidden: list = field(default_factory=list)  # indexes of the given words the rendered page does not show


@dataclass
class PageRead:
    """What the worker read from one page: its text-layer words (and whether they are usable text), the
    rendered image, and on a page with usable text the pictures its text layer does not read."""

    words: list  # list[schemas.records.Word]
    usable: bool
    rendered: Rendered
    pictures: list = field(default_factory=list)  # (x0, y0, x1, y1) in rotated-page points, see pictures.py
    picture_zooms: list = field(default_factory=list)  # each picture's own pixels per point (`pixels_per_point`)
    for_ocr: Rendered | None = None  # the page's lossless copy for OCR, when OCR will read it (see `read_page`)
    ocr_zoom: float = 0.0
    pinned: list = field(default_factory=list)  # names of the files attached to the page as annotations
    zoom: float = 0.0  # the zoom `rendered` was made at: the whole page's, or its tiles' (see `read_page`)
    source_zoom: float = 0.0  # with `for_ocr` of a page OCR reads whole: pixels per point of the scan it is drawn from (0: drawn, see `source_zoom`)


class RenderTimeout(Exception):
    pass


class RenderFailed(Exception):
    pass


class RenderOutOfMemory(RenderFailed):
    pass


OOM_MARKERS = ("MemoryError", "alloc", "out of memory")


def _open(path: str, password: str | None, cache: dict):
    import pymupdf

    key = (path, password)
    doc = cache.get(key)
    if doc is None:
        for old in list(cache.values()):
            old.close()
        cache.clear()
        doc = pymupdf.open(path, filetype="pdf")
        if doc.needs_pass and password is not None:
            doc.authenticate(password)
        cache[key] = doc
    return doc


def pixmap(page, zoom: float, clip: tuple | None = None):
    """The page (rotation and crop box applied) rasterized to RGB at `zoom`, or only its part `clip`
    (rotated-page points)."""
    import pymupdf

    return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB,
                           clip=pymupdf.Rect(clip) if clip is not None else None)


def render_page(doc, index: int, zoom: float, out_path: str, quality: int = 90, words: list = ()):
    """Render one page to a JPEG file: (Rendered, the pixmap, which OCR's lossless copy reuses). Encoding
    goes through Pillow: about 5x faster than MuPDF's own JPEG writer. `words` (text-layer words in
    rotated-page points) are checked against the picture: `hidden` lists those it does not show."""
    import numpy as np

    from pipeline.ingest.textlayer import hidden_words

    pix = pixmap(doc[index], zoom)
    arr = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.h, pix.w, pix.n)
    ink = float((arr[::4, ::4, 1] < 128).mean()) if pix.w and pix.h else 0.0
    hidden = hidden_words(words, arr, zoom) if words else []
    _picture(pix).save(out_path, quality=quality)
    return Rendered(out_path, pix.w, pix.h, ink, hidden), pix


def _picture(pix):
    """A Pillow view of an RGB pixmap's samples (no copy)."""
    from PIL import Image

    return Image.frombuffer("RGB", (pix.w, pix.h), pix.samples_mv, "raw", "RGB", pix.stride, 1)


def lossless_copy(pix, out_path: str) -> Rendered:
    """A rendered page saved as PNG (fast, lossless) for OCR. RapidOCR reads the JPEG the model is shown
    less well: its ringing around thin strokes makes the recogniser drop the spaces between words
    ('Invoicenumber1542dated12March', bench/ocr_input.py)."""
    _picture(pix).save(out_path, compress_level=1)
    return Rendered(out_path, pix.w, pix.h, 0.0)


def read_page(doc, index: int, zooms: tuple[float, ...], out_path: str, ocr_zoom: float = 0.0, ocr_all: bool = False) -> PageRead:
    """Text-layer words of one page, whether they are usable, the page rendered to `out_path`, and the
    pictures on it that the text layer does not read. `zooms[k - 1]` is the zoom for a page shown in
    k x k tiles: the page is rendered at the one its words' small print asks for (`tile_side`). When OCR
    will read the page (`ocr_zoom` is not 0, and its text layer is unusable, it has such pictures, or
    `ocr_all`: --ocr force), a lossless copy for OCR is written beside `out_path` (`for_ocr`): the same
    picture, or the page rendered again at `ocr_zoom` where that is finer (a large page the model sees
    below --dpi)."""
    from pipeline.ingest.pictures import pixels_per_point, unread_pictures
    from pipeline.ingest.result import OCR_FINER
    from pipeline.ingest.textlayer import pdf_words, usable_text
    from pipeline.legibility import tile_side

    page = doc[index]
    try:
        words = pdf_words(page)
    except Exception:  # noqa: BLE001 - a broken text layer: the caller falls back to OCR
        words = []
    zoom = zooms[min(tile_side(words, page.rect.width, page.rect.height), len(zooms)) - 1]
    rendered, pix = render_page(doc, index, zoom, out_path, words=words)
    if rendered.hidden:  # text the page does not show is neither read nor cited (a bad redaction stays redacted)
        gone = set(rendered.hidden)
        words = [w for k, w in enumerate(words) if k not in gone]
    usable, _ = usable_text(words, page)
    pictures, picture_zooms = [], []
    if usable:
        try:
            images = page.get_image_info()  # listed once: the boxes, then their pixels per point
            pictures = unread_pictures(page, words, images)
            picture_zooms = pixels_per_point(page, pictures, images) if pictures else []
        except Exception:  # noqa: BLE001 - images that cannot be listed: the text layer alone, as before
            pictures, picture_zooms = [], []
    read = PageRead(words, usable, rendered, pictures, picture_zooms, pinned=pinned_files(page), zoom=zoom)
    if ocr_zoom and (pictures or not usable or ocr_all):
        finer = ocr_zoom > OCR_FINER * zoom
        if finer:
            pix = pixmap(page, ocr_zoom)
        read.for_ocr = lossless_copy(pix, str(Path(out_path).with_suffix(".ocr.png")))
        read.ocr_zoom = ocr_zoom if finer else zoom
        read.source_zoom = source_zoom(page) if not usable or ocr_all else 0.0  # read again only when OCR reads it whole
    return read


SCAN_SHARE = 0.5  # images covering this share of a page make it a scan
SCAN_PART = 0.01  # ... counting those of at least this share (a scanner's strips, not a logo)


def source_zoom(page) -> float:
    """Pixels per point of the scan a page is drawn from: the finest of the images that together cover
    SCAN_SHARE of it (a scanner may write a page in strips); 0 when they do not (its print is drawn, and
    renders sharp at any zoom) or cannot be listed."""
    import pymupdf

    area = max(page.rect.width * page.rect.height, 1.0)
    covered, finest = 0.0, 0.0
    try:
        for info in page.get_image_info():
            box = pymupdf.Rect(info["bbox"])
            shown = (box * page.rotation_matrix) & page.rect
            if not shown.is_valid or shown.is_empty or shown.width * shown.height < SCAN_PART * area:
                continue
            covered += shown.width * shown.height
            finest = max(finest, (info.get("width", 0) * info.get("height", 0) / max(box.width * box.height, 1e-6)) ** 0.5)
    except Exception:  # noqa: BLE001 - images that cannot be listed: read as drawn
        return 0.0
    return finest if covered >= SCAN_SHARE * area else 0.0


def ocr_copy(doc, index: int, zoom: float, out_path: str) -> tuple[Rendered, float]:
    """Page `index` rendered at `zoom` as a lossless copy for OCR (`lossless_copy`) at `out_path`, and
    the pixels per point of the scan it is drawn from (`source_zoom`)."""
    page = doc[index]
    return lossless_copy(pixmap(page, zoom), out_path), source_zoom(page)


def clip_copy(doc, index: int, clip: tuple, zoom: float, out_path: str) -> Rendered:
    """The part `clip` (rotated-page points) of page `index` rendered at `zoom` as a lossless copy for
    OCR: a picture on the page read again finer than the page."""
    return lossless_copy(pixmap(doc[index], zoom, clip), out_path)


TASKS = {"read": read_page, "ocr_copy": ocr_copy, "clip_copy": clip_copy}  # what the page worker runs, by name


def pinned_files(page) -> list[str]:
    """Names of the files attached to a page as file-attachment annotations."""
    import pymupdf

    try:
        return [a.file_info.get("filename", "") for a in page.annots(types=[pymupdf.PDF_ANNOT_FILE_ATTACHMENT])]
    except Exception:  # noqa: BLE001 - broken annotations: nothing to report
        return []


def limit_memory(max_mb: int) -> None:
    """Cap this process's address space, so that a bomb fails here with MemoryError, not the machine."""
    import resource

    if max_mb > 0:
        limit = max_mb * 2**20
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _worker(conn, max_mb: int) -> None:
    from pipeline.mupdf import skip_layout_analyser

    skip_layout_analyser()
    import pymupdf

    limit_memory(max_mb)
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    cache: dict = {}
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        task, path, password, args = msg
        try:
            conn.send(("ok", TASKS[task](_open(path, password, cache), *args)))
        except MemoryError:  # free what the bomb took before answering
            cache.clear()
            conn.send(("oom", "MemoryError"))
        except Exception as e:  # noqa: BLE001 - reported to the parent as a page failure
            text = f"{type(e).__name__}: {e}"
            conn.send(("oom" if any(m in text for m in OOM_MARKERS) else "err", text))


class RenderGuard:
    """One worker process that reads pages with a timeout and a memory cap (`max_mb` of address space,
    0 for none); restarted after a hang, a crash or a bomb."""

    def __init__(self, max_mb: int = 0) -> None:
        self.max_mb = max_mb
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(child, self.max_mb), daemon=True, name="gemmadoc-render")
        self._proc.start()
        child.close()
        self._conn = parent

    def read(self, path: str, index: int, zooms: tuple[float, ...], out_path: str, timeout: float,
             password: str | None = None, ocr_zoom: float = 0.0, ocr_all: bool = False) -> PageRead:
        """`read_page` in the worker (`zooms`: the page's zoom for 1, 2, ... tiles a side)."""
        return self._run("read", path, password, index, timeout, (index, zooms, out_path, ocr_zoom, ocr_all))

    def ocr_copy(self, path: str, index: int, zoom: float, out_path: str, timeout: float,
                 password: str | None = None) -> tuple[Rendered, float]:
        """`ocr_copy` in the worker: the page at `zoom` for OCR, and its scan's pixels per point."""
        return self._run("ocr_copy", path, password, index, timeout, (index, zoom, out_path))

    def clip_copy(self, path: str, index: int, clip: tuple, zoom: float, out_path: str, timeout: float,
                  password: str | None = None) -> Rendered:
        """`clip_copy` in the worker: the part `clip` of the page at `zoom`, for OCR."""
        return self._run("clip_copy", path, password, index, timeout, (index, clip, zoom, out_path))

    def _run(self, task: str, path: str, password: str | None, index: int, timeout: float, args: tuple):
        """`TASKS[task](document, *args)` in the worker, within `timeout` seconds."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((task, path, password, args))
        if not self._conn.poll(timeout):
            self.kill()
            raise RenderTimeout(f"page {index + 1} did not render within {timeout:.0f} s (MuPDF hang); worker killed")
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError) as e:
            code = self._proc.exitcode if self._proc is not None else None
            self.kill()
            if self.max_mb and code is not None and code < 0:  # a native abort under the cap is most often an allocation
                raise RenderOutOfMemory(self._oom_message(index)) from e
            raise RenderFailed(f"render worker died on page {index + 1}: {e}") from e
        if status == "oom":
            self.kill()  # start clean: the bomb may have fragmented the worker's heap
            raise RenderOutOfMemory(self._oom_message(index))
        if status != "ok":
            raise RenderFailed(f"page {index + 1} failed to render: {payload}")
        return payload

    def _oom_message(self, index: int) -> str:
        return (f"page {index + 1} needs more than --max-page-memory-mb {self.max_mb} MB to read "
                "(a decompression bomb, or a page far larger than any document page); page skipped")

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        self._proc = self._conn = None

    def close(self) -> None:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2)
            except OSError:
                pass
        self.kill()


_local = threading.local()


def thread_guard(max_mb: int = 0) -> RenderGuard:
    """The calling thread's page worker (created on first use; replaced when the memory cap changes)."""
    guard = getattr(_local, "guard", None)
    if guard is None or guard.max_mb != max_mb:
        if guard is not None:
            guard.close()
        guard = _local.guard = RenderGuard(max_mb)
    return guard


def spool_path(spool_dir: Path, doc_id: str, name: str) -> str:
    d = spool_dir / doc_id[:16]
    os.makedirs(d, exist_ok=True)
    return str(d / name)
