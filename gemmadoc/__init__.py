"""gemmadoc's stable Python API: open a document, verify citations against it, run the batch job.

    import gemmadoc
    doc = gemmadoc.open_document("invoice.pdf")                 # ingested once, cached by sha256
    for v in gemmadoc.verify(doc, [{"quote": "Total due: EUR 6,783.00", "page": 3, "value": 6783.0}]):
        print(v.match, v.page, v.boxes, v.value_supported, v.verified, v.reason)
    summary = gemmadoc.run(["inbox/"], "out/", schema_name="invoice", model="auto")

Only the names in `__all__` are stable; everything else in the project may change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.documents import DocumentError
from schemas.records import RunRecord
from schemas.verify import CitationInput, Document, VerifiedCitation

__all__ = ["CitationInput", "Document", "DocumentError", "RunRecord", "VerifiedCitation", "open_document", "run", "verify"]


def open_document(path: str | Path, *, ocr: str = "auto", password: str | None = None,
                  cache_dir: str | Path | None = None, cache_max_mb: float = 2048.0) -> Document:
    """Ingest a PDF, image or video into a `Document` (pages or frames with words, boxes and sizes).

    Cached per file sha256 and ingest options under `cache_dir` (default `$GEMMADOC_CACHE` or
    ~/.cache/gemmadoc), at most `cache_max_mb`, least recently used first out. `ocr`: auto (pages
    without a usable text layer) | off | force. Raises DocumentError."""
    from pipeline.documents import document_cache
    from schemas.options import IngestOptions

    try:
        options = IngestOptions(ocr=ocr, passwords=[password] if password else [])
    except ValueError as e:
        raise DocumentError(f"invalid option: {e}") from None
    return document_cache(Path(cache_dir) if cache_dir else None, cache_max_mb).open(path, options)


def verify(doc_or_path: Document | str | Path, citations: Iterable[Mapping[str, Any] | CitationInput], *,
           ocr: str = "auto", password: str | None = None, cache_dir: str | Path | None = None) -> list[VerifiedCitation]:
    """Check each citation (`{"quote": ..., "page": N | "t": seconds or "mm:ss", "value": ...}`) against
    the document with the pipeline's own grounding: where the quote is, its boxes, whether the matched
    words hold the value. One verdict per citation, in order; a malformed citation gets a reason, never
    an exception. A path is opened with `open_document` (once, whatever the number of citations)."""
    from pipeline.verify import verify_citations

    doc = doc_or_path if isinstance(doc_or_path, Document) else open_document(
        doc_or_path, ocr=ocr, password=password, cache_dir=cache_dir)
    return verify_citations(doc, citations)


def run(inputs: str | Path | Iterable[str | Path], out: str | Path, **options: Any) -> RunRecord:
    """The batch job from Python: every document under `inputs` to `out/json` and `out/tables`, as
    `gemmadoc run` does. `options` are RunOptions leaves by flat name (schema_name, model, backend, thinking, ocr, force, ...)
    or whole groups (ingest={...});
    returns the run's summary record. Raises ValueError for bad options."""
    from flows.batch import load_model, run_batch
    from schemas.options import RunOptions

    paths = [str(inputs)] if isinstance(inputs, (str, Path)) else [str(p) for p in inputs]
    opts, _ = load_model(RunOptions(**options))
    return run_batch(paths, str(out), opts)
