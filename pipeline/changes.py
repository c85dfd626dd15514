"""'What changed since the last run': new, changed and removed documents, and for changed documents the
extracted values that differ. Computed from the tables themselves, so it survives wiped caches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq


@dataclass
class PriorState:
    """path -> (doc_id, work_key) of the newest documents row per path before this run."""

    by_path: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, out: Path) -> "PriorState":
        folder = out / "tables" / "documents"
        if not folder.exists() or not any(folder.glob("part-*.parquet")):
            return cls({})
        t = pq.read_table(folder, columns=["path", "doc_id", "work_key", "run_id"]).to_pylist()
        latest: dict[str, dict] = {}
        for row in t:
            old = latest.get(row["path"])
            if old is None or row["run_id"] >= old["run_id"]:
                latest[row["path"]] = row
        return cls({p: (r["doc_id"], r["work_key"]) for p, r in latest.items()})


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
                roots: list[str]) -> list[dict]:
    """Rows for the changes table. `current`: path -> (doc_id, work_key) of documents found this run;
    `roots`: the input paths, so that documents outside them are not reported as removed."""
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
        if path not in current and inside:
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
