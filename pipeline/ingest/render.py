"""PDF page rendering in a guarded worker process.

MuPDF can hang forever inside `get_pixmap` on hostile files (the corpus has one), and a C call cannot be
interrupted from Python. Each calling thread therefore owns one worker process; a page that does not
render within the timeout kills the worker (a fresh one starts on the next call) and fails that page."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Rendered:
    path: str  # encoded image written by the worker
    width: int
    height: int
    ink: float  # share of dark pixels (0..1), a cheap density signal for scans


class RenderTimeout(Exception):
    pass


class RenderFailed(Exception):
    pass


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


def render_page(doc, index: int, zoom: float, out_path: str, quality: int = 90) -> Rendered:
    """Render one page (rotation and crop box applied) to a JPEG file; used in-process and by the worker.
    Encoding goes through Pillow: about 5x faster than MuPDF's own JPEG writer."""
    import numpy as np
    import pymupdf
    from PIL import Image

    page = doc[index]
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
    arr = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.h, pix.w, pix.n)
    ink = float((arr[::4, ::4, 1] < 128).mean()) if pix.w and pix.h else 0.0
    Image.frombuffer("RGB", (pix.w, pix.h), pix.samples_mv, "raw", "RGB", pix.stride, 1).save(out_path, quality=quality)
    return Rendered(out_path, pix.w, pix.h, ink)


def _worker(conn) -> None:
    import pymupdf

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
        path, password, index, zoom, out_path = msg
        try:
            conn.send(("ok", render_page(_open(path, password, cache), index, zoom, out_path)))
        except Exception as e:  # noqa: BLE001 - reported to the parent as a page failure
            conn.send(("err", f"{type(e).__name__}: {e}"))


class RenderGuard:
    """One worker process that renders pages with a timeout; restarted after a hang or a crash."""

    def __init__(self) -> None:
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(child,), daemon=True, name="gemmadoc-render")
        self._proc.start()
        child.close()
        self._conn = parent

    def render(self, path: str, index: int, zoom: float, out_path: str, timeout: float,
               password: str | None = None) -> Rendered:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((path, password, index, zoom, out_path))
        if not self._conn.poll(timeout):
            self.kill()
            raise RenderTimeout(f"page {index + 1} did not render within {timeout:.0f} s (MuPDF hang); worker killed")
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError) as e:
            self.kill()
            raise RenderFailed(f"render worker died on page {index + 1}: {e}") from e
        if status != "ok":
            raise RenderFailed(f"page {index + 1} failed to render: {payload}")
        return payload

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


def thread_guard() -> RenderGuard:
    """The calling thread's render worker (created on first use)."""
    guard = getattr(_local, "guard", None)
    if guard is None:
        guard = _local.guard = RenderGuard()
    return guard


def spool_path(spool_dir: Path, doc_id: str, name: str) -> str:
    d = spool_dir / doc_id[:16]
    os.makedirs(d, exist_ok=True)
    return str(d / name)
