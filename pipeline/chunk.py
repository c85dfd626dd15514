"""The model stage of one chunk as a single call, the unit a model worker (this process or a Ray actor)
serves: extract every document, then make the review's page copies while the page images are at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from model.backend import Backend
from pipeline.errors import StageError
from pipeline.extract import ChunkStats, Extractor
from pipeline.pageimages import PageCopy, page_copies, write_page_copies
from pipeline.prepare import Prepared
from schemas.catalog import load_schema
from schemas.options import RunOptions
from schemas.records import DocumentResult, ErrorRecord, SourceDocument


@dataclass
class ChunkOutcome:
    """What the model stage made of a chunk: its documents' results, what the requests cost, and the
    review copies of their cited pages (written by the flow process, with the results)."""

    results: list[DocumentResult]
    stats: ChunkStats = field(default_factory=ChunkStats)
    copies: dict[str, list[PageCopy]] = field(default_factory=dict)  # doc_id -> copies


def extract_chunk(backend: Backend, prepared: list[Prepared], options: RunOptions, keys: dict[str, str]) -> ChunkOutcome:
    """Plan, generate and ground a chunk with a loaded backend; make the page copies when they are kept."""
    extractor = Extractor(backend, options.plan, load_schema(options.schema_name), options.grounding)
    results = extractor.run(prepared, keys)
    copies: dict[str, list[PageCopy]] = {}
    if options.output.keep_page_images:
        units = {p.doc.doc_id: p.units for p in prepared}
        copies = {r.doc_id: page_copies(r, units.get(r.doc_id, [])) for r in results}
    return ChunkOutcome(results=results, stats=extractor.stats, copies=copies)


def failed_outcome(prepared: list[Prepared], keys: dict[str, str], options: RunOptions, model_id: str,
                   error: BaseException, stage: str = "model") -> ChunkOutcome:
    """A chunk whose model stage could not run at all: every document fails with `error` recorded."""
    schema_name = load_schema(options.schema_name).name
    return ChunkOutcome(results=[
        DocumentResult(doc_id=p.doc.doc_id, path=p.doc.path, name=p.doc.name, attached_to=p.doc.attached_to, media_type=p.doc.media_type,
                       status="failed", work_key=keys[p.doc.doc_id], schema_name=schema_name, model_id=model_id,
                       errors=p.errors + [crash_record(p.doc, stage, error)]) for p in prepared])


def crash_record(doc: SourceDocument, stage: str, e: BaseException) -> ErrorRecord:
    """The error row of an unexpected failure (a StageError keeps its own kind and message)."""
    if isinstance(e, StageError):
        return e.record(doc.path, doc.doc_id)
    return ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage=stage, kind="internal_error",
                       message=f"{type(e).__name__}: {e}", permanent=False)


def write_copies(out: Path, outcome: ChunkOutcome) -> None:
    """Write the chunk's page copies into OUT/pages (before its results commit)."""
    for doc_id, copies in outcome.copies.items():
        write_page_copies(out, doc_id, copies)
