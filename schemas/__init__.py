"""Typed records that flow between gemmadoc's stages. Imports nothing else of ours."""

from schemas.options import RunOptions
from schemas.records import (
    Citation,
    ClaimedCitation,
    DocumentResult,
    ErrorRecord,
    Extraction,
    FrameUnit,
    Generation,
    ImageRef,
    ImageSegment,
    PageUnit,
    Request,
    RunRecord,
    Segment,
    SourceDocument,
    TextSegment,
    Unit,
    Word,
)

__all__ = [
    "Citation",
    "ClaimedCitation",
    "DocumentResult",
    "ErrorRecord",
    "Extraction",
    "FrameUnit",
    "Generation",
    "ImageRef",
    "ImageSegment",
    "PageUnit",
    "Request",
    "RunOptions",
    "RunRecord",
    "Segment",
    "SourceDocument",
    "TextSegment",
    "Unit",
    "Word",
]
