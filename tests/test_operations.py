"""Nightly operations against a real `prefect server start` on loopback: a scheduled deployment runs,
and runs killed with SIGKILL at random moments leave tables identical to an uninterrupted run."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pymupdf
import pytest

from tests.conftest import ROOT, SAMPLES, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    from flows.batch import api_health

    deadline = time.monotonic() + 120
    while not api_health(api):
        assert proc.poll() is None, (home / "server.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "prefect server did not become healthy"
        time.sleep(0.5)
    yield {**env, "PREFECT_API_URL": api}
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture(scope="module")
def many_docs(tmp_path_factory):
    d = tmp_path_factory.mktemp("docs")
    for i in range(11):
        doc = pymupdf.open()
        p = doc.new_page()
        p.insert_text((72, 72), f"Invoice number INV-{1000 + i}")
        p.insert_text((72, 100), f"Total due EUR {i * 17 + 3}.00 for order {i}")
        doc.save(d / f"doc{i:02d}.pdf")
    (d / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    return d


def snapshot(out: Path) -> dict:
    """Table contents without run ids and timings, sorted: what must match between runs."""
    docs = pd.read_parquet(out / "tables" / "documents")
    ex = pd.read_parquet(out / "tables" / "extractions")
    cites = pd.read_parquet(out / "tables" / "citations")
    errors = pd.read_parquet(out / "tables" / "errors")
    assert not docs["work_key"].duplicated().any()
    assert not ex.duplicated(["work_key", "field"]).any()
    return {
        "documents": sorted(zip(docs.work_key, docs.status, docs.pages, docs.extractions, docs.answer_json)),
        "extractions": sorted(zip(ex.work_key, ex.field, ex.value_json)),
        "citations": sorted(zip(cites.work_key, cites.field, cites.page, cites.quote, cites.match, cites.x0.round(3))),
        "errors": sorted(zip(errors.path, errors.kind, errors.severity)),
        "json": sorted(p.name for p in (out / "json").glob("*.json")),
    }


ARGS = ["--model", "scripted:delay=0.1", "--schema", "invoice", "--workers", "2", "--chunk-docs", "4"]


def test_sigkill_then_rerun_equals_clean_run(tmp_path, many_docs, prefect_server):
    clean = tmp_path / "clean"
    t0 = time.monotonic()
    p = cli(["run", str(many_docs), "--out", str(clean), *ARGS], prefect_server)
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 1, out  # the broken file fails, the rest completes
    full = time.monotonic() - t0
    want = snapshot(clean)
    assert len(want["documents"]) == 12
    for seed in (1, 2):  # kill points at 30-90% of a clean run; each seed costs two CLI runs (~15 s)
        rng = random.Random(seed)
        target = tmp_path / f"killed{seed}"
        p = cli(["run", str(many_docs), "--out", str(target), *ARGS], prefect_server)
        time.sleep(rng.uniform(0.3, 0.9) * full)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
        p = cli(["run", str(many_docs), "--out", str(target), *ARGS], prefect_server)
        out, _ = p.communicate(timeout=300)
        assert p.returncode in (0, 1), out
        assert snapshot(target) == want, f"seed {seed}"
        assert not [f for f in target.rglob("*.tmp")]
        # the killed run gets a runs row from the re-run, and what it committed is reported as new
        runs = pd.read_parquet(target / "tables" / "runs")
        docs = pd.read_parquet(target / "tables" / "documents")
        assert set(docs["run_id"]) <= set(runs["run_id"]) and set(runs["status"]) <= {"completed", "aborted"}
        assert set(runs.loc[runs["status"] == "aborted", "run_id"]) == set(docs["run_id"]) - set(runs.loc[runs["status"] == "completed", "run_id"])
        changes = pd.read_parquet(target / "tables" / "changes")  # (the killed run may have finished first)
        assert set(changes.loc[changes["change"] == "new", "path"]) == set(docs["path"]), f"seed {seed}"


def test_rerun_change_and_retry_failed(tmp_path, many_docs, prefect_server):
    import shutil

    inputs = tmp_path / "in"
    shutil.copytree(many_docs, inputs)
    out = tmp_path / "out"
    cli(["run", str(inputs), "--out", str(out), *ARGS], prefect_server).communicate(timeout=300)
    # edit one document, remove one, add one
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Invoice number INV-9999 Total due EUR 5.00")
    doc.save(inputs / "doc00.pdf")
    (inputs / "doc01.pdf").unlink()
    shutil.copy(SAMPLES / "contract_and_invoice.pdf", inputs / "new.pdf")
    old = time.time() - 3600
    for f in inputs.iterdir():
        os.utime(f, (old, old))
    with open(inputs / "doc02.pdf", "ab") as f:  # still being written as the run starts: left for the next
        f.write(b"%% appended\n")
    p = cli(["run", str(inputs), "--out", str(out), "--min-file-age", "600", *ARGS], prefect_server)
    p.communicate(timeout=300)
    runs = pd.read_parquet(out / "tables" / "runs").sort_values("started_at")
    last = runs.iloc[-1]
    assert last.processed == 2 and last.skipped == 9  # the edited and the new document only
    changes = pd.read_parquet(out / "tables" / "changes")
    mine = changes[changes.run_id == last.run_id]
    kinds = {(Path(r.path).name, r.change) for r in mine.itertuples() if r.change != "value_changed"}
    assert kinds == {("doc00.pdf", "changed"), ("doc01.pdf", "removed"), ("new.pdf", "new")}  # doc02: not removed
    errors = pd.read_parquet(out / "tables" / "errors")
    waiting = errors[(errors.run_id == last.run_id) & (errors.kind == "still_writing")]
    assert [Path(p).name for p in waiting.path] == ["doc02.pdf"] and set(waiting.severity) == {"warning"}
    fields = set(mine[mine.change == "value_changed"].field)
    assert "invoice_number" in fields
    # --retry-failed redoes only the broken document (and reads doc02, which the last run left)
    p = cli(["run", str(inputs), "--out", str(out), "--retry-failed", *ARGS], prefect_server)
    p.communicate(timeout=300)
    last = pd.read_parquet(out / "tables" / "runs").sort_values("started_at").iloc[-1]
    assert last.processed == 2 and last.failed >= 1
    changes = pd.read_parquet(out / "tables" / "changes")
    assert {(Path(r.path).name, r.change) for r in changes[changes.run_id == last.run_id].itertuples()} == {("doc02.pdf", "changed")}
    docs = pd.read_parquet(out / "tables" / "documents")
    assert not docs["work_key"].duplicated().any()


def test_scheduled_deployment_runs(tmp_path, prefect_server):
    import shutil

    out, inputs = tmp_path / "out", tmp_path / "in"
    shutil.copytree(SAMPLES, inputs)
    old = time.time() - 3600
    for f in inputs.iterdir():
        os.utime(f, (old, old))
    (inputs / "arriving.png").write_bytes((SAMPLES / "scanned_receipt.png").read_bytes() + b"\0")  # changed just now
    serve = cli(["schedule", str(inputs), "--out", str(out), "--interval", "5", "--model", "scripted:", "--schema", "receipt",
                 "--name", "test-nightly"], {**prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not (out / "tables" / "runs").exists():
            assert serve.poll() is None, serve.stdout.read()
            assert time.monotonic() < deadline, "no scheduled run completed"
            time.sleep(1)
        time.sleep(2)
        runs = pd.read_parquet(out / "tables" / "runs")
        assert len(runs) >= 1 and runs.iloc[0].documents == 3  # a schedule leaves files changed in the last minute
        errors = pd.read_parquet(out / "tables" / "errors")
        assert "arriving.png" in {Path(p).name for p in errors[errors.kind == "still_writing"].path}
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)


def test_schedule_without_server_says_how_to_start_one(tmp_path):
    env = {**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    p = cli(["schedule", str(SAMPLES), "--out", str(tmp_path)], env)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 2 and "prefect server start" in out
