"""PDF ingest with PyMuPDF: words with boxes from the text layer, OCR where it is unusable, pages
rendered once (guarded against MuPDF hangs) to the spool folder for the model."""

from __future__ import annotations

import math
import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.layercheck import layer_mismatch, sampled_mismatches
from pipeline.ingest.ocr import Reading, finer_or_first, ocr_page
from pipeline.ingest.pictures import merge_words
from pipeline.ingest.render import PageRead, Rendered, RenderFailed, RenderOutOfMemory, RenderTimeout, spool_path, thread_guard
from pipeline.ingest.result import OCR_MAX_PIXELS, IngestResult, fit_scale, numbered, reread_scale, tiled, word_density
from pipeline.ingest.scripts import unread_message
from pipeline.legibility import tile_side
from pipeline.slices import MAX_TILE_SIDE
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, ImageRef, PageUnit, SourceDocument, Word

def open_pdf(path: str, passwords: list[str]):
    """Open a PDF, trying each password; returns (document, password used). Raises StageError."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except pymupdf.EmptyFileError as e:
        raise StageError("ingest", "empty", f"empty PDF: {e}") from e
    except Exception as e:  # noqa: BLE001 - FileDataError and friends
        raise StageError("ingest", "corrupt", f"cannot open PDF: {e}") from e
    used = None
    if doc.needs_pass:
        for pw in passwords:
            if doc.authenticate(pw):
                used = pw
                break
        else:
            doc.close()
            hint = "none of the given passwords opened it" if passwords else "give its password with --password"
            raise StageError("ingest", "encrypted", f"PDF is encrypted: {hint}")
    if doc.page_count == 0:
        doc.close()
        raise StageError("ingest", "zero_pages", "PDF has no pages (empty or unrecoverable page tree)")
    return doc, used


def page_zoom(width_pt: float, height_pt: float, options: IngestOptions) -> float:
    """Zoom for the render policy: the target DPI, capped so the page fits --max-page-pixels and --max-side."""
    return min(options.dpi / 72.0, fit_scale(width_pt, height_pt, options))


def ocr_zoom(width_pt: float, height_pt: float, options: IngestOptions) -> float:
    """Zoom OCR reads a page at: --dpi, within OCR_MAX_PIXELS. A page larger than the model's area cap
    (A2 and up, a drawing, a poster) is shown to the model below --dpi (an A1 sheet at 58 dpi, its 9-pt
    text 7 px tall), but OCR is not bound by the image budget."""
    return max(page_zoom(width_pt, height_pt, options),
               min(options.dpi / 72.0, math.sqrt(OCR_MAX_PIXELS / max(width_pt * height_pt, 1.0))))


def ingest_pdf(doc: SourceDocument, options: IngestOptions, spool: Path, deadline: float) -> IngestResult:
    res = IngestResult()
    pdf, password = open_pdf(doc.path, options.passwords)
    err = lambda kind, msg, sev="error", page=None: res.errors.append(  # noqa: E731
        ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind=kind, message=msg, severity=sev, page=page))
    try:
        repaired = pdf.is_repaired
        n = pdf.page_count
        if n > options.max_pages:
            err("limit_pages", f"{n} pages, above --max-pages {options.max_pages}; only the first {options.max_pages} read")
            n = options.max_pages
        guard = thread_guard(options.max_page_memory_mb)
        hidden: dict[int, int] = {}  # page -> text-layer words it does not show
        pinned: list[str] = []  # files attached to the pages read
        unread_pages: dict[int, str] = {}  # page -> what OCR made of a script it does not read
        for i in range(n):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                err("timeout", f"stopped after {i} of {n} pages: over --doc-timeout {options.doc_timeout_s:g} s")
                break
            try:
                unit, read, unread = _ingest_page(doc, pdf, i, options, spool, guard, min(options.page_timeout_s, remaining), password)
            except RenderTimeout as e:
                err("render_timeout", f"{e}; the remaining {n - i - 1} pages were not tried (they share the broken structure)", page=i + 1)
                break
            except RenderOutOfMemory as e:
                err("limit_memory", str(e), page=i + 1)
                continue
            except RenderFailed as e:
                err("render_failed", str(e), page=i + 1)
                continue
            except Exception as e:  # noqa: BLE001 - one bad page must not lose the others
                err("page_failed", f"page {i + 1}: {type(e).__name__}: {e}", page=i + 1)
                continue
            res.units.append(unit)
            if read.rendered.hidden and unit.text_source in ("pdf", "mixed"):  # an OCR'd page dropped its layer anyway
                hidden[i + 1] = len(read.rendered.hidden)
            pinned += read.pinned
            if unread:
                unread_pages[i + 1] = unread
        if hidden:
            err("hidden_text", hidden_text_message(hidden), "warning", page=min(hidden))
        if unread_pages:
            pages = sorted(unread_pages)
            err("unread_script", unread_message(numbered("page", pages), unread_pages[pages[0]]), "warning", page=pages[0])
        def lossless(unit: PageUnit, zoom: float = 0.0) -> tuple[Rendered, float, float] | None:
            """A miscoded page rendered again in the worker as a lossless copy for OCR, at `zoom` (else at the
            zoom OCR reads pages at): the copy, its zoom, and the pixels per point of the scan it is drawn
            from (`source_zoom`). The model's page image is never rewritten."""
            page = pdf[unit.page - 1]
            at = zoom or _zooms(page.rect.width, page.rect.height, options)[1]
            scratch = Path(unit.image.path).with_suffix(".finer.png" if zoom else ".again.png")  # both exist a while
            try:
                copy, source = guard.ocr_copy(doc.path, unit.page - 1, at, str(scratch),
                                              max(1.0, min(options.page_timeout_s, deadline - time.monotonic())), password)
            except Exception:  # noqa: BLE001 - OCR then reads the page image the model is shown
                scratch.unlink(missing_ok=True)
                return None
            return copy, at, source

        if options.ocr == "auto" and time.monotonic() < deadline and (miscoded := _read_miscoded(res.units, deadline, lossless)):
            err("miscoded_text", miscoded_message(*miscoded), "warning", page=miscoded[0][0])
        if not options.attachments and (carried := attached_files(pdf, pinned)):
            err("attachments", attachments_message(pdf, carried), "warning")
        if repaired:
            blank = sum(1 for u in res.units if not u.words)
            err("repaired", f"MuPDF repaired a damaged file (truncated or broken xref); {blank} of {len(res.units)} pages have no text, "
                "content may be missing", "warning")
    finally:
        pdf.close()
    return res


def attached_files(pdf, pinned: list[str]) -> list[str]:
    """Names of the documents a PDF carries that gemmadoc could read, when they are not unpacked
    (--no-attachments, or one file opened through the API): a PDF, an image or a video, by name (their
    bytes are not inflated here), among its embedded files (a portfolio's documents, attachments) and
    the files `pinned` to its pages (read by the page worker). An e-invoice's XML is not one."""
    from pipeline.discover import SUPPORTED_EXTENSIONS

    try:
        names = pdf.embfile_names() + pinned
    except Exception:  # noqa: BLE001 - a broken name tree: the pinned files alone
        names = pinned
    return [n for n in names if Path(n).suffix.lower() in SUPPORTED_EXTENSIONS]


def attachments_message(pdf, names: list[str]) -> str:
    """The warning for documents a PDF carries, naming the first few (control characters dropped)."""
    try:
        portfolio = pdf.xref_get_key(pdf.pdf_catalog(), "Collection")[0] != "null"
    except Exception:  # noqa: BLE001
        portfolio = False
    shown = ", ".join(repr("".join(c for c in n if c.isprintable())[:80]) for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    kind = "a PDF portfolio: its documents are" if portfolio else "the PDF carries attached documents,"
    return f"{kind} not read ({len(names)}: {shown}{more}); extract them into the inputs to read them"


def _read_miscoded(units: list[PageUnit], deadline: float, lossless=None) -> tuple[list[int], int] | None:
    """OCR, in place of their text layer, the pages whose layer says other text than they show (found by
    `sampled_mismatches`), from the lossless copy `lossless(unit)` gives where it does (read again finer
    from `lossless(unit, zoom)` where its small print asks: `read_finely`), else from the page image: their
    page numbers, and how many of them were left without words instead (over
    --doc-timeout); None when there are none."""
    layered = [k for k, u in enumerate(units) if u.text_source in ("pdf", "mixed")]  # shown as rendered: no turn

    def mismatch(k: int) -> bool:
        unit = units[layered[k]]
        try:
            return layer_mismatch([w for w in unit.words if not w.ocr], _rgb(unit.image.path), unit.image_width / unit.width)
        except Exception:  # noqa: BLE001 - a check that cannot run leaves the layer as it was read
            return False

    wrong = [layered[k] for k in sampled_mismatches(len(layered), mismatch)]
    late = 0
    for k in wrong:
        unit = units[k]
        if time.monotonic() > deadline:  # the wrong text is never read: the model sees the page alone
            units[k], late = unit.model_copy(update=dict(words=[], text_source="none")), late + 1
            continue
        copy = lossless(unit) if lossless is not None else None
        path, zoom = (copy[0].path, copy[1]) if copy else (unit.image.path, unit.image_width / unit.width)
        finer = (lambda at: lossless(unit, at)[0]) if copy else None  # noqa: E731 - None when the worker cannot render it
        try:
            reading = read_finely(path, zoom, unit.width, unit.height, (copy[2] if copy else 0.0) or math.inf, finer)
        except Exception:  # noqa: BLE001 - OCR failed: the wrong text is still not read, the page is shown alone
            reading = Reading([])
        finally:
            if copy:
                Path(path).unlink(missing_ok=True)
        shown = (unit.image_height, unit.image_width) if reading.turn % 2 else (unit.image_width, unit.image_height)
        units[k] = unit.model_copy(update=dict(
            words=reading.words, text_source="ocr" if reading.words else "none", image=unit.image.model_copy(update=dict(turn=reading.turn)),
            image_width=shown[0], image_height=shown[1],
            density=word_density(reading.words, unit.width, unit.height) if reading.words else unit.density))
    return ([units[k].page for k in wrong], late) if wrong else None


def miscoded_message(pages: list[int], late: int = 0) -> str:
    """The warning for pages whose text layer says other text than they show."""
    cut = f" ({late} left without text: over --doc-timeout)" if late else ""
    return (f"the text layer of {numbered('page', pages)} says other letters than the page shows (a font "
            f"whose Unicode map is wrong): read by OCR instead{cut}")


def hidden_text_message(hidden: dict[int, int]) -> str:
    """The warning for text-layer words that pages do not show, by page (the words themselves are not
    repeated: they may be what a redaction meant to remove)."""
    return (f"{sum(hidden.values())} text-layer words on {numbered('page', sorted(hidden))} are not shown on the page "
            "(white on white, under a filled box such as a redaction drawn over the text, or invisible): left out of what the "
            "model reads and of citations")


def _ingest_page(doc, pdf, i, options, spool, guard, timeout, password) -> tuple[PageUnit, PageRead, str]:
    """One page as a unit, what the worker read of it (hidden words, pinned files), and what OCR made of
    the page when it is in a script OCR does not read ('' otherwise)."""
    try:
        page = pdf[i]  # page size and rotation only: its content is read in the guarded worker
    except Exception as e:  # noqa: BLE001 - a broken page tree: MuPDF counts the page but cannot load it
        raise RenderFailed(f"page {i + 1} cannot be loaded from the page tree ({type(e).__name__}: {e})") from e
    width, height = page.rect.width, page.rect.height
    until = time.monotonic() + timeout
    zooms, fine = _zooms(width, height, options)
    read = guard.read(doc.path, i, zooms, spool_path(spool, doc.doc_id, f"p{i + 1:05d}.jpg"), timeout, password,
                      fine, options.ocr == "force")
    words, rendered = read.words, read.rendered
    for_ocr, at = (read.for_ocr, read.ocr_zoom) if read.for_ocr is not None else (rendered, read.zoom)
    try:
        text_source = "pdf" if read.usable and options.ocr != "force" else "none"
        turn, unread = 0, ""
        if text_source == "none":
            words = []
            if options.ocr != "off":
                finer = lambda zoom: guard.ocr_copy(doc.path, i, zoom, spool_path(spool, doc.doc_id, f"p{i + 1:05d}.fine.png"),  # noqa: E731
                                                    max(1.0, until - time.monotonic()), password)[0]
                reading = read_finely(for_ocr.path, at, width, height, read.source_zoom or math.inf,
                                      finer if time.monotonic() < until else None)
                words, turn, unread = reading.words, reading.turn, reading.unread
                text_source = "ocr" if words else "none"
                if for_ocr is not rendered and (side := tile_side(words, width, height)) > 1:
                    rendered = _keep_finer(for_ocr, at, rendered, min(zooms[side - 1], at))
        elif read.pictures and options.ocr == "auto":
            clip_copy = lambda clip, zoom: guard.clip_copy(doc.path, i, clip, zoom, spool_path(spool, doc.doc_id, f"p{i + 1:05d}.pic.png"),  # noqa: E731
                                                           max(1.0, until - time.monotonic()), password)
            found = _ocr_pictures(for_ocr.path, at, read.pictures, read.picture_zooms, clip_copy, until)
            merged = merge_words(words, found)
            if len(merged) > len(words):
                words, text_source = merged, "mixed"
    finally:
        if for_ocr is not rendered:
            Path(for_ocr.path).unlink(missing_ok=True)
    density = word_density(words, width, height) if words else rendered.ink
    shown = (rendered.height, rendered.width) if turn % 2 else (rendered.width, rendered.height)  # as the model sees it
    unit = PageUnit(doc_id=doc.doc_id, page=i + 1, width=width, height=height,
                    image=ImageRef(kind="file", path=rendered.path, turn=turn), image_width=shown[0],
                    image_height=shown[1], words=words, text_source=text_source,
                    rotation=page.rotation, density=density)
    return unit, read, unread


def _zooms(width: float, height: float, options: IngestOptions) -> tuple[tuple[float, ...], float]:
    """A page's zooms for 1, 2, ... tiles a side, and the zoom OCR reads it at (0 under --ocr off)."""
    zooms = tuple(page_zoom(width, height, tiled(options, side)) for side in range(1, MAX_TILE_SIDE + 1))
    return zooms, (ocr_zoom(width, height, options) if options.ocr != "off" else 0.0)


def read_finely(image, at: float, width: float, height: float, finest: float, finer=None,
                origin: tuple[float, float] = (0.0, 0.0), quarter_turns: bool = True) -> Reading:
    """OCR of a width x height page (or of a picture on it whose top left is at `origin`, read without
    quarter turns) from its lossless copy `image` (a path, or the pixels) rendered at zoom `at`, read
    again from `finer(zoom)` (rendered finer for OCR, deleted after) where the letters of its small
    print were read too small (`reread_scale`, within `finest`: the pixels per point of the scan or
    picture it is drawn from, `math.inf` for drawn print) and less surely than OCR_SURE (print that small
    reads well in some fonts, and a second read costs two to four times the first), unless that reads
    less (a picture lying sideways that the detector finds at one size and not at another). 2-up pages of 10-pt
    print scanned at 300 dpi, read at 150 dpi, keep 0.81-0.89 of their words; read again, 0.98-0.99
    (bench/pdf_print.py); a form scanned and pasted 250 pt wide, 0.79 and 0.99 (bench/picture_print.py)."""
    pixels = _rgb(image) if isinstance(image, str) else image
    reading = ocr_page(pixels, scale=1.0 / at, origin=origin, quarter_turns=quarter_turns)
    zoom = reread_scale(reading.print_words, width, height, at, finest, reading.confidence)
    if zoom is None or finer is None:
        return reading
    copy = None
    try:
        copy = finer(zoom)
        return finer_or_first(reading, ocr_page(_rgb(copy.path), scale=width / copy.width, origin=origin,
                                                quarter_turns=quarter_turns or reading.turn % 2 == 1))
    except Exception:  # noqa: BLE001 - a finer render or read that fails or hangs: the first reading stands
        return reading
    finally:
        if copy is not None:
            Path(copy.path).unlink(missing_ok=True)


def _keep_finer(finer: Rendered, at: float, rendered: Rendered, zoom: float) -> Rendered:
    """The page as the model is shown it, made again from `finer` (the page rendered for OCR at zoom `at`)
    at `zoom`, when that is finer than `rendered`: a scan whose small print OCR found too small for one
    image is kept for tiles (pipeline/legibility.py)."""
    from PIL import Image

    size = (max(1, round(finer.width * zoom / at)), max(1, round(finer.height * zoom / at)))
    if size[0] * size[1] <= 1.1 * rendered.width * rendered.height:
        return rendered
    with Image.open(finer.path) as im:
        im.convert("RGB").resize(size, Image.LANCZOS).save(rendered.path, quality=90)
    return Rendered(rendered.path, size[0], size[1], rendered.ink, rendered.hidden)


def _rgb(path: str):
    """A rendered page as an RGB array."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


PICTURE_MARGIN_PX = 4  # OCR reads a line at a picture's edge better with a little of the page around it


def _ocr_pictures(path: str, zoom: float, boxes: list, finest: list[float], clip_copy=None,
                  until: float = math.inf) -> list[tuple[tuple, list[Word]]]:
    """OCR of each picture box (rotated-page points) cut from the page rendered at `zoom` (its lossless
    copy at `path`), read again finer from `clip_copy(clip, zoom)` (that part of the page rendered for
    OCR) where its small print asks and the picture's own pixels per point (`finest`) give more, until
    `until` (time.monotonic()); words in page points."""
    import numpy as np

    page = _rgb(path)
    h, w = page.shape[:2]
    out = []
    for box, own in zip(boxes, finest):
        x0, y0 = max(0, int(box[0] * zoom) - PICTURE_MARGIN_PX), max(0, int(box[1] * zoom) - PICTURE_MARGIN_PX)
        x1, y1 = min(w, int(box[2] * zoom + 1) + PICTURE_MARGIN_PX), min(h, int(box[3] * zoom + 1) + PICTURE_MARGIN_PX)
        if x1 - x0 < 16 or y1 - y0 < 16:
            continue
        clip = (x0 / zoom, y0 / zoom, x1 / zoom, y1 / zoom)  # the crop in page points
        finer = (lambda again, clip=clip: clip_copy(clip, again)) if clip_copy is not None and time.monotonic() < until else None
        reading = read_finely(np.ascontiguousarray(page[y0:y1, x0:x1]), zoom, clip[2] - clip[0], clip[3] - clip[1], own,
                              finer, origin=clip[:2], quarter_turns=False)
        out.append((box, reading.words))
    return out
