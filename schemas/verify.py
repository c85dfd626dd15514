"""Records of the verification API (`gemmadoc.open_document`, `gemmadoc.verify`): a document with its
units, a citation to check, and the verdict. Stable surface: fields are only ever added."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.records import Box, ErrorRecord, FrameUnit, MatchKind, PageUnit, Unit, parse_timestamp


class Document(BaseModel):
    """One ingested file: its identity and its units (pages or video frames) with words, boxes and
    sizes. `doc_id` is the sha256 of the file's bytes."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str
    path: str
    name: str
    media_type: str
    units: list[Unit] = []
    errors: list[ErrorRecord] = []  # ingest errors and warnings (a page that failed, a repaired file)

    @property
    def pages(self) -> list[PageUnit]:
        return [u for u in self.units if isinstance(u, PageUnit)]

    @property
    def frames(self) -> list[FrameUnit]:
        return [u for u in self.units if isinstance(u, FrameUnit)]


class CitationInput(BaseModel):
    """A citation to verify: a verbatim quote, optionally the page (1-based) or time it claims, and the
    value it supports. `t` takes seconds or "mm:ss"."""

    model_config = ConfigDict(extra="ignore")

    quote: str
    page: int | None = Field(None, ge=1)
    t: float | None = Field(None, ge=0)
    value: Any = None
    field: str | None = None  # a label carried through to the result (the extraction's field name)

    @field_validator("t", mode="before")
    @classmethod
    def _timestamp(cls, v: Any) -> Any:
        return parse_timestamp(v) if isinstance(v, str) and ":" in v else v


class ContinuedPart(BaseModel):
    """Where a quote that runs across a page break goes on: the next page and its boxes."""

    page: int
    boxes: list[Box] = []
    boxes_norm: list[Box] = []


class VerifiedCitation(BaseModel):
    """The verdict on one citation. `match` is exact | normalised | fuzzy | partial | relocated |
    unverified; `page`/`t_seconds` are where the quote was found (or claimed, when not found); `boxes`
    are in the unit's own space (PDF points or pixels) and `boxes_norm` in 0..1; a quote that runs on
    across a page break has its next page's part in `continued`; `value_supported` says whether the
    matched words hold the value (None: no value given, or not checkable); `verified` is located and not
    contradicted; `reason` explains an unverified quote, an unsupported value or a page break."""

    model_config = ConfigDict(extra="forbid")

    index: int
    quote: str
    field: str | None = None
    value: Any = None
    claimed_page: int | None = None
    claimed_t_seconds: float | None = None
    match: MatchKind = "unverified"
    score: float = 0.0
    page: int | None = None
    t_seconds: float | None = None
    boxes: list[Box] = []
    boxes_norm: list[Box] = []
    value_supported: bool | None = None
    verified: bool = False
    reason: str | None = None
    continued: list[ContinuedPart] = []  # last: the fields before it are the stable surface
