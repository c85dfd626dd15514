"""End to end through the Prefect flow with the tiny random Gemma 4 (real processor, generate and
constrained decoding), over data/samples plus a corrupt file."""

import json
import shutil

import jsonschema
import pandas as pd
import pytest

from model.tiny import TINY_VERSION
from flows.batch import run_batch
from pipeline.outputs import SCHEMAS
from schemas.catalog import answer_schema, load_schema
from schemas.options import RunOptions
from schemas.records import DocumentResult
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory, prefect_harness, tiny_backend):
    inputs = tmp_path_factory.mktemp("in")
    for p in SAMPLES.iterdir():
        shutil.copy(p, inputs / p.name)
    (inputs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    out = tmp_path_factory.mktemp("out")
    options = RunOptions(model="tiny-random", schema_name="key_facts", max_new_tokens=1024)
    record = run_batch([str(inputs)], str(out), options)
    return inputs, out, options, record


def test_run_record_and_tables(flow_run):
    _, out, _, record = flow_run
    assert record.documents == 4 and record.ok + record.partial == 3 and record.failed == 1
    assert record.model_id == f"tiny-random-gemma4-v{TINY_VERSION}"
    assert record.pages == 4 and record.frames == 4 and record.tokens_in > 0 and record.tokens_out > 0
    assert 0.0 < record.gpu_idle_share < 1.0  # the model waited for ingest and writes some of the time
    for name in ("documents", "extractions", "citations", "errors", "runs", "changes"):
        df = pd.read_parquet(out / "tables" / name)
        assert list(df.columns) == SCHEMAS[name].names, name
        if "model_id" in df.columns and len(df):
            assert set(df["model_id"].dropna()) == {f"tiny-random-gemma4-v{TINY_VERSION}"}
    docs = pd.read_parquet(out / "tables" / "documents")
    assert len(docs) == 4
    assert docs.set_index("name").loc["corrupt.pdf", "status"] == "failed"
    runs = pd.read_parquet(out / "tables" / "runs")
    assert len(runs) == 1 and runs.loc[0, "requests"] >= 3
    extractions = pd.read_parquet(out / "tables" / "extractions")
    assert runs.loc[0, "values"] == len(extractions) and runs.loc[0, "verified_values"] == extractions["verified"].sum()
    assert json.loads(runs.loc[0, "images_per_budget_json"])


def test_corrupt_file_gives_an_error_row(flow_run):
    _, out, _, _ = flow_run
    errors = pd.read_parquet(out / "tables" / "errors")
    bad = errors[errors["path"].str.endswith("corrupt.pdf") & (errors["severity"] == "error")]
    assert len(bad) == 1 and bad.iloc[0]["stage"] == "ingest" and bad.iloc[0]["message"]


def test_json_files_validate_and_match_tables(flow_run):
    _, out, options, _ = flow_run
    schema = load_schema(options.schema_name)
    docs = pd.read_parquet(out / "tables" / "documents")
    extractions = pd.read_parquet(out / "tables" / "extractions")
    citations = pd.read_parquet(out / "tables" / "citations")
    n_ex = n_cite = 0
    for row in docs.itertuples():
        data = json.loads((out / "json" / f"{row.doc_id}.json").read_text())
        result = DocumentResult.model_validate({k: v for k, v in data.items() if k != "run_id"})
        if result.status == "failed":
            continue
        jsonschema.validate(result.answer, answer_schema(schema.json_schema))
        n_ex += len(result.extractions)
        n_cite += sum(len(e.citations) for e in result.extractions)
        pages = set(range(1, result.pages + 1))
        times = {float(t) for t in range(result.frames)}
        table_verified = extractions[extractions.doc_id == row.doc_id].set_index("field")["verified"].to_dict()
        for e, raw in zip(result.extractions, data["extractions"]):
            assert raw["verified"] == e.verified == table_verified[e.field]  # located and the value not contradicted
            assert e.citations, e.field  # every extracted value carries a citation
            for c in e.citations:
                assert c.doc_id == result.doc_id and c.quote
                if result.media_type == "video":
                    assert c.t_seconds in times
                else:
                    assert c.page in pages
                assert c.match in ("exact", "normalised", "fuzzy", "partial", "relocated", "unverified")
                if c.match != "unverified":
                    assert c.boxes
    assert n_ex == len(extractions) and n_cite == len(citations)


def test_rerun_skips_unchanged_documents(flow_run):
    inputs, out, options, first = flow_run
    again = run_batch([str(inputs)], str(out), options)
    assert again.skipped == 4 and again.requests == 0
    assert len(pd.read_parquet(out / "tables" / "documents")) == 4
    assert len(pd.read_parquet(out / "tables" / "runs")) == 2
