"""Ingest: SourceDocument -> units (pages or frames) with words, boxes and spooled images."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.result import IngestResult
from schemas.options import IngestOptions
from schemas.records import SourceDocument

__all__ = ["IngestResult", "ingest_document"]


def ingest_document(doc: SourceDocument, options: IngestOptions, spool: Path) -> IngestResult:
    """Turn one document into units. Expected failures raise StageError; partial results keep their units.
    A file rewritten while it was read (its size or time no longer those discovery hashed, and its bytes
    differ) raises `changed_during_run`: what was read may mix old and new content."""
    try:
        result = _ingest(doc, options, spool)
    except StageError as e:  # a file cut short because it was still arriving fails as what it is
        if changed_since_discovery(doc):
            raise _changed(doc) from e
        raise
    if changed_since_discovery(doc):
        raise _changed(doc)
    return result


def _changed(doc: SourceDocument) -> StageError:
    return StageError("ingest", "changed_during_run", f"{doc.name} was rewritten while it was being read (it may "
                      "still have been arriving); nothing read from it was kept, and the next run reads it")


def changed_since_discovery(doc: SourceDocument) -> bool:
    """Whether the file no longer holds the bytes discovery hashed (a touch that leaves them is no change;
    a file removed after it was opened was read whole through its open handle)."""
    if not doc.mtime_ns:
        return False
    try:
        st = os.stat(doc.path)
    except OSError:
        return False
    if (st.st_size, st.st_mtime_ns) == (doc.size_bytes, doc.mtime_ns):
        return False
    from pipeline.discover import file_sha256

    try:
        return st.st_size != doc.size_bytes or file_sha256(Path(doc.path)) != doc.doc_id
    except OSError:
        return False


def _ingest(doc: SourceDocument, options: IngestOptions, spool: Path) -> IngestResult:
    deadline = time.monotonic() + options.doc_timeout_s
    if doc.media_type == "pdf":
        from pipeline.ingest.pdf import ingest_pdf

        return ingest_pdf(doc, options, spool, deadline)
    if doc.media_type == "image":
        from pipeline.ingest.image import ingest_image

        return ingest_image(doc, options, spool, deadline)
    if doc.media_type == "video":
        from pipeline.ingest.video import ingest_video

        return ingest_video(doc, options, spool, deadline)
    raise StageError("ingest", "unsupported_type", f"no ingest for media type {doc.media_type}")
