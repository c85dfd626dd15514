"""Reviewers' decisions into the `reviews` table. The table is history: every decision is kept with
its reviewer and time, applying the same file twice adds nothing, and pipeline runs never rewrite it
(their compaction touches only the tables they write)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import ValidationError

from pipeline.outputs import REVIEWS_SCHEMA, atomic_write_table, read_table
from schemas.review import ReviewExport


class DecisionsError(ValueError):
    """The decisions file cannot be read or is not an export of the review site."""


def load_decisions(path: Path) -> ReviewExport:
    try:
        return ReviewExport.model_validate_json(path.read_bytes())
    except OSError as e:
        raise DecisionsError(f"cannot read {path}: {e.strerror}") from e
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DecisionsError(f"{path} is not a decisions file exported by the review site: {where}: {first['msg']}") from e


def apply_decisions(out: Path, export: ReviewExport, reviewer: str | None = None) -> int:
    """Append the decisions not yet in `OUT/tables/reviews`; returns how many were new. `reviewer`
    names whoever made decisions that carry no name."""
    import pyarrow as pa

    have = read_table(out, "reviews")
    seen = set(zip(have["doc_id"], have["field"], have["reviewer"], have["decided_at"], have["decision"]))
    rows = []
    for d in export.decisions:
        who = d.reviewer or reviewer or ""
        key = (d.doc_id, d.field, who, d.decided_at, d.decision)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"doc_id": d.doc_id, "field": d.field, "decision": d.decision,
                     "corrected_value_json": None if d.decision != "correct" else json.dumps(d.corrected_value, ensure_ascii=False),
                     "reviewer": who, "decided_at": d.decided_at, "source_out": export.out})
    if rows:
        table = pa.Table.from_pylist(rows, schema=REVIEWS_SCHEMA)
        atomic_write_table(out / "tables" / "reviews" / f"part-{time.time_ns():020d}-review.parquet", table)
    return len(rows)
