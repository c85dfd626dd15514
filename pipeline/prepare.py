"""Ingest a chunk of documents in parallel, with retries for the unexpected: the first stage of a chunk."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest import ingest_document
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, FrameUnit, PageUnit, SourceDocument

log = logging.getLogger("gemmadoc.pipeline")


@dataclass
class Prepared:
    """A document and its units: what ingest made of it (pages or frames, with words), its errors so far,
    and the ingest time. The one record the model stage plans, generates and grounds with."""

    doc: SourceDocument
    units: list[PageUnit | FrameUnit] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return not self.units


def prepare_document(doc: SourceDocument, options: IngestOptions, spool: Path) -> Prepared:
    """Ingest one document. Expected failures become error records; unexpected ones propagate (retried)."""
    t0 = time.perf_counter()
    try:
        res = ingest_document(doc, options, spool)
    except StageError as e:
        return Prepared(doc=doc, errors=[e.record(doc.path, doc.doc_id)], seconds=time.perf_counter() - t0)
    return Prepared(doc=doc, units=res.units, errors=res.errors, seconds=time.perf_counter() - t0)


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def ingest_pool(workers: int) -> ThreadPoolExecutor:
    """The process's ingest threads for `workers`, kept across chunks: each thread keeps its PDF page
    worker process (pipeline/ingest/render.py) and the OCR engine stays loaded, so a chunk does not pay
    for starting them again."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        return _pools[workers]


def prepare_chunk(docs: list[SourceDocument], options: IngestOptions, spool: Path) -> list[Prepared]:
    """Ingest documents in parallel (options.max_workers threads; rendering and OCR release the GIL).
    Unexpected errors are transient: retried with backoff, then recorded; StageErrors are not retried."""

    def one(doc: SourceDocument) -> Prepared:
        delays = [1.0, 5.0, 15.0][: options.retries]
        for attempt in range(len(delays) + 1):
            try:
                return prepare_document(doc, options, spool)
            except Exception as e:  # noqa: BLE001 - anything unexpected: retry, then record
                if attempt == len(delays):
                    return Prepared(doc=doc, errors=[ErrorRecord(
                        doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="internal_error",
                        message=f"{type(e).__name__}: {e} (after {attempt + 1} attempts)", permanent=False)])
                log.warning("ingest of %s failed (%s); retrying in %.0f s", doc.name, e, delays[attempt])
                time.sleep(delays[attempt])
        raise AssertionError("unreachable")

    if options.max_workers == 1 or len(docs) == 1:
        return [one(d) for d in docs]
    return list(ingest_pool(options.max_workers).map(one, docs))


def inline_images(prepared: list[Prepared]) -> list[Prepared]:
    """The chunk with every spooled page image read into its unit (`ImageRef(kind="encoded")`), so it can
    cross to another machine; the spool files may be removed afterwards."""
    for p in prepared:
        for i, unit in enumerate(p.units):
            if unit.image.kind == "file":
                with open(unit.image.path, "rb") as f:
                    data = f.read()
                image = unit.image.model_copy(update={"kind": "encoded", "path": "", "data": data})
                p.units[i] = unit.model_copy(update={"image": image})
    return prepared
