"""`gemmadoc eval`: an output folder written by the real writers from scripted answers (known-right and
known-wrong values with known citations), scored against gold; every metric checked by hand."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evaluate.compare import compare
from evaluate.gold import GoldDoc, GoldError, from_invoice2data, from_sroie, load_gold
from evaluate.score import evaluate
from pipeline.discover import file_sha256
from pipeline.outputs import TableWriter, rows_for, write_document_json
from schemas.records import Box, Citation, DocumentResult, Extraction
from tests.conftest import CORPUS, SAMPLES, needs_corpus

PDF = SAMPLES / "contract_and_invoice.pdf"
PNG = SAMPLES / "scanned_receipt.png"


def cite(field_value, page, verified=True, box=(72.0, 361.0, 204.0, 378.0)):
    c = Citation(doc_id="x", page=page, quote=str(field_value), match="exact" if verified else "unverified",
                 score=1.0 if verified else 0.0, boxes=[Box(x0=box[0], y0=box[1], x1=box[2], y1=box[3])] if verified else [])
    return c


def scripted_output(tmp_path, answers: dict) -> "Path":
    """An output folder from scripted answers: {path: (schema, {leaf path: (value, verified, page)})}."""
    out = tmp_path / "out"
    results = []
    for path, (schema, leaves) in answers.items():
        doc_id = file_sha256(path)
        exs = [Extraction(doc_id=doc_id, field=f, value=v, citations=[cite(v, page, ok).model_copy(update={"doc_id": doc_id})])
               for f, (v, ok, page) in leaves.items()]
        answer: dict = {}
        for f, (v, _, _) in leaves.items():
            if "[" in f:
                key, rest = f.split("[", 1)
                idx, sub = int(rest.split("]")[0]), rest.split("].", 1)[1]
                items = answer.setdefault(key, [])
                while len(items) <= idx:
                    items.append({})
                items[idx][sub] = v
            else:
                answer[f] = v
        results.append(DocumentResult(doc_id=doc_id, path=str(path), name=path.name, media_type="pdf", status="ok",
                                      work_key=doc_id[:32], schema_name=schema, model_id="scripted", pages=3,
                                      answer=answer, extractions=exs))
    writer = TableWriter(out, "run1")
    writer.append(rows_for(results, "run1"))
    writer.ensure_tables()
    for r in results:
        write_document_json(out, r, "run1")
    return out


ANSWERS = {
    PDF: ("invoice", {
        "invoice_number": ("INV-2026-0324", True, 3),  # right, verified
        "total": (6738.0, True, 3),  # wrong, verified
        "seller": ("Northwind Analytics", False, 1),  # right, unverified
        "issue_date": ("03/03/2026", True, 1),  # right as a date
        "subtotal": ("6,783.00", True, 3),  # right as a number
        "due_date": ("2026-04-01", True, 3),  # gold says null: wrong
        "line_items[0].description": ("Support", True, 3), "line_items[0].amount": (1283.0, True, 3),
        "line_items[1].description": ("Consulting", True, 3), "line_items[1].amount": (5500.0, True, 3),
        "line_items[2].description": ("Travel", True, 3), "line_items[2].amount": (10.0, True, 3),  # not in gold
    }),
    PNG: ("invoice", {"invoice_number": ("R-1", True, 1)}),  # in the output, not in gold
}


@pytest.fixture()
def scored(tmp_path):
    out = scripted_output(tmp_path, ANSWERS)
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(x) for x in [
        {"path": str(PDF), "fields": {
            "invoice_number": "INV-2026-0324", "total": 6783.0, "seller": "Northwind Analytics",
            "issue_date": "2026-03-03", "subtotal": 6783.0, "due_date": None, "tax": None, "po_number": "PO-9",
            "line_items": [{"description": "Consulting", "amount": 5500.0}, {"description": "Support", "amount": 1283.0}]},
         "evidence": {"total": {"page": 3, "box": [72.0, 361.0, 204.0, 378.0]}, "seller": {"page": 1}}},
        {"doc_id": "0" * 64, "fields": {"total": 1.0}},
    ]) + "\n")
    return out, gold, evaluate(out, load_gold(gold))


def test_each_metric_as_computed_by_hand(scored):
    _, _, res = scored
    acc = res.accuracy_by_field()
    assert acc["invoice_number"] == (1, 1) and acc["total"] == (0, 2) and acc["seller"] == (1, 1)
    assert acc["issue_date"] == (1, 1) and acc["subtotal"] == (1, 1)
    assert acc["due_date"] == (0, 1) and acc["tax"] == (1, 1)  # gold null: a predicted value is wrong, none is right
    assert acc["line_items[].description"] == (2, 2) and acc["line_items[].amount"] == (2, 2)  # matched out of order
    assert res.list_scores() == {"line_items[]": (2, 2, 3)}  # precision 2/3, recall 2/2
    spurious = [r for r in res.fields if r["status"] == "spurious"]
    assert [r["pred_path"] for r in spurious] == ["line_items[2]"]  # the extra item lowers precision only
    # wrong on document 1, missing on document 2 (gold for a document the output lacks counts as missing)
    assert [r["status"] for r in res.fields if r["field"] == "total"] == ["wrong", "missing"]
    # calibration over predicted values: verified = invoice_number, total, issue_date, subtotal, due_date, 4 item leaves
    wrong, right, nv, nu = res.calibration()
    assert (nv, nu) == (9, 1) and wrong == pytest.approx(2 / 9) and right == 1.0
    total = next(r for r in res.fields if r["path"] == "total")
    assert total["page_ok"] is True and total["box_iou"] == pytest.approx(1.0)
    seller = next(r for r in res.fields if r["path"] == "seller")
    assert seller["page_ok"] is False and seller["box_iou"] is None  # its only citation is unverified
    doc = next(d for d in res.documents if d["gold_line"] == 1)
    # 7 scalar fields (po_number is not in the schema) + 2 items x 2 leaves = 11; wrong: total, due_date
    assert (doc["labelled"], doc["correct"], doc["verified_wrong"], doc["unverified_right"]) == (11, 9, 2, 1)


def test_missing_documents_and_unknown_fields_are_listed(scored):
    _, _, res = scored
    assert res.missing_in_out == ["0" * 64]
    assert res.not_in_gold == [str(PNG)]
    assert [x.rsplit(": ", 1)[1] for x in res.not_in_schema] == ["po_number"]  # the missing document's total is known
    missing = next(d for d in res.documents if d["gold_line"] == 2)
    assert missing["in_output"] is False and missing["correct"] == 0


def test_value_comparison_by_type():
    assert compare(6783.0, "EUR 6,783.00", "number").correct
    assert compare(6783.0, "6.783,00", "number").correct
    assert not compare(6783.0, 6738.0, "number").correct
    assert compare(12, 12.004, "integer").correct and not compare(12, 12.01, "integer").correct
    assert compare("2026-03-03", "3 March 2026").correct and compare("2026-03-03", "03/03/2026").correct
    assert not compare("2026-03-03", "2026-03-04").correct
    v = compare("Northwind Analytics GmbH", "northwind  analytics gmbh.")
    assert v.correct and v.how == "string"
    v = compare("Northwind Analytics", "Northwind Analytica")
    assert not v.correct and 0.9 < v.similarity < 1
    assert compare(None, None).correct and not compare(None, "x").correct and not compare("x", None).correct
    assert compare("12 Main Street, 69006 Lyon", "12 main street, 69006 lyon").how == "string"


def test_cli_writes_tables_report_and_compares_runs(scored, tmp_path):
    from flows.cli import app

    out, gold, _ = scored
    res = CliRunner().invoke(app, ["eval", str(out), "--gold", str(gold), "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "accuracy per field" in res.output and "verified values that are wrong: 0.222" in res.output
    assert "line_items[]: 2 items right of 2 in gold and 3 predicted: precision 0.667, recall 1.000" in " ".join(res.output.split())
    fields = pd.read_parquet(tmp_path / "rep" / "eval_fields.parquet")
    assert len(fields) == 14 and fields["correct"].sum() == 9  # 11 scored + po_number + a spurious item + document 2
    assert pd.read_parquet(tmp_path / "rep" / "eval_documents.parquet").shape[0] == 2
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert (tmp_path / "rep" / "accuracy.png").read_bytes()[:4] == b"\x89PNG"
    # a second run that fixes the total: the comparison names it
    answers = {PDF: (ANSWERS[PDF][0], {**ANSWERS[PDF][1], "total": (6783.0, True, 3)})}
    other = scripted_output(tmp_path / "b", answers)
    res = CliRunner().invoke(app, ["eval", str(out), str(other), "--gold", str(gold)])
    assert res.exit_code == 0, res.output
    assert "1 fields differ" in res.output and "total" in res.output


def test_malformed_gold_exits_2_with_the_line(scored, tmp_path):
    from flows.cli import app

    out, _, _ = scored
    bad = tmp_path / ("labels-" * 12) / "bad.jsonl"  # a path longer than a terminal line: never folded
    bad.parent.mkdir()
    bad.write_text(json.dumps({"path": str(PDF), "fields": {}}) + "\n{not json\n")
    res = CliRunner().invoke(app, ["eval", str(out), "--gold", str(bad)])
    assert res.exit_code == 2 and f"{bad}:2: not JSON" in res.output, res.output
    bad.write_text(json.dumps({"fields": {}}) + "\n")
    with pytest.raises(GoldError, match=":1: needs 'path' or 'doc_id'"):
        load_gold(bad)
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "nowhere"), "--gold", str(bad)])
    assert res.exit_code == 2


def test_own_output_as_gold_grades_itself_perfectly(scored):
    out, _, _ = scored
    res = evaluate(out, load_gold(out))
    scored_rows = [r for r in res.fields if r["status"] != "spurious"]
    assert scored_rows and all(r["correct"] for r in scored_rows)


@needs_corpus()
def test_public_label_converters():
    line = from_sroie(CORPUS / "groundtruth" / "sroie_005.key.json", CORPUS / "docs" / "sroie_005.jpg")
    assert line["fields"]["company"] == "ABC HO TRADING" and line["fields"]["total"] == "31.00"
    inv = from_invoice2data(CORPUS / "groundtruth" / "invoice2data_AzureInterior.json", CORPUS / "docs" / "invoice2data_AzureInterior.pdf")
    f = inv["fields"]
    assert f["invoice_number"] == "INV/2023/03/0008" and f["total"] == 279.84 and f["issue_date"] == "2023-03-20"
    assert "seller" not in f  # its label names the customer as the issuer
    assert [i["description"] for i in f["line_items"]] == ["Beeswax XL", "Office Chair", "Olive Oil", "Luxury Truffles"]


def test_shipped_gold_files_point_at_real_documents():
    from tests.conftest import ROOT

    samples = load_gold(ROOT / "data" / "gold" / "samples.jsonl")
    assert len(samples) == 3 and all(Path(g.path).is_file() for g in samples)
    if CORPUS.exists():
        for name in ("corpus_receipt.jsonl", "corpus_invoice.jsonl", "corpus_key_facts.jsonl"):
            gold = load_gold(ROOT / "data" / "gold" / name)
            assert gold and all(Path(g.path).is_file() and g.fields for g in gold), name


def test_a_dict_field_is_scored_entry_by_entry():
    """Gold and answers give a `dict[str, X]` field as an object; it is scored as key/value entries, paired
    by best match like list items, so a missing and an extra entry each count once."""
    from evaluate.score import EvalResult, _walk
    from schemas.shape import shape_of

    shape = shape_of({"type": "object", "properties": {"terms": {"type": "object", "additionalProperties": {"type": "string"}}}})
    gold = GoldDoc(line=1, fields={"terms": {"Payment": "30 days net", "Delivery": "FOB Rotterdam"}})
    rows: list[dict] = []
    _walk(gold.fields, {"terms": {"Delivery": "FOB Rotterdam", "Warranty": "1 year", "Payment": "30 days"}}, shape, "", "",
          rows, gold, None)
    res = EvalResult(rows, [], [], [], [])
    for r in rows:
        r["gold_line"] = 1
    assert res.list_scores() == {"terms[]": (1, 2, 3)}  # Delivery right; Payment's value wrong; Warranty spurious
    assert {r["field"] for r in rows} == {"terms[].key", "terms[].value", "terms[]"}


def test_answers_of_a_schema_given_by_file_ask_for_it_by_name(tmp_path):
    """An output made with a schema file or a pydantic model records its name only: eval asks for the
    schema with --schema instead of failing on an unknown built-in."""
    from schemas.catalog import SchemaError

    out = scripted_output(tmp_path, {PDF: ("team_invoice", {"invoice_number": ("INV-2026-0324", True, 3)})})
    gold = [GoldDoc(line=1, path=str(PDF), fields={"invoice_number": "INV-2026-0324"})]
    with pytest.raises(SchemaError, match="made with schema 'team_invoice': give it with --schema"):
        evaluate(out, gold)
    assert evaluate(out, gold, "invoice").accuracy_by_field()["invoice_number"] == (1, 1)
