"""Per-document JSON and Parquet tables, written atomically (temporary name, then rename).

Every run appends parts named `part-<time_ns>-<run>.parquet`; `compact()` rewrites each table keeping,
for every row key, only the rows of the newest part that holds it. So a killed run leaves no half files,
and a re-run never duplicates rows, whatever Prefect's cache holds."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.textnorm import storable
from schemas.options import OutputOptions
from schemas.records import DocumentResult, ErrorRecord, RunRecord

TABLES = ("documents", "extractions", "citations", "errors", "runs", "changes")

_f = pa.float64()
_s = pa.string()
_i = pa.int64()
SCHEMAS: dict[str, pa.Schema] = {
    "documents": pa.schema([("run_id", _s), ("work_key", _s), ("doc_id", _s), ("path", _s), ("path_bytes_hex", _s), ("name", _s),
                            ("attached_to", _s), ("media_type", _s), ("status", _s), ("schema_name", _s), ("model_id", _s), ("pages", _i),
                            ("frames", _i), ("text_pdf", _i), ("text_ocr", _i), ("text_mixed", _i), ("text_none", _i), ("frames_ocr_reused", _i), ("extractions", _i),
                            ("citations", _i), ("verified_citations", _i), ("errors", _i), ("requests", _i),
                            ("tokens_in", _i), ("tokens_out", _i), ("padding_tokens", _i), ("seconds", _f),
                            ("answer_json", _s)]),
    "extractions": pa.schema([("run_id", _s), ("work_key", _s), ("doc_id", _s), ("schema_name", _s), ("model_id", _s),
                              ("field", _s), ("value_json", _s), ("value_text", _s), ("citations", _i),
                              ("verified", pa.bool_()), ("conflicts_json", _s)]),
    "citations": pa.schema([("run_id", _s), ("work_key", _s), ("doc_id", _s), ("model_id", _s), ("field", _s),
                            ("page", _i), ("t_seconds", _f), ("quote", _s), ("match", _s), ("score", _f),
                            ("x0", _f), ("y0", _f), ("x1", _f), ("y1", _f), ("x0_norm", _f), ("y0_norm", _f),
                            ("x1_norm", _f), ("y1_norm", _f), ("boxes_json", _s), ("claimed_page", _i),
                            ("claimed_t_seconds", _f), ("reason", _s),
                            ("value_supported", pa.bool_())]),
    "errors": pa.schema([("run_id", _s), ("work_key", _s), ("doc_id", _s), ("path", _s), ("path_bytes_hex", _s), ("stage", _s), ("kind", _s),
                         ("severity", _s), ("message", _s), ("permanent", pa.bool_()), ("model_id", _s), ("category", _s),
                         ("page", _i), ("t_seconds", _f)]),
    "runs": pa.schema([("run_id", _s), ("status", _s), ("started_at", _s), ("finished_at", _s), ("model_id", _s), ("schema_name", _s),
                       ("options_json", _s), ("documents", _i), ("ok", _i), ("partial", _i), ("failed", _i),
                       ("skipped", _i), ("warnings", _i), ("processed", _i), ("values", _i), ("verified_values", _i), ("pages", _i), ("frames", _i), ("requests", _i), ("tokens_in", _i),
                       ("tokens_out", _i), ("padding_tokens", _i), ("oom_retries", _i), ("part_requests", _i),
                       ("context_utilisation", _f), ("images_per_budget_json", _s), ("seconds", _f), ("pages_per_s", _f), ("gpu_idle_share", _f),
                       ("cluster", _s), ("workers_json", _s), ("chunk_retries", _i), ("quantization", _s),
                       ("parameter_bytes_json", _s)]),
    "changes": pa.schema([("run_id", _s), ("path", _s), ("doc_id", _s), ("change", _s), ("field", _s),
                          ("old_value", _s), ("new_value", _s)]),
}
# reviewers' decisions (`gemmadoc review --apply`): history, never compacted or rewritten by a run
REVIEWS_SCHEMA = pa.schema([("doc_id", _s), ("field", _s), ("decision", _s), ("corrected_value_json", _s), ("reviewer", _s),
                            ("decided_at", _s), ("source_out", _s)])
SCHEMAS["reviews"] = REVIEWS_SCHEMA
# `documents` is written last in every append: a document row is the commit marker of its other rows
WRITE_ORDER = ("runs", "changes", "errors", "citations", "extractions", "documents")


def text_of(value: str) -> str:
    """A string that UTF-8 can store: a file name that is not valid UTF-8 arrives surrogate-escaped
    (os.fsdecode); its undecodable bytes become U+FFFD here (the exact bytes go to `path_bytes_hex`)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(value).decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate no file name decoding made: from a JSON escape, say
        return storable(value)


def path_bytes_hex(path: str) -> str | None:
    """The path's bytes in hex when its name is not valid UTF-8 (so it can be found again), else None."""
    return os.fsencode(path).hex() if text_of(path) != path else None


def _clean(value):
    if isinstance(value, str):
        return text_of(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask sets it, even briefly)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give: a shared output folder stays readable to others


def _temp_beside(target: Path) -> str:
    """A temporary file next to `target` (same file system, for an atomic rename), with the mode an
    ordinary file would get under the umask (mkstemp alone gives 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    return tmp


def remove_stale_temps(out: Path) -> int:
    """Delete temporary files a killed run left (`.<name>.<random>.tmp` beside tables, JSON and page
    images and unpacked attachments). Call only while holding the output folder's lock: then no live writer owns one."""
    removed = 0
    for pattern in ("tables/*/.*.tmp", "json/.*.tmp", "pages/*/.*.tmp", "attachments/*/.*.tmp"):
        for tmp in out.glob(pattern):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_table(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def document_json(result: DocumentResult, run_id: str) -> bytes:
    payload = _clean({"run_id": run_id, **result.model_dump(mode="json") | {"path_bytes_hex": path_bytes_hex(result.path)}})
    return json.dumps(payload, indent=2, ensure_ascii=False).encode()


def write_document_json(out: Path, result: DocumentResult, run_id: str) -> Path:
    path = out / "json" / f"{result.doc_id}.json"
    atomic_write_bytes(path, document_json(result, run_id))
    return path


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def rows_for(results: list[DocumentResult], run_id: str, errors: list[ErrorRecord] = ()) -> dict[str, list[dict]]:
    """Table rows for a set of document results (and document-less errors)."""
    rows: dict[str, list[dict]] = {t: [] for t in TABLES}
    for r in results:
        cites = [c for e in r.extractions for c in e.citations]
        rows["documents"].append(dict(
            run_id=run_id, work_key=r.work_key, doc_id=r.doc_id, path=r.path, name=r.name, media_type=r.media_type,
            path_bytes_hex=path_bytes_hex(r.path), attached_to=text_of(r.attached_to) if r.attached_to else None,
            status=r.status, schema_name=r.schema_name, model_id=r.model_id, pages=r.pages, frames=r.frames,
            text_pdf=r.text_sources.get("pdf", 0), text_ocr=r.text_sources.get("ocr", 0),
            text_mixed=r.text_sources.get("mixed", 0), text_none=r.text_sources.get("none", 0),
            frames_ocr_reused=r.frames_ocr_reused, extractions=len(r.extractions), citations=len(cites),
            verified_citations=sum(1 for c in cites if c.located and c.value_supported is not False), errors=len(r.errors),
            requests=r.requests, tokens_in=r.tokens_in, tokens_out=r.tokens_out, padding_tokens=r.padding_tokens,
            seconds=r.seconds, answer_json=json.dumps(r.answer, ensure_ascii=False) if r.answer is not None else None))
        for e in r.extractions:
            rows["extractions"].append(dict(
                run_id=run_id, work_key=r.work_key, doc_id=r.doc_id, schema_name=r.schema_name, model_id=r.model_id,
                field=e.field, value_json=json.dumps(e.value, ensure_ascii=False), value_text=_text(e.value),
                citations=len(e.citations), verified=e.verified,
                conflicts_json=json.dumps(e.conflicts, ensure_ascii=False) if e.conflicts else None))
            for c in e.citations:
                b = _union(c.boxes)
                bn = _union(c.boxes_norm)
                rows["citations"].append(dict(
                    run_id=run_id, work_key=r.work_key, doc_id=c.doc_id, model_id=r.model_id, field=e.field, page=c.page,
                    t_seconds=c.t_seconds, quote=c.quote, match=c.match, score=c.score,
                    x0=b[0], y0=b[1], x1=b[2], y1=b[3], x0_norm=bn[0], y0_norm=bn[1], x1_norm=bn[2], y1_norm=bn[3],
                    boxes_json=json.dumps([bx.model_dump() for bx in c.boxes]), claimed_page=c.claimed_page,
                    claimed_t_seconds=c.claimed_t_seconds, reason=c.reason,
                    value_supported=c.value_supported))
        for err in r.errors:
            rows["errors"].append(_error_row(err, run_id, r.work_key, r.model_id))
    for err in errors:
        rows["errors"].append(_error_row(err, run_id, None, None))
    return rows


def _error_row(err: ErrorRecord, run_id: str, work_key: str | None, model_id: str | None) -> dict:
    return dict(run_id=run_id, work_key=work_key, doc_id=err.doc_id, path=err.path, path_bytes_hex=path_bytes_hex(err.path),
                stage=err.stage, kind=str(err.kind), category=err.category, page=err.page, t_seconds=err.t_seconds,
                severity=err.severity, message=err.message, permanent=err.permanent, model_id=model_id)


def _union(boxes) -> tuple:
    if not boxes:
        return (None, None, None, None)
    return (min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes))


def run_row(run: RunRecord) -> dict:
    d = run.model_dump()
    d["options_json"] = json.dumps(d.pop("options"), sort_keys=True, default=str)
    d["images_per_budget_json"] = json.dumps(d.pop("images_per_budget"), sort_keys=True)
    d["workers_json"] = json.dumps(d.pop("workers"), sort_keys=True)
    d["parameter_bytes_json"] = json.dumps(d.pop("parameter_bytes"), sort_keys=True)
    return d


class TableWriter:
    """Appends one part per table per call; compacts at the start and end of a run."""

    def __init__(self, out: Path, run_id: str):
        self.root = out / "tables"
        self.run_id = run_id

    def append(self, rows: dict[str, list[dict]], stamp: int | None = None) -> None:
        """One part per table. Give the same `stamp` when writing the same rows again (a retried write
        task, an at-least-once delivery): the parts are replaced, never duplicated."""
        stamp = time.time_ns() if stamp is None else stamp
        for name in WRITE_ORDER:
            if rows.get(name):
                table = pa.Table.from_pylist([_clean(r) for r in rows[name]], schema=SCHEMAS[name])
                atomic_write_table(self.root / name / f"part-{stamp:020d}-{self.run_id}.parquet", table)

    def compact(self) -> None:
        compact(self.root)

    def ensure_tables(self) -> None:
        """Give every table at least an empty, typed part, so `pd.read_parquet(out/"tables"/name)` works
        even for a table this output folder has no rows in yet (e.g. errors after a clean run)."""
        for name in SCHEMAS:  # the run's tables and `reviews`
            if not _parts(self.root / name):
                atomic_write_table(self.root / name / f"part-{0:020d}-empty.parquet", SCHEMAS[name].empty_table())


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.exists() else []


def _rewrite(folder: Path, parts: list[Path], masks: list[list[bool]]) -> None:
    """Stream the kept rows of every part into one new part (one part in memory at a time), then
    remove the old parts. The new part takes the newest part's time stamp, so later parts sort after it."""
    target = folder / f"part-{parts[-1].name[5:25]}-compact.parquet"
    tmp = _temp_beside(target)
    try:
        writer = None
        for p, mask in zip(parts, masks):
            t = _conform(pq.read_table(p).filter(pa.array(mask, pa.bool_())), SCHEMAS.get(folder.name))
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema)
            writer.write_table(t)
        writer.close()
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    for p in parts:
        if p != target:
            p.unlink(missing_ok=True)


def _conform(t: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """A part written by an older version in the table's current columns (new ones null), so parts of
    different versions compact into one."""
    if schema is None or t.schema.equals(schema):
        return t
    cols = [t.column(f.name).cast(f.type) if f.name in t.column_names else pa.nulls(len(t), f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def _columns(path: Path, names: list[str]) -> list[list]:
    t = pq.read_table(path, columns=names)
    return [t.column(n).to_pylist() for n in names]


def compact(root: Path) -> None:
    """Rewrite every table as one part with exactly one current row set per key.

    documents: the newest row per work_key wins and names the run that owns the key. extractions,
    citations and errors: only rows of that owning run are kept (rows of a killed run that never
    committed its document row are dropped); errors without a work key keep the newest per path+kind.
    runs and changes: history, every run's rows kept. Only key columns are held for all parts; rows
    stream through one part at a time, so memory stays flat as tables grow."""
    owner: dict[str, str] = {}
    doc_parts = _parts(root / "documents")
    if doc_parts:
        keys = [_columns(p, ["work_key", "run_id"]) for p in doc_parts]
        newest: dict[str, int] = {}
        for i, (wk, run) in enumerate(keys):
            for k, r in zip(wk, run):
                newest[k] = i
                owner[k] = r
        masks = [[newest[k] == i for k in wk] for i, (wk, _) in enumerate(keys)]
        if len(doc_parts) > 1 or not all(all(m) for m in masks):
            _rewrite(root / "documents", doc_parts, masks)
    for name in ("extractions", "citations", "errors"):
        parts = _parts(root / name)
        if not parts:
            continue
        cols = ["work_key", "run_id"] + (["path", "kind"] if name == "errors" else [])
        keys = [_columns(p, cols) for p in parts]
        last_run: dict[str, str] = {}
        if name == "errors":
            for wk, run, path, kind in keys:
                for w, r, p, k in zip(wk, run, path, kind):
                    if not w:
                        last_run[f"{p}:{k}"] = r  # parts are in time order: the last seen is the newest
        masks = []
        for cols_of_part in keys:
            wk, run = cols_of_part[0], cols_of_part[1]
            if name == "errors":
                loose = [f"{p}:{k}" for p, k in zip(cols_of_part[2], cols_of_part[3])]
                masks.append([(owner.get(w) == r) if w else (last_run[lk] == r) for w, r, lk in zip(wk, run, loose)])
            else:
                masks.append([owner.get(w) == r for w, r in zip(wk, run)])
        if len(parts) > 1 or not all(all(m) for m in masks):
            _rewrite(root / name, parts, masks)
    for name in ("runs", "changes"):
        parts = _parts(root / name)
        if len(parts) > 1:
            _rewrite(root / name, parts, [[True] * pq.read_metadata(p).num_rows for p in parts])


def read_table(out: Path, name: str):
    """The table as a pandas DataFrame (empty with the right columns when nothing was written)."""
    import pandas as pd

    folder = out / "tables" / name
    if not folder.exists() or not any(folder.glob("part-*.parquet")):
        return SCHEMAS[name].empty_table().to_pandas()
    return pd.read_parquet(folder)


def needs_work(status: str | None, options: OutputOptions) -> bool:
    """Whether a document whose work key has `status` in the tables (None: never done) is processed
    again: always with --force, never once done, and with --retry-failed when it failed or came out
    partial (a page or a window failed)."""
    return options.force or status is None or (options.retry_failed and status in ("failed", "partial"))


def done_keys(out: Path) -> dict[str, str]:
    """work_key -> status of documents already in the tables."""
    folder = out / "tables" / "documents"
    if not folder.exists() or not any(folder.glob("part-*.parquet")):
        return {}
    t = pq.read_table(folder, columns=["work_key", "status"])
    return dict(zip(t.column("work_key").to_pylist(), t.column("status").to_pylist()))
