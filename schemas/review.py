"""Reviewers' decisions on extracted values, as exported by the review site."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ReviewDecision(BaseModel):
    """One person's decision on one value: accept it, reject it, or give the right value."""

    model_config = ConfigDict(extra="ignore")

    doc_id: str = Field(min_length=1)
    field: str = ""  # "" for a decision on the whole document (a failed one)
    decision: Literal["accept", "reject", "correct"]
    corrected_value: Any = None  # the value the reviewer typed, for "correct"
    reviewer: str = ""
    decided_at: str  # ISO 8601, from the reviewer's browser


class ReviewExport(BaseModel):
    """The file the review site exports (`decisions.json`)."""

    model_config = ConfigDict(extra="ignore")

    version: Literal[1] = 1
    out: str = ""  # the output folder the site was built from
    decisions: list[ReviewDecision]
