"""Ingest: SourceDocument -> units (pages or frames) with words, boxes and spooled images."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.result import IngestResult
from schemas.options import IngestOptions
from schemas.records import SourceDocument

__all__ = ["IngestResult", "ingest_document"]


def ingest_document(doc: SourceDocument, options: IngestOptions, spool: Path) -> IngestResult:
    """Turn one document into units. Expected failures raise StageError; partial results keep their units."""
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
