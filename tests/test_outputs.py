import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.outputs import SCHEMAS, TableWriter, compact, done_keys, read_table, rows_for, write_document_json
from schemas.records import Box, Citation, DocumentResult, ErrorRecord, Extraction


def result(key, doc="d1", value="x", status="ok"):
    c = Citation(doc_id=doc, page=1, quote="q", match="exact", score=1.0, boxes=[Box(x0=1, y0=2, x1=3, y1=4)],
                 boxes_norm=[Box(x0=0.1, y0=0.2, x1=0.3, y1=0.4)])
    return DocumentResult(doc_id=doc, path=f"/in/{doc}.pdf", name=f"{doc}.pdf", media_type="pdf", status=status,
                          work_key=key, schema_name="s", model_id="m", pages=1,
                          extractions=[Extraction(doc_id=doc, field="a", value=value, citations=[c])],
                          errors=[ErrorRecord(doc_id=doc, path=f"/in/{doc}.pdf", stage="ingest", kind="repaired",
                                              message="w", severity="warning")])


def test_tables_have_fixed_columns_and_read_with_pandas(tmp_path):
    w = TableWriter(tmp_path, "run1")
    w.append(rows_for([result("k1"), result("k2", "d2")], "run1",
                      [ErrorRecord(path="/in/bad.pdf", stage="discover", kind="empty", message="empty")]))
    w.compact()
    for name in ("documents", "extractions", "citations", "errors"):
        df = pd.read_parquet(tmp_path / "tables" / name)
        assert list(df.columns) == SCHEMAS[name].names
    assert len(read_table(tmp_path, "documents")) == 2
    assert len(read_table(tmp_path, "errors")) == 3
    cites = read_table(tmp_path, "citations")
    assert cites.loc[0, "x0"] == 1 and cites.loc[0, "y1_norm"] == 0.4 and json.loads(cites.loc[0, "boxes_json"])[0]["x1"] == 3
    assert list(read_table(tmp_path, "runs").columns) == SCHEMAS["runs"].names  # empty but typed


def test_rerun_replaces_rows_of_the_same_key(tmp_path):
    TableWriter(tmp_path, "run1").append(rows_for([result("k1", value="old")], "run1"))
    TableWriter(tmp_path, "run2").append(rows_for([result("k1", value="new")], "run2"))
    compact(tmp_path / "tables")
    ex = read_table(tmp_path, "extractions")
    assert ex["value_text"].tolist() == ["new"]
    assert read_table(tmp_path, "errors")["run_id"].tolist() == ["run2"]
    assert len(list((tmp_path / "tables" / "extractions").glob("*.parquet"))) == 1


def test_rows_of_an_uncommitted_document_are_dropped(tmp_path):
    """A kill after extractions were written but before the document row: those rows are orphans."""
    rows = rows_for([result("k1")], "run1")
    rows.pop("documents")
    TableWriter(tmp_path, "run1").append(rows)
    assert done_keys(tmp_path) == {}
    TableWriter(tmp_path, "run2").append(rows_for([result("k1", value="redo")], "run2"))
    compact(tmp_path / "tables")
    ex = read_table(tmp_path, "extractions")
    assert ex["value_text"].tolist() == ["redo"] and ex["run_id"].tolist() == ["run2"]
    assert done_keys(tmp_path) == {"k1": "ok"}


def test_error_rows_without_work_key_keep_the_newest(tmp_path):
    e = ErrorRecord(path="/in/bad.pdf", stage="discover", kind="empty", message="empty")
    TableWriter(tmp_path, "run1").append(rows_for([], "run1", [e]))
    TableWriter(tmp_path, "run2").append(rows_for([], "run2", [e]))
    compact(tmp_path / "tables")
    assert read_table(tmp_path, "errors")["run_id"].tolist() == ["run2"]


def test_document_json_is_written_atomically(tmp_path):
    r = result("k1")
    path = write_document_json(tmp_path, r, "run1")
    data = json.loads(path.read_text())
    assert data["doc_id"] == "d1" and data["extractions"][0]["citations"][0]["boxes"][0]["x0"] == 1
    assert DocumentResult.model_validate({k: v for k, v in data.items() if k != "run_id"}) == r
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    assert pq.ParquetFile  # pyarrow available for readers


def test_every_table_is_readable_even_without_rows(tmp_path):
    w = TableWriter(tmp_path, "run1")
    w.append(rows_for([result("k1")], "run1"))
    w.ensure_tables()
    for name in SCHEMAS:
        df = pd.read_parquet(tmp_path / "tables" / name)
        assert list(df.columns) == SCHEMAS[name].names
    assert len(pd.read_parquet(tmp_path / "tables" / "runs")) == 0
    TableWriter(tmp_path, "run2").append(rows_for([result("k1", value="new")], "run2"))
    compact(tmp_path / "tables")
    assert read_table(tmp_path, "extractions")["value_text"].tolist() == ["new"]


def test_files_are_written_with_the_umask_not_0600(tmp_path):
    import os
    import stat

    from pipeline.outputs import FILE_MODE, atomic_write_bytes, atomic_write_table

    atomic_write_bytes(tmp_path / "a.json", b"{}")
    atomic_write_table(tmp_path / "t" / "part-1.parquet", pa.table({"x": [1]}))
    mask = os.umask(0o022)
    os.umask(mask)
    assert FILE_MODE == 0o666 & ~mask
    for p in (tmp_path / "a.json", tmp_path / "t" / "part-1.parquet"):
        assert stat.S_IMODE(p.stat().st_mode) == FILE_MODE
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_retry_failed_redoes_failed_and_partial_documents():
    from pipeline.outputs import needs_work
    from schemas.options import OutputOptions

    plain, retry, force = OutputOptions(), OutputOptions(retry_failed=True), OutputOptions(force=True)
    assert [needs_work(s, plain) for s in (None, "ok", "partial", "failed")] == [True, False, False, False]
    assert [needs_work(s, retry) for s in (None, "ok", "partial", "failed")] == [True, False, True, True]
    assert all(needs_work(s, force) for s in (None, "ok", "partial", "failed"))


def test_a_retried_write_replaces_its_parts_instead_of_duplicating_rows(tmp_path, monkeypatch):
    import pipeline.outputs as outputs

    results = [DocumentResult(doc_id="d1", path="/x.pdf", name="x.pdf", media_type="pdf", status="ok", work_key="k1",
                              extractions=[Extraction(doc_id="d1", field="total", value=1.0, citations=[])])]
    real = outputs.atomic_write_table
    calls = []

    def fail_on_documents_once(path, table):
        if "documents" in str(path) and not calls:
            calls.append(path)
            raise OSError("disk hiccup")
        real(path, table)

    monkeypatch.setattr(outputs, "atomic_write_table", fail_on_documents_once)
    writer = TableWriter(tmp_path, "run1")
    stamp = 1_000
    try:
        writer.append(rows_for(results, "run1"), stamp=stamp)  # extractions written, documents not
    except OSError:
        writer.append(rows_for(results, "run1"), stamp=stamp)  # the task's retry
    assert len(read_table(tmp_path, "extractions")) == 1 and len(read_table(tmp_path, "documents")) == 1


def test_temporary_files_of_a_killed_run_are_removed_by_the_next(tmp_path):
    from pipeline.outputs import remove_stale_temps

    w = TableWriter(tmp_path, "run1")
    w.append(rows_for([result("k1")], "run1"))
    (tmp_path / "json").mkdir()
    left = [tmp_path / "tables" / "documents" / ".part-01-compact.parquet.x1y2.tmp", tmp_path / "json" / ".abc.json.q9.tmp"]
    for f in left:
        f.write_bytes(b"half")
    assert remove_stale_temps(tmp_path) == 2
    assert not any(f.exists() for f in left) and list((tmp_path / "tables" / "documents").glob("part-*.parquet"))


def test_parts_written_by_an_older_version_compact_with_the_new_columns(tmp_path):
    """A runs part from before `gpu_idle_share` existed and a new one compact into one readable table."""
    from pipeline.outputs import run_row
    from schemas.records import RunRecord

    folder = tmp_path / "tables" / "runs"
    folder.mkdir(parents=True)
    old = RunRecord(run_id="old", started_at="a", finished_at="b", model_id="m", schema_name="s", options={})
    row = run_row(old)
    row.pop("gpu_idle_share")
    old_schema = pa.schema([f for f in SCHEMAS["runs"] if f.name != "gpu_idle_share"])
    pq.write_table(pa.Table.from_pylist([row], schema=old_schema), folder / "part-00000000000000000001-a.parquet")
    new = old.model_copy(update={"run_id": "new", "gpu_idle_share": 0.25})
    TableWriter(tmp_path, "new").append({"runs": [run_row(new)]})
    compact(tmp_path / "tables")
    runs = read_table(tmp_path, "runs").set_index("run_id")
    assert list(runs.reset_index().columns) == SCHEMAS["runs"].names
    assert pd.isna(runs.loc["old", "gpu_idle_share"]) and runs.loc["new", "gpu_idle_share"] == 0.25
