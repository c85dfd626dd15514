"""'What changed since the last run': new, changed and removed documents, and for changed documents the
extracted values that differ. Computed from the tables themselves, so it survives wiped caches."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from schemas.records import RunRecord


def _table(out: Path, name: str, columns: list[str]) -> list[dict]:
    folder = out / "tables" / name
    if not folder.exists() or not any(folder.glob("part-*.parquet")):
        return []
    return pq.read_table(folder, columns=columns).to_pylist()


@dataclass
class PriorState:
    """What the tables held before this run: path -> (doc_id, work_key) of the newest documents row per
    path as reported by finished runs (less the paths a later run reported removed), and the runs that
    committed documents but never wrote their runs row (killed, or the machine died): run_id -> document
    counts by status. What an aborted run committed was never reported, so it counts as new now."""

    by_path: dict[str, tuple[str, str]]
    aborted: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def read(cls, out: Path) -> "PriorState":
        docs = _table(out, "documents", ["path", "doc_id", "work_key", "run_id", "status"])
        finished = {r["run_id"] for r in _table(out, "runs", ["run_id"])} if docs else set()
        aborted: dict[str, dict[str, int]] = {}
        latest: dict[str, dict] = {}
        for row in docs:
            if row["run_id"] not in finished:
                counts = aborted.setdefault(row["run_id"], {})
                counts[row["status"]] = counts.get(row["status"], 0) + 1
                continue
            old = latest.get(row["path"])
            if old is None or row["run_id"] >= old["run_id"]:
                latest[row["path"]] = row
        for change in _table(out, "changes", ["path", "change", "run_id"]) if latest else []:
            row = latest.get(change["path"])  # reported removed since its last document row: gone, not again
            if change["change"] == "removed" and row is not None and change["run_id"] > row["run_id"]:
                del latest[change["path"]]
        return cls({p: (r["doc_id"], r["work_key"]) for p, r in latest.items()}, aborted)

    def aborted_runs(self, model_id: str, schema_name: str) -> list[RunRecord]:
        """Runs records for the aborted runs (status "aborted"): what they committed."""
        out = []
        for run_id, counts in sorted(self.aborted.items()):
            try:
                started = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).isoformat()
            except ValueError:
                started = ""
            n = sum(counts.values())
            out.append(RunRecord(run_id=run_id, status="aborted", started_at=started, finished_at="", model_id=model_id,
                                 schema_name=schema_name, options={}, documents=n, processed=n, ok=counts.get("ok", 0),
                                 partial=counts.get("partial", 0), failed=counts.get("failed", 0)))
        return out


def _values(out: Path, work_keys: set[str]) -> dict[str, dict[str, str]]:
    folder = out / "tables" / "extractions"
    if not work_keys or not folder.exists() or not any(folder.glob("part-*.parquet")):
        return {}
    t = pq.read_table(folder, columns=["work_key", "field", "value_json"], filters=[("work_key", "in", sorted(work_keys))])
    res: dict[str, dict[str, str]] = {}
    for row in t.to_pylist():
        res.setdefault(row["work_key"], {})[row["field"]] = row["value_json"]
    return res


def change_rows(out: Path, run_id: str, prior: PriorState, current: dict[str, tuple[str, str]],
                roots: list[str], deferred: set[str] = frozenset()) -> list[dict]:
    """Rows for the changes table. `current`: path -> (doc_id, work_key) of documents found this run;
    `roots`: the input paths, so that documents outside them are not reported as removed; `deferred`:
    paths found but left for the next run (still arriving), neither changed nor removed yet."""
    rows: list[dict] = []
    changed: list[tuple[str, str, str, str]] = []
    for path, (doc_id, key) in sorted(current.items()):
        before = prior.by_path.get(path)
        if before is None:
            rows.append(dict(run_id=run_id, path=path, doc_id=doc_id, change="new", field=None, old_value=None, new_value=None))
        elif before[0] != doc_id:
            changed.append((path, doc_id, before[1], key))
    resolved = [str(Path(r).resolve()) for r in roots]
    for path, (doc_id, _) in sorted(prior.by_path.items()):
        inside = any(str(Path(path).resolve()).startswith(r) for r in resolved)
        if path not in current and path not in deferred and inside:
            rows.append(dict(run_id=run_id, path=path, doc_id=doc_id, change="removed", field=None, old_value=None, new_value=None))
    values = _values(out, {k for c in changed for k in c[2:]})
    for path, doc_id, old_key, new_key in changed:
        old, new = values.get(old_key, {}), values.get(new_key, {})
        diffs = [f for f in sorted(set(old) | set(new)) if old.get(f) != new.get(f)]
        rows.append(dict(run_id=run_id, path=path, doc_id=doc_id, change="changed", field=None,
                         old_value=None, new_value=json.dumps({"fields_changed": len(diffs)})))
        for f in diffs:
            rows.append(dict(run_id=run_id, path=path, doc_id=doc_id, change="value_changed", field=f,
                             old_value=old.get(f), new_value=new.get(f)))
    return rows
