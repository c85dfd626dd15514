"""'What changed since the last run': new, changed and removed documents, and for changed documents the
extracted values that differ. Computed from the tables themselves, so it survives wiped caches."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq


def _run_ids(out: Path) -> set[str]:
    folder = out / "tables" / "runs"
    if not folder.exists() or not any(folder.glob("part-*.parquet")):
        return set()
    return set(pq.read_table(folder, columns=["run_id"]).column("run_id").to_pylist())


def aborted_runs(out: Path) -> dict[str, dict[str, int]]:
    """Runs that committed documents but never wrote their runs row (killed, or the machine died):
    run_id -> document counts by status."""
    folder = out / "tables" / "documents"
    if not folder.exists() or not any(folder.glob("part-*.parquet")):
        return {}
    finished = _run_ids(out)
    out_runs: dict[str, dict[str, int]] = {}
    t = pq.read_table(folder, columns=["run_id", "status"])
    for run_id, status in zip(t.column("run_id").to_pylist(), t.column("status").to_pylist()):
        if run_id not in finished:
            counts = out_runs.setdefault(run_id, {})
            counts[status] = counts.get(status, 0) + 1
    return out_runs


def aborted_run_rows(aborted: dict[str, dict[str, int]], model_id: str, schema_name: str) -> list[dict]:
    """Runs-table rows for runs that ended without their own (status "aborted"): what they committed."""
    from datetime import datetime, timezone

    rows = []
    for run_id, counts in sorted(aborted.items()):
        try:
            started = datetime.strptime(run_id[:15], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).isoformat()
        except ValueError:
            started = ""
        n = sum(counts.values())
        rows.append(dict(run_id=run_id, status="aborted", started_at=started, finished_at="", model_id=model_id,
                         schema_name=schema_name, options_json="{}", documents=n, ok=counts.get("ok", 0),
                         partial=counts.get("partial", 0), failed=counts.get("failed", 0), skipped=0, warnings=0,
                         processed=n, values=0, verified_values=0, pages=0, frames=0, requests=0, tokens_in=0,
                         tokens_out=0, padding_tokens=0, oom_retries=0, context_utilisation=0.0,
                         images_per_budget_json="{}", seconds=0.0, pages_per_s=0.0))
    return rows


@dataclass
class PriorState:
    """path -> (doc_id, work_key) of the newest documents row per path before this run, as reported by
    finished runs: what an aborted run committed was never reported, so it counts as new now."""

    by_path: dict[str, tuple[str, str]]

    @classmethod
    def read(cls, out: Path, ignore_runs: set[str] = frozenset()) -> "PriorState":
        folder = out / "tables" / "documents"
        if not folder.exists() or not any(folder.glob("part-*.parquet")):
            return cls({})
        t = [r for r in pq.read_table(folder, columns=["path", "doc_id", "work_key", "run_id"]).to_pylist()
             if r["run_id"] not in ignore_runs]
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
