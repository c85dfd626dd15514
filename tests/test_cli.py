import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import ROOT, SAMPLES

runner = CliRunner()


def test_help_is_light():
    code = ("import sys; from flows.cli import app; from typer.testing import CliRunner; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
            "r = CliRunner().invoke(app, ['run', '--help']); assert r.exit_code == 0; "
            "heavy = [m for m in ('torch', 'transformers', 'prefect', 'pymupdf', 'cv2') if m in sys.modules]; "
            "print(heavy); assert not heavy, heavy")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_schemas_command_lists_builtins():
    r = runner.invoke(app, ["schemas"])
    assert r.exit_code == 0 and "invoice" in r.output and "video_events" in r.output


def test_invalid_schema_fails_before_model_work(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text('{"type": "object", "properties": {"a": {"type": "strnig"}}}')
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--schema", str(bad), "--model", "tiny-random"])
    assert r.exit_code == 2 and "not a valid JSON Schema" in r.output
    assert not (tmp_path / "o").exists()
    r = runner.invoke(app, ["run", str(SAMPLES), "--image-tokens", "100..200"])
    assert r.exit_code == 2 and "budgets" in r.output


def test_missing_weights_give_a_clear_message(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-m", "flows.cli", "run", str(SAMPLES), "--out", str(tmp_path / "o")],
                         cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 3
    text = out.stdout + out.stderr
    assert "--model PATH" in text and "tiny-random" in text and "google/gemma-4-26B-A4B-it" in text


@pytest.mark.slow
def test_cli_run_with_scripted_backend(tmp_path, prefect_harness):
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(out), "--model", "fake:", "--schema", "invoice"])
    assert r.exit_code == 0, r.output
    assert "documents" in r.output and "tokens in" in r.output
    ex = pd.read_parquet(out / "tables" / "extractions")
    cites = pd.read_parquet(out / "tables" / "citations")
    assert len(ex) > 0 and (cites["match"] != "unverified").mean() > 0.5  # fake quotes come from the text layer
    r = runner.invoke(app, ["status", str(out)])
    assert r.exit_code == 0 and "fake-scripted" in r.output
    docs = pd.read_parquet(out / "tables" / "documents")
    answer = json.loads(docs.set_index("name").loc["contract_and_invoice.pdf", "answer_json"])
    assert "invoice_number" in answer


@pytest.mark.parametrize("flag, value, allowed", [("--attn", "flash_attention_2", "'sdpa', 'eager' or 'flex_attention'"),
                                                  ("--experts", "fast", "'grouped_mm'")])
def test_bad_attention_or_experts_value_exits_2_naming_the_allowed_values(tmp_path, flag, value, allowed):
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "fake:", flag, value])
    text = " ".join(r.output.split())
    assert r.exit_code == 2 and f"{flag}:" in text and allowed in text
    assert not (tmp_path / "o").exists()  # stopped before any work, not reported as missing weights


@pytest.mark.slow
def test_an_output_folder_inside_the_input_is_never_read_as_input(tmp_path, prefect_harness):
    import shutil

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLES / "contract_and_invoice.pdf", inbox)
    (inbox / "notes.txt").write_text("a stray file: a warning, not a failed night")
    out = inbox / "out"
    for _ in range(2):  # the second run would find the first run's JSON and Parquet files
        r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "fake:", "--ocr", "off", "--force"])
        assert r.exit_code == 0, r.output
    runs = pd.read_parquet(out / "tables" / "runs")
    assert list(runs["documents"]) == [1, 1] and list(runs["failed"]) == [0, 0] and list(runs["warnings"]) == [1, 1]
    errors = pd.read_parquet(out / "tables" / "errors")
    assert set(errors["severity"]) == {"warning"} and set(errors["path"].map(os.path.basename)) == {"notes.txt"}


NULLABLE = {"type": "object", "properties": {"total": {"type": ["number", "null"]}, "name": {"type": ["string", "null"]},
                                             "items": {"type": ["array", "null"], "items": {"type": "string"}}}}
BAD_SCHEMAS = {
    "union": ({"type": "object", "properties": {"x": {"type": ["string", "number"]}}}, "give one type per field"),
    "missing_ref": ({"type": "object", "properties": {"x": {"$ref": "#/$defs/Nope"}}}, "points to nothing"),
    "recursive": ({"type": "object", "properties": {"node": {"$ref": "#/$defs/Node"}},
                   "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}}},
                  "recursive schemas"),
}


@pytest.mark.slow
def test_nullable_types_run_end_to_end(tmp_path, prefect_harness):
    path = tmp_path / "nullable.json"
    path.write_text(json.dumps(NULLABLE))
    r = runner.invoke(app, ["run", str(SAMPLES / "contract_and_invoice.pdf"), "--out", str(tmp_path / "o"), "--model", "fake:",
                            "--schema", str(path), "--ocr", "off"])
    assert r.exit_code == 0, r.output
    fields = set(pd.read_parquet(tmp_path / "o" / "tables" / "extractions")["field"])
    assert {"total", "name", "items[0]"} <= fields


@pytest.mark.parametrize("case", sorted(BAD_SCHEMAS))
def test_unusable_schemas_exit_2_with_a_message(tmp_path, case):
    schema, message = BAD_SCHEMAS[case]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(schema))
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "fake:", "--schema", str(path)])
    assert r.exit_code == 2 and message in " ".join(r.output.split()) and "Traceback" not in r.output


@pytest.mark.slow
def test_a_file_name_that_is_not_utf8_is_processed_and_stored_losslessly(tmp_path, prefect_harness):
    import shutil

    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(SAMPLES / "contract_and_invoice.pdf", inbox / "good.pdf")
    raw = os.fsencode(inbox) + b"/caf\xe9.png"  # Latin-1 bytes, as an old archive or SMB share leaves them
    shutil.copy(SAMPLES / "scanned_receipt.png", raw)
    out = tmp_path / "out"
    for _ in range(2):
        r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "fake:", "--ocr", "off"])
        assert r.exit_code == 0, r.output
    docs = pd.read_parquet(out / "tables" / "documents")
    assert len(docs) == 2 and set(docs["status"]) == {"ok"}
    odd = docs[docs["path_bytes_hex"].notna()].iloc[0]
    assert bytes.fromhex(odd["path_bytes_hex"]) == raw and "\ufffd" in odd["path"]
    assert json.loads((out / "json" / f"{odd['doc_id']}.json").read_text())["path_bytes_hex"] == raw.hex()
    runs = pd.read_parquet(out / "tables" / "runs").sort_values("started_at")
    assert list(runs["skipped"]) == [0, 2]
    assert len(pd.read_parquet(out / "tables" / "changes")) == 2  # both new in the first run, nothing after


@pytest.mark.slow
def test_one_run_at_a_time_per_output_folder(tmp_path, prefect_harness):
    import time

    from pipeline.lock import LOCK_NAME, OutputLock

    out = tmp_path / "out"
    args = ["run", str(SAMPLES / "contract_and_invoice.pdf"), "--out", str(out), "--model", "fake:", "--ocr", "off"]
    with OutputLock(out):  # another run is writing here
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and f"pid {os.getpid()}" in " ".join(r.output.split())
        t0 = time.monotonic()
        r = runner.invoke(app, args + ["--wait-lock", "1"])
        assert r.exit_code == 2 and time.monotonic() - t0 >= 1.0
    assert not (out / "tables" / "documents").exists()  # nothing was written under the other run
    # a run killed with -9 leaves its details but no lock: the next run takes over and says so
    (out / LOCK_NAME).write_text(json.dumps({"host": "node7", "pid": 999999, "started_at": "2026-12-01T02:00:00+00:00"}))
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "took over" in r.output and "pid 999999 on node7" in " ".join(r.output.split())
    assert (out / LOCK_NAME).read_text() == ""  # released
