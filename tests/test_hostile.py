"""Hostile and careless use, each case through the real CLI: bad names, links, unreadable inputs,
concurrent runs, bombs, broken videos, bad schemas, stray files, a full disk. Every test checks that
the good documents still come out complete, and that nothing outside --out was written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import ROOT, SAMPLES
from tests.hostile_inputs import palette_png_bomb, pdf_stream_bomb, slide_video, zero_duration_video

runner = CliRunner()
GOOD = SAMPLES / "contract_and_invoice.pdf"


def snapshot(root: Path, out: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` outside `out`, with its size and modification time."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == out or out in Path(dirpath).parents:
            dirnames[:] = []
            continue
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            found[p] = (st.st_size, st.st_mtime_ns)
    return found


def run_cli(args: list[str], root: Path, out: Path):
    """Invoke `gemmadoc run ARGS --out OUT`, checking that nothing under `root` outside `out` changed."""
    before = snapshot(root, out)
    result = runner.invoke(app, ["run", *args, "--out", str(out), "--model", "scripted:"])
    assert snapshot(root, out) == before, "files outside --out were written"
    return result


def good_document_complete(out: Path, name: str = "contract_and_invoice.pdf") -> None:
    docs = pd.read_parquet(out / "tables" / "documents")
    row = docs[docs["name"] == name].iloc[0]
    assert row["status"] == "ok" and row["extractions"] > 0 and row["pages"] == 3
    assert (out / "json" / f"{row['doc_id']}.json").exists()


def inbox_with_good(tmp_path: Path) -> Path:
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(GOOD, inbox / GOOD.name)
    return inbox


@pytest.mark.parametrize("flag, value, allowed", [("--attn", "flash_attention_2", "'sdpa', 'eager' or 'flex_attention'"),
                                                  ("--experts", "fast", "'grouped_mm'"),
                                                  ("--decode-experts", "fast", "'batched_mm'")])
def test_bad_attention_or_experts_value_exits_2_naming_the_allowed_values(tmp_path, flag, value, allowed):
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "scripted:", flag, value])
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
        r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "scripted:", "--ocr", "off", "--force"])
        assert r.exit_code == 0, r.output
    runs = pd.read_parquet(out / "tables" / "runs")
    assert list(runs["documents"]) == [1, 1] and list(runs["failed"]) == [0, 0] and list(runs["warnings"]) == [1, 1]
    errors = pd.read_parquet(out / "tables" / "errors")
    assert set(errors["severity"]) == {"warning"} and set(errors["path"].map(os.path.basename)) == {"notes.txt"}


NULLABLE = {"type": "object", "properties": {"total": {"type": ["number", "null"]}, "name": {"type": ["string", "null"]},
                                             "items": {"type": ["array", "null"], "items": {"type": "string"}}}}
def _nested(levels: int) -> dict:
    node: dict = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"x": node}}
    return node


BAD_SCHEMAS = {
    "null_only": ({"type": "object", "properties": {"x": {"type": "null"}}}, "unsupported node at $.x (type 'null'"),
    "missing_ref": ({"type": "object", "properties": {"x": {"$ref": "#/$defs/Nope"}}}, "points to nothing"),
    "remote_ref": ({"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}, "only local $ref"),
    "too_deep": (_nested(14), "nests more than 12 levels"),
    "recursive_without_fields": ({"type": "object", "properties": {"node": {"$ref": "#/$defs/Node"}},
                                  "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}}},
                                 "has no field to extract"),
}


@pytest.mark.slow
def test_nullable_types_run_end_to_end(tmp_path, prefect_harness):
    path = tmp_path / "nullable.json"
    path.write_text(json.dumps(NULLABLE))
    r = runner.invoke(app, ["run", str(SAMPLES / "contract_and_invoice.pdf"), "--out", str(tmp_path / "o"), "--model", "scripted:",
                            "--schema", str(path), "--ocr", "off"])
    assert r.exit_code == 0, r.output
    fields = set(pd.read_parquet(tmp_path / "o" / "tables" / "extractions")["field"])
    assert {"total", "name", "items[0]"} <= fields


@pytest.mark.slow
def test_a_pydantic_model_as_teams_write_it_runs_end_to_end(tmp_path, prefect_harness, monkeypatch):
    """Decimal, unions, Literal, a dict field and a model that contains itself, through the real flow: the
    dict's entries are cited and verified row by row, and the document's answer gives them as an object."""
    from tests.test_wrap import TEAM_MODELS

    (tmp_path / "team_models.py").write_text(TEAM_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(SAMPLES / "contract_and_invoice.pdf"), "--out", str(out), "--model", "scripted:",
                            "--schema", "team_models:TeamInvoice", "--ocr", "off"])
    assert r.exit_code == 0, r.output
    ex = pd.read_parquet(out / "tables" / "extractions")
    cites = pd.read_parquet(out / "tables" / "citations")
    assert {"terms[0].key", "terms[0].value", "payment.method", "outline[0].subsections[0].heading"} <= set(ex["field"])
    keyed = cites[cites["field"].str.startswith("terms[")]
    assert len(keyed) and (keyed["match"] != "unverified").all()
    answer = json.loads(pd.read_parquet(out / "tables" / "documents")["answer_json"].iloc[0])
    keys = ex.set_index("field")["value_json"]
    assert isinstance(answer["terms"], dict) and json.loads(keys["terms[0].key"]) in answer["terms"]
    errors = pd.read_parquet(out / "tables" / "errors")
    assert "schema_violation" not in set(errors["kind"])


@pytest.mark.parametrize("case", sorted(BAD_SCHEMAS))
def test_unusable_schemas_exit_2_with_a_message(tmp_path, case):
    schema, message = BAD_SCHEMAS[case]
    path = tmp_path / f"{case}.json"
    path.write_text(json.dumps(schema))
    r = runner.invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "scripted:", "--schema", str(path)])
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
        r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "scripted:", "--ocr", "off"])
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
    args = ["run", str(SAMPLES / "contract_and_invoice.pdf"), "--out", str(out), "--model", "scripted:", "--ocr", "off"]
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


# ---------------------------------------------------------------- links, unreadable inputs
@pytest.mark.slow
def test_links_leaving_the_input_are_warnings_and_never_read(tmp_path, prefect_harness):
    inbox = inbox_with_good(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "scanned_receipt.png", outside / "secret.png")
    os.symlink(outside / "secret.png", inbox / "secret.png")
    os.symlink("/", inbox / "root")  # would walk the whole file system
    out = tmp_path / "out"
    r = run_cli([str(inbox), "--ocr", "off"], tmp_path, out)
    assert r.exit_code == 0, r.output
    good_document_complete(out)
    docs = pd.read_parquet(out / "tables" / "documents")
    assert list(docs["name"]) == [GOOD.name]  # the secret was not sent to the model
    warned = pd.read_parquet(out / "tables" / "errors")
    assert set(warned["kind"]) == {"symlink_outside"} and set(warned["severity"]) == {"warning"}


def _without_root_powers() -> list[str]:
    """A command prefix under which file modes apply (root reads everything otherwise)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: file modes cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


@pytest.mark.slow
def test_unreadable_files_and_folders_are_error_rows_and_an_unreadable_root_exits_2(tmp_path):
    inbox = inbox_with_good(tmp_path)
    shutil.copy(SAMPLES / "scanned_receipt.png", inbox / "locked.png")
    (inbox / "sealed").mkdir()
    shutil.copy(SAMPLES / "scanned_receipt.png", inbox / "sealed" / "inside.png")
    os.chmod(inbox / "locked.png", 0)
    os.chmod(inbox / "sealed", 0)
    out = tmp_path / "out"
    cli = [*_without_root_powers(), sys.executable, "-m", "flows.cli", "run"]
    try:
        done = subprocess.run([*cli, str(inbox), "--out", str(out), "--model", "scripted:", "--ocr", "off"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stdout + done.stderr  # two inputs could not be read: a failed night
        good_document_complete(out)
        errors = pd.read_parquet(out / "tables" / "errors")
        unreadable = errors[errors["kind"] == "unreadable"]
        assert sorted(Path(p).name for p in unreadable["path"]) == ["locked.png", "sealed"]
        assert (unreadable["severity"] == "error").all()
        runs = pd.read_parquet(out / "tables" / "runs")
        assert runs["failed"].iloc[0] == 2 and runs["ok"].iloc[0] == 1
        done = subprocess.run([*cli, str(inbox / "sealed"), "--out", str(tmp_path / "o2"), "--model", "scripted:"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        said = " ".join(done.stderr.replace("│", " ").split())
        assert done.returncode == 2 and "is not readable" in said, said  # click's Path check, before any work
        assert not (tmp_path / "o2").exists()
    finally:
        os.chmod(inbox / "sealed", 0o755)
        os.chmod(inbox / "locked.png", 0o644)


# ---------------------------------------------------------------- bombs
def test_a_palette_png_bomb_is_decoded_in_strips_with_little_memory(tmp_path):
    bomb = palette_png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100_000
    code = ("import sys, time; from pathlib import Path; from pipeline.discover import discover; "
            "from pipeline.ingest import ingest_document; from schemas.options import IngestOptions; "
            "doc = discover([sys.argv[1]]).documents[0]; t = time.perf_counter(); "
            "res = ingest_document(doc, IngestOptions(ocr='off'), Path(sys.argv[2])); "
            "u = res.units[0]; print(u.width, u.height, max(u.image_width, u.image_height), "
            "round(time.perf_counter() - t, 1), "
            "[int(line.split()[1]) // 1024 for line in open('/proc/self/status') if line.startswith('VmHWM')][0])")
    (tmp_path / "spool").mkdir()
    done = subprocess.run([sys.executable, "-c", code, str(bomb), str(tmp_path / "spool")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    width, height, side, seconds, peak_mb = done.stdout.split()
    from schemas.options import IngestOptions

    kept = round(IngestOptions().max_page_pixels ** 0.5)  # a square page at the pixel cap
    assert (float(width), float(height), int(side)) == (9990.0, 9990.0, kept)  # boxes stay in full-size pixels
    # peak resident memory of that process (VmHWM: ru_maxrss would carry the forking pytest's over exec)
    assert int(peak_mb) < 700, peak_mb  # decoded once at 1 byte a pixel (95 MB), never as full-size RGB(A)


@pytest.mark.slow
def test_image_and_pdf_bombs_fail_alone_under_their_caps(tmp_path, prefect_harness):
    inbox = inbox_with_good(tmp_path)
    palette_png_bomb(inbox / "bomb.png")
    pdf_stream_bomb(inbox / "bomb.pdf", 300)
    out = tmp_path / "out"
    r = run_cli([str(inbox), "--ocr", "off", "--max-image-mb", "50", "--max-page-memory-mb", "1024"], tmp_path, out)
    assert r.exit_code == 1, r.output
    good_document_complete(out)
    errors = pd.read_parquet(out / "tables" / "errors").set_index("path")
    png, pdf = errors.loc[str(inbox / "bomb.png")], errors.loc[str(inbox / "bomb.pdf")]
    assert png["kind"] == "limit_memory" and "--max-image-mb 50" in png["message"]
    assert pdf["kind"] == "limit_memory" and "--max-page-memory-mb 1024" in pdf["message"]
    docs = pd.read_parquet(out / "tables" / "documents").set_index("name")
    assert docs.loc["bomb.png", "status"] == "failed" and docs.loc["bomb.pdf", "status"] == "failed"


# ---------------------------------------------------------------- video
def test_zero_duration_frames_get_a_warning_not_silently_invented_times(tmp_path, spool):
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    path = zero_duration_video(tmp_path / "zero.mp4")
    res = ingest_document(discover([path]).documents[0], IngestOptions(ocr="off"), spool)
    (warning,) = [e for e in res.errors if e.kind == "unreliable_timestamps"]
    assert warning.severity == "warning" and "cited seconds may be off" in warning.message
    assert len(res.units) >= 2 and not any(u.exact for u in res.units[1:])  # times after the first are derived
    assert res.status == "ok"  # a warning, the frames are still read


def test_video_ocr_runs_only_when_the_picture_changes(tmp_path, spool):
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    path = slide_video(tmp_path / "talk.avi", ["Revenue 2024", "Costs 2025"], seconds_each=3)
    res = ingest_document(discover([path]).documents[0], IngestOptions(), spool)
    assert [u.t_seconds for u in res.units] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [u.ocr_reused for u in res.units] == [False, True, True, False, True, True]
    texts = [" ".join(w.text for w in u.words) for u in res.units]
    assert texts[0] == texts[1] == texts[2] and "Revenue" in texts[0] and "Costs" in texts[3] == texts[5]


@pytest.mark.slow
def test_a_long_video_is_flagged_at_discovery_and_ocr_skips_are_counted(tmp_path, prefect_harness):
    inbox = inbox_with_good(tmp_path)
    slide_video(inbox / "talk.avi", ["Revenue 2024", "Costs 2025"], seconds_each=3)
    out = tmp_path / "out"
    r = run_cli([str(inbox), "--max-video-seconds", "4"], tmp_path, out)
    assert r.exit_code == 0, r.output
    good_document_complete(out)
    errors = pd.read_parquet(out / "tables" / "errors")
    (row,) = errors[errors["stage"] == "discover"].itertuples()
    assert row.kind == "limit_duration" and row.severity == "warning" and "--max-video-seconds" in row.message
    docs = pd.read_parquet(out / "tables" / "documents").set_index("name")
    assert docs.loc["talk.avi", "frames"] == 5 and docs.loc["talk.avi", "frames_ocr_reused"] == 3  # 0..4 s; OCR at 0 and 3 s
    assert pd.read_parquet(out / "tables" / "runs")["warnings"].iloc[0] == 1


# ---------------------------------------------------------------- collections, control tokens
def test_documents_with_the_same_name_keep_their_own_citations(tmp_path):
    import pymupdf

    from tests.doubles import ScriptedBackend
    from pipeline.discover import discover
    from pipeline.extract import Extractor
    from pipeline.keys import work_key
    from pipeline.prepare import prepare_chunk
    from schemas.catalog import load_schema
    from schemas.options import RunOptions

    for folder, number in (("north", "AAA-111"), ("south", "BBB-222")):
        (tmp_path / folder).mkdir()
        pdf = pymupdf.open()
        pdf.new_page().insert_text((72, 72), f"Invoice number {number} totals {number[-3:]} EUR payable now")
        pdf.save(tmp_path / folder / "invoice.pdf")
    options = RunOptions(ocr="off", collection=True)
    schema, backend = load_schema("invoice"), ScriptedBackend()
    prepared = prepare_chunk(discover([tmp_path]).documents, options.ingest, tmp_path)
    keys = {p.doc.doc_id: work_key(p.doc.doc_id, schema, backend.model_id, options) for p in prepared}
    extractor = Extractor(backend, options.plan, schema)
    (request,) = extractor.planner.plan_collection(prepared)
    assert sorted(request.doc_labels) == ["north/invoice.pdf", "south/invoice.pdf"]
    results = extractor.run(prepared, keys)
    for result in results:  # each document has citations, and each is found on that document's own page
        cites = [c for e in result.extractions for c in e.citations]
        assert cites and all(c.match != "unverified" for c in cites), [(c.quote, c.match) for c in cites]


def test_every_control_token_of_the_loaded_tokenizer_is_defused(tiny_backend, tmp_path):
    from pipeline.prompt import control_pattern, sanitize
    from transformers import AutoTokenizer

    tokens = tiny_backend.control_tokens()
    assert {"<|turn>", "<turn|>", "<|image|>", "<|channel>", "<bos>", '<|"|>'} <= set(tokens)
    text = "page text " + " ".join(tokens) + " end"
    clean = sanitize(text, control_pattern(tokens))
    tok = tiny_backend.tokenizer
    special = set(tok.all_special_ids) | set(tok.get_added_vocab().values())
    assert not special & set(tok(clean, add_special_tokens=False)["input_ids"])
    assert special & set(tok(text, add_special_tokens=False)["input_ids"])  # the test would see a leak
    # a tokenizer with tokens of other shapes (fine-tunes add their own): its list is what counts
    custom = AutoTokenizer.from_pretrained(tiny_backend.tokenizer.name_or_path)
    custom.add_tokens(["<unused7>", "[PAGE_BREAK]"], special_tokens=True)
    evil = "a <unused7> b [PAGE_BREAK] c"
    ids = set(custom(sanitize(evil, control_pattern(list(custom.get_added_vocab()))), add_special_tokens=False)["input_ids"])
    assert not ids & set(custom.get_added_vocab().values())
    assert set(custom(sanitize(evil), add_special_tokens=False)["input_ids"]) & set(custom.get_added_vocab().values())


# ---------------------------------------------------------------- a full disk
@pytest.fixture()
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_a_full_disk_gives_one_clear_line_and_keeps_earlier_outputs(tmp_path, small_disk, prefect_harness):
    inbox = inbox_with_good(tmp_path)
    out = small_disk / "out"
    r = run_cli([str(inbox), "--ocr", "off"], tmp_path, out)
    assert r.exit_code == 0, r.output
    before = {t: pd.read_parquet(out / "tables" / t) for t in ("documents", "extractions", "citations")}
    shutil.copy(SAMPLES / "scanned_receipt.png", inbox / "new.png")
    _fill(small_disk)
    r = run_cli([str(inbox), "--ocr", "off"], tmp_path, out)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "disk holding" in " ".join(r.output.split()) and "earlier outputs are intact" in " ".join(r.output.split())
    for name, table in before.items():
        pd.testing.assert_frame_equal(pd.read_parquet(out / "tables" / name), table)
    left = [p for p in out.rglob("*") if p.name.endswith(".tmp") or ".spool" in p.parts and p.is_file()]
    assert not left, left
    os.unlink(small_disk / "filler")  # space again: the next run finishes the new document
    r = run_cli([str(inbox), "--ocr", "off"], tmp_path, out)
    assert r.exit_code == 0, r.output
    assert set(pd.read_parquet(out / "tables" / "documents")["name"]) == {GOOD.name, "new.png"}


@pytest.mark.slow
def test_documents_a_pdf_carries_are_read_as_documents_of_their_own(tmp_path, prefect_harness):
    """A cover letter carrying the invoice (and an e-invoice's XML): the invoice is unpacked into the
    output folder and read like any input, its rows naming the letter that carries it; a re-run skips
    both; --no-attachments reads the letter alone and names the invoice in a warning."""
    import pymupdf

    inbox = tmp_path / "in"
    inbox.mkdir()
    letter = pymupdf.open()
    letter.new_page().insert_text((72, 72), "Cover letter: please find our invoice attached.")
    letter.embfile_add("invoice.pdf", GOOD.read_bytes(), filename="invoice.pdf")
    letter.embfile_add("factur-x.xml", b"<Invoice/>", filename="factur-x.xml")
    letter.save(inbox / "letter.pdf")
    out = tmp_path / "out"
    for _ in range(2):
        r = run_cli([str(inbox), "--ocr", "off"], tmp_path, out)
        assert r.exit_code == 0, r.output
    good_document_complete(out, "letter.pdf/invoice.pdf")
    docs = pd.read_parquet(out / "tables" / "documents").set_index("name")
    assert set(docs.index) == {"letter.pdf", "letter.pdf/invoice.pdf"}
    carried = docs.loc["letter.pdf/invoice.pdf"]
    assert carried["attached_to"] == str(inbox / "letter.pdf") and pd.isna(docs.loc["letter.pdf", "attached_to"])
    assert Path(carried["path"]).parent.parent == out / "attachments"
    assert json.loads((out / "json" / f"{carried['doc_id']}.json").read_text())["attached_to"] == str(inbox / "letter.pdf")
    runs = pd.read_parquet(out / "tables" / "runs").sort_values("started_at")
    assert list(runs["skipped"]) == [0, 2]
    errors = pd.read_parquet(out / "tables" / "errors")
    assert "attachments" not in set(errors["kind"])

    alone = tmp_path / "alone"
    r = run_cli([str(inbox), "--ocr", "off", "--no-attachments"], tmp_path, alone)
    assert r.exit_code == 0, r.output
    assert list(pd.read_parquet(alone / "tables" / "documents")["name"]) == ["letter.pdf"]
    (message,) = pd.read_parquet(alone / "tables" / "errors").query("kind == 'attachments'")["message"]
    assert "'invoice.pdf'" in message and not (alone / "attachments").exists()
