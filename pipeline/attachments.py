"""Documents a PDF carries in its embedded files (a portfolio's documents, the files of its attachments
pane: an invoice sent with its cover letter, a scan attached to a form) and pinned to its pages as
file-attachment annotations (a reviewer's marked-up copy, a photo pinned to an inspection report),
unpacked so that they are read like any input. Each is written once under the output folder, at a path
given by its bytes, so a run that unpacks it again finds the same file and skips it as unchanged. A file that is no document gemmadoc
reads (an e-invoice's XML, a spreadsheet) is left where it is."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StageError
from schemas.records import ErrorRecord, SourceDocument

MAX_NAME_CHARS = 120


@dataclass(frozen=True)
class Unpacked:
    """An embedded file written out: where, and its name in the PDF as a safe file name (`file_name`)."""

    path: Path
    name: str


UNPACK_TIMEOUT_S = 120.0  # a PDF's embedded files are unpacked within this, or not at all


def unpack_attachments(doc: SourceDocument, into: Path, passwords: list[str], max_file_mb: float,
                       max_memory_mb: int = 2048) -> tuple[list[Unpacked], list[ErrorRecord]]:
    """The files the PDF `doc` carries (embedded, or pinned to its pages) that are documents, each
    written to `into`/<sha256 of its bytes, 16 hex>/<its name>, and an `attachments` warning for those
    too large or damaged to read. A PDF that carries none costs an open and a pass over its page objects
    here (2-30 ms); one that does is unpacked in a worker process under
    `max_memory_mb` of address space and UNPACK_TIMEOUT_S, since an embedded file's stated size cannot be
    trusted and MuPDF inflates it whole (a few KB can hold gigabytes of zeros). A PDF that does not open
    (broken, or encrypted without a password given) has none here: its own ingest reports it."""
    if not _carries_files(doc.path, passwords):
        return [], []
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_unpack_capped, args=(send, max_memory_mb, doc, into, passwords, max_file_mb),
                         daemon=True, name="gemmadoc-unpack")
    try:
        worker.start()
    except Exception as e:  # noqa: BLE001 - no worker, no unpacking: the PDF itself is still read
        receive.close()
        return [], [_warning(doc, f"the files attached to {doc.name} were not read: no unpack worker ({type(e).__name__}: {e})")]
    send.close()
    try:
        if receive.poll(UNPACK_TIMEOUT_S):
            return receive.recv()
        why = f"unpacking took over {UNPACK_TIMEOUT_S:g} s"
    except (EOFError, OSError):  # the worker died: most often an allocation past the cap
        worker.join(5)
        why = (f"the unpack worker stopped (exit code {worker.exitcode}), most often by needing more than "
               f"--max-page-memory-mb {max_memory_mb} MB (a decompression bomb?)")
    finally:
        worker.kill()
        worker.join(5)
        receive.close()
    return [], [_warning(doc, f"the files attached to {doc.name} were not read: {why}")]


def _opened(path: str, passwords: list[str]):
    """The PDF opened as ingest opens it (quietly, with one of `passwords` if it needs one), or None when
    it does not open: ingest says why."""
    from pipeline.ingest.pdf import open_pdf

    try:
        return open_pdf(path, passwords)[0]
    except StageError:
        return None


def _carries_files(path: str, passwords: list[str]) -> bool:
    """The PDF opens and has embedded files or a page that pins a file (`_pinning_pages`)."""
    pdf = _opened(path, passwords)
    if pdf is None:
        return False
    with pdf:
        try:
            if pdf.embfile_count() > 0:
                return True
        except Exception:  # noqa: BLE001 - a broken name tree: the pages may still carry files
            pass
        return next(_pinning_pages(pdf), None) is not None


REFERENCE = re.compile(r"(\d+) \d+ R")


def _pinning_pages(pdf):
    """The pages of `pdf` with a file-attachment annotation, found from the objects alone (links annotate
    most pages of many documents: a page is loaded only when it pins a file)."""
    for i in range(pdf.page_count):
        try:
            kind, value = pdf.xref_get_key(pdf.page_xref(i), "Annots")
            if kind == "xref":  # the array is an object of its own
                value = pdf.xref_object(int(value.split()[0]), compressed=True)
            if kind != "null" and any(pdf.xref_get_key(int(x), "Subtype")[1] == "/FileAttachment"
                                      for x in REFERENCE.findall(value)):
                yield pdf[i]
        except Exception:  # noqa: BLE001 - a page the page tree cannot load: its own ingest reports it
            continue


def _pinned(pdf):
    """The file-attachment annotations of `pdf`'s pages, in page order."""
    import pymupdf

    for page in _pinning_pages(pdf):
        try:
            yield from list(page.annots(types=[pymupdf.PDF_ANNOT_FILE_ATTACHMENT]))
        except Exception:  # noqa: BLE001 - broken annotations: none read from this page
            continue


def _carried(pdf):
    """Each file `pdf` carries, as (name, stated size, a call that inflates its bytes): its embedded
    files, then those pinned to its pages."""
    try:
        names = pdf.embfile_names()
    except Exception:  # noqa: BLE001 - a broken name tree: the pinned files alone
        names = []
    for name in names:
        yield name, lambda name=name: int(pdf.embfile_info(name).get("size") or 0), lambda name=name: pdf.embfile_get(name)
    for annot in _pinned(pdf):
        try:
            info = annot.file_info
        except Exception:  # noqa: BLE001 - an annotation without a readable file: nothing to read
            continue
        yield info.get("filename") or "attachment", lambda info=info: int(info.get("size") or 0), annot.get_file


def _unpack_capped(conn, max_memory_mb: int, *args) -> None:
    """Worker process: `_unpack(*args)` under the memory cap, its result sent on `conn`."""
    from pipeline.ingest.render import limit_memory
    from pipeline.mupdf import skip_layout_analyser

    skip_layout_analyser()
    limit_memory(max_memory_mb)
    conn.send(_unpack(*args, max_memory_mb))
    conn.close()


def _unpack(doc: SourceDocument, into: Path, passwords: list[str], max_file_mb: float,
            max_memory_mb: int) -> tuple[list[Unpacked], list[ErrorRecord]]:
    """`unpack_attachments`' work, in the worker."""
    from pipeline.discover import sniff
    from pipeline.ingest.render import OOM_MARKERS

    found: list[Unpacked] = []
    warnings: list[ErrorRecord] = []
    pdf = _opened(doc.path, passwords)
    if pdf is None:
        return found, warnings
    try:
        for name, stated_size, inflate in _carried(pdf):
            shown = printable(name)
            try:
                size = stated_size()
                if size > max_file_mb * 2**20:
                    warnings.append(_warning(doc, f"{shown!r}, attached to {doc.name}, is {size / 2**20:.0f} MB, above "
                                                  f"--max-file-mb {max_file_mb:g}: not read"))
                    continue
                data = inflate()
            except Exception as e:  # noqa: BLE001 - a damaged stream, or an allocation past the cap
                why = (f"needs more than --max-page-memory-mb {max_memory_mb} MB to inflate (a decompression bomb?)"
                       if isinstance(e, MemoryError) or any(m in str(e) for m in OOM_MARKERS) else f"cannot be read ({e})")
                warnings.append(_warning(doc, f"{shown!r}, attached to {doc.name}, {why}: not read"))
                continue
            if len(data) > max_file_mb * 2**20:  # its stated size was smaller
                warnings.append(_warning(doc, f"{shown!r}, attached to {doc.name}, is {len(data) / 2**20:.0f} MB, above "
                                              f"--max-file-mb {max_file_mb:g}: not read"))
                continue
            if not data or sniff(data[:1024]) is None:  # not a document gemmadoc reads: an e-invoice's XML, a spreadsheet
                continue
            found.append(Unpacked(_write(into, data, name), file_name(name)))
    finally:
        pdf.close()
    return found, warnings


def printable(name: str) -> str:
    """An embedded file's name without control characters (names come from the PDF, untrusted)."""
    return "".join(c for c in name if unicodedata.category(c)[0] != "C")[:MAX_NAME_CHARS]


def file_name(name: str) -> str:
    """A safe file name for an embedded file's name: its last path part, printable, not hidden."""
    base = printable(name).replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return base or "attachment"


def _write(into: Path, data: bytes, name: str) -> Path:
    """`data` at into/<sha256[:16]>/<file name>, written atomically once (an existing copy is kept)."""
    from pipeline.outputs import atomic_write_bytes

    target = into / hashlib.sha256(data).hexdigest()[:16] / file_name(name)
    if not (target.exists() and target.stat().st_size == len(data)):
        atomic_write_bytes(target, data)
    return target


def _warning(doc: SourceDocument, message: str) -> ErrorRecord:
    return ErrorRecord(path=doc.path, stage="discover", kind="attachments", severity="warning", message=message)
