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
def test_a_backend_plugin_that_cannot_be_imported_exits_3_saying_so(tmp_path, monkeypatch):
    from model import registry

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setenv("GEMMADOC_BACKEND_PLUGINS", "tests.doubles, no_such_plugin_module")
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "scripted:"])
    text = " ".join(r.output.split())
    assert r.exit_code == 3 and "'no_such_plugin_module' named in GEMMADOC_BACKEND_PLUGINS cannot be imported" in text
    assert not (tmp_path / "o").exists()


def test_cli_run_with_scripted_backend(tmp_path, prefect_harness):
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(out), "--model", "scripted:", "--schema", "invoice"])
    assert r.exit_code == 0, r.output
    assert "documents" in r.output and "tokens in" in r.output
    ex = pd.read_parquet(out / "tables" / "extractions")
    cites = pd.read_parquet(out / "tables" / "citations")
    assert len(ex) > 0 and (cites["match"] != "unverified").mean() > 0.5  # fake quotes come from the text layer
    r = runner.invoke(app, ["status", str(out)])
    assert r.exit_code == 0 and "scripted" in r.output
    docs = pd.read_parquet(out / "tables" / "documents")
    answer = json.loads(docs.set_index("name").loc["contract_and_invoice.pdf", "answer_json"])
    assert "invoice_number" in answer


def test_run_options_help_and_defaults_come_from_run_options():
    """Every option leaf (of every group and backend) is a `run` flag whose help is the field's description
    and whose default is the field's (backend flags: None, passed on only when given, help naming the default)."""
    import typer.main

    from schemas.options import field_info, leaf_owner

    run = typer.main.get_command(app).commands["run"]
    helps = {p.help.split(" [default:")[0]: p for p in run.params if getattr(p, "help", None)}
    owner = leaf_owner()
    leaves = {"schema_name", *owner} - {"backend", "image_tokens_min", "image_tokens_max"}  # --image-tokens LO..HI
    assert len(leaves) >= 45
    for name in leaves:
        info = field_info(name)
        assert info.description, f"{name} has no description"
        param = helps.get(info.description)
        assert param is not None, f"option {name}: no --flag shows its description"
        default = info.get_default(call_default_factory=True)
        if owner.get(name) == "backend" and name != "model":
            assert param.default is None and (default is None or f"[default: {default}]" in param.help), name
        else:
            assert param.default == default, name


def test_schemas_command_shows_a_schema_as_it_is_read(tmp_path):
    path = tmp_path / "deal.json"
    path.write_text(json.dumps({"type": "object", "properties": {
        "amount": {"anyOf": [{"type": "number"}, {"type": "string"}], "description": "the price"},
        "kind": {"const": "sale"}, "terms": {"type": "object", "additionalProperties": {"type": "string"}}}}))
    r = runner.invoke(app, ["schemas", str(path)])
    text = " ".join(r.output.split())
    assert r.exit_code == 0, r.output
    assert "amount │ number │ the price" in text and "kind │ string │ sale" not in text and "kind │ enum │ sale" in text
    assert "terms[].key" in text and "given back as objects: terms" in text
    path.write_text(json.dumps({"type": "object", "properties": {"x": {"$ref": "#/$defs/Nope"}}}))
    r = runner.invoke(app, ["schemas", str(path)])
    assert r.exit_code == 2 and "points to nothing" in r.output
