"""The model stage's downstream (plan -> generate -> parse -> ground -> merge) with the scripted
backend: windows of a long document, collections of documents, failures."""

import pymupdf
import pytest

from tests.doubles import ScriptedBackend
from pipeline.discover import discover
from pipeline.extract import Extractor
from pipeline.keys import work_key
from pipeline.prepare import prepare_chunk
from schemas.catalog import load_schema
from schemas.options import RunOptions
from tests.conftest import SAMPLES


@pytest.fixture()
def long_pdf(tmp_path):
    doc = pymupdf.open()
    for i in range(12):
        p = doc.new_page()
        p.insert_text((72, 72), f"Section {i + 1} states that invoice number INV-{i:03d} totals {i * 10} EUR")
    doc.save(tmp_path / "long.pdf")
    return tmp_path / "long.pdf"


def run(paths, options, schema="invoice", backend=None):
    backend = backend or ScriptedBackend()
    found = discover(paths)
    s = load_schema(schema)
    prepared = prepare_chunk(found.documents, options.ingest, options_spool(options))
    keys = {p.doc.doc_id: work_key(p.doc.doc_id, s, backend.model_id, options) for p in prepared}
    ex = Extractor(backend, options.plan, s, options.grounding)
    return ex.run(prepared, keys), ex


def options_spool(options):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def test_long_document_windows_are_merged_with_grounded_citations(long_pdf):
    opts = RunOptions(ocr="off", max_context=1024, max_new_tokens=400, window_overlap=1, image_tokens_min=70,
                      image_tokens_max=70)
    (result,), ex = run([long_pdf], opts)
    assert ex.stats.requests > 2 and result.requests == ex.stats.requests
    assert result.status == "ok"
    fields = [e.field for e in result.extractions]
    assert len(fields) == len(set(fields))  # one row per field after the merge
    for e in result.extractions:
        for c in e.citations:
            assert c.match in ("exact", "normalised", "fuzzy", "relocated") and 1 <= c.page <= 12
    assert result.answer["invoice_number"] is not None


def test_windows_merged_past_a_schema_limit_keep_every_value_and_say_why(long_pdf):
    """Each window's answer fits the schema (key_facts: at most 6 parties); their union may not. Every
    value is kept, and the warning names the limit and the windows instead of a wall of values."""
    opts = RunOptions(ocr="off", max_context=1024, max_new_tokens=400, window_overlap=1, image_tokens_min=70,
                      image_tokens_max=70)
    (result,), ex = run([long_pdf], opts, schema="key_facts")
    assert result.status == "ok" and ex.stats.requests > 3
    parties = result.answer["parties"]
    assert len(parties) > 6
    (warning,) = [e for e in result.errors if e.kind == "schema_violation"]
    assert warning.severity == "warning" and warning.message == (
        f"answer does not satisfy the schema: $.parties: a list of {len(parties)} items is too long (the schema allows "
        f"at most 6 items); merged from {ex.stats.requests} windows of the document, every window's values kept")


def test_collection_request_attributes_citations_to_each_document(tmp_path):
    for name, text in (("a.pdf", "Alpha contract between Acme and Beta"), ("b.pdf", "Bravo contract between Gamma and Delta")):
        doc = pymupdf.open()
        doc.new_page().insert_text((72, 72), text)
        doc.save(tmp_path / name)
    results, ex = run([tmp_path], RunOptions(ocr="off", collection=True), schema="contract_clauses")
    assert ex.stats.requests == 1 and len(results) == 2
    for r in results:
        assert r.status == "ok"
        for e in r.extractions:
            assert all(c.doc_id == r.doc_id for c in e.citations)


def test_generation_failure_becomes_error_rows_and_others_complete(tmp_path):
    backend = ScriptedBackend(fail_on="Document: scanned_receipt.png")
    results, _ = run([SAMPLES], RunOptions(ocr="off", batch_tokens=1024), backend=backend)
    by_name = {r.name: r for r in results}
    assert by_name["scanned_receipt.png"].status == "failed"
    assert by_name["scanned_receipt.png"].errors[-1].kind == "generation_failed"
    assert by_name["contract_and_invoice.pdf"].status == "ok"


def test_generation_time_limit_becomes_error_rows_and_others_complete():
    backend = ScriptedBackend(delay_s=0.5)
    one_budget = dict(image_tokens_min=280, image_tokens_max=280)  # so the three requests share a batch
    results, ex = run([SAMPLES], RunOptions(ocr="off", generate_timeout_s=0.75, **one_budget), backend=backend)
    timed_out = [r for r in results if r.status == "failed"]
    assert ex.stats.requests == backend.calls == 3  # one batch; rows cut by time are not retried
    assert len(timed_out) == 2 and len([r for r in results if r.status == "ok"]) == 1
    for r in timed_out:
        assert r.errors[-1].kind == "generation_timeout" and "--generate-timeout" in r.errors[-1].message
        assert not r.errors[-1].permanent


def test_a_failed_retry_of_a_truncated_answer_is_an_error_row():
    class Truncating(ScriptedBackend):
        def generate(self, requests, max_seconds=None):
            if any(r.max_new_tokens > 1024 for r in requests):
                raise RuntimeError("device lost during the retry")
            return [g.model_copy(update={"finish_reason": "length"}) for g in super().generate(requests, max_seconds)]

    (result,), _ = run([SAMPLES / "contract_and_invoice.pdf"], RunOptions(ocr="off"), backend=Truncating())
    assert result.status == "failed" and result.errors[-1].kind == "truncated_output"


def test_context_overflow_is_an_error_not_a_crash(tmp_path):
    opts = RunOptions(ocr="off", max_context=1024, max_new_tokens=900, image_tokens_min=1120, image_tokens_max=1120)
    results, _ = run([SAMPLES / "contract_and_invoice.pdf"], opts)
    assert results[0].status == "failed"
    assert {e.kind for e in results[0].errors} == {"context_overflow"}


def test_scripted_answers_feed_exact_malformed_truncated_and_wrong_outputs(tmp_path):
    from tests.doubles import Scripted

    pdf = SAMPLES / "contract_and_invoice.pdf"
    good = ('{"invoice_number": {"value": "INV-2026-0342", "citations": [{"page": 3, "quote": "Invoice number: '
            'INV-2026-0342"}]}}')
    cases = {
        "malformed": (["{not json"], "failed"),
        "truncated then whole": ([Scripted(good[:40], "length"), good], "ok"),
        "wrong page, right quote": ([good.replace('"page": 3', '"page": 1')], "ok"),
        "a value the page does not hold": ([good.replace('"value": "INV-2026-0342"', '"value": "INV-2026-9999"')], "ok"),
    }
    got = {}
    for name, (answers, status) in cases.items():
        backend = ScriptedBackend(answers=answers)
        (result,), _ = run([pdf], RunOptions(ocr="off"), schema="invoice", backend=backend)
        assert result.status == status, (name, result.errors)
        assert not backend.answers  # every scripted answer was asked for
        got[name] = result
    assert {e.kind for e in got["malformed"].errors} & {"malformed_output", "parse_failed", "invalid_json"}
    (ex,) = [e for e in got["truncated then whole"].extractions if e.field == "invoice_number"]
    assert ex.value == "INV-2026-0342" and ex.verified
    (ex,) = [e for e in got["wrong page, right quote"].extractions if e.field == "invoice_number"]
    assert ex.citations[0].match == "relocated" and ex.citations[0].page == 3 and ex.citations[0].claimed_page == 1
    (ex,) = [e for e in got["a value the page does not hold"].extractions if e.field == "invoice_number"]
    assert not ex.verified and ex.citations[0].value_supported is False


def test_a_value_quoted_across_a_page_break_has_a_verified_citation_on_each_page(tmp_path):
    from pipeline.outputs import rows_for
    from tests.conftest import contract_across_a_page_break

    contract_across_a_page_break(tmp_path, tmp_path)  # writes contract.pdf
    answer = ('{"total": {"value": "4500.00", "citations": [{"page": 2, "quote": '
              '"a monthly fee of EUR 4,500.00 invoiced on the first business day of each month"}]}}')
    (result,), _ = run([tmp_path / "contract.pdf"], RunOptions(ocr="off"), backend=ScriptedBackend(answers=[answer]))
    (total,) = [e for e in result.extractions if e.field == "total"]
    assert total.verified and [(c.page, c.match, c.value_supported) for c in total.citations] == [
        (1, "exact", True), (2, "exact", True)]
    rows = rows_for([result], "run")["citations"]
    assert sorted(r["page"] for r in rows if r["field"] == "total") == [1, 2]


def test_an_answer_with_half_an_emoji_is_stored_with_a_replacement_character():
    """A length-bounded string can end between the two halves of a JSON-escaped emoji: the lone half
    becomes U+FFFD, so the JSON file and every Parquet row can be written (UTF-8 cannot hold it)."""
    import pyarrow as pa

    from pipeline.outputs import SCHEMAS, document_json, rows_for

    answer = ('{"invoice_number": {"value": "INV-2026-0342 \\ud83d", "citations": [{"page": 3, "quote": '
              '"Invoice number: INV-2026-0342"}]}, "seller": {"value": "Contoso \\ud83d\\ude00", "citations": []}}')
    (result,), _ = run([SAMPLES / "contract_and_invoice.pdf"], RunOptions(ocr="off"), backend=ScriptedBackend(answers=[answer]))
    values = {e.field: e.value for e in result.extractions}
    assert values["invoice_number"] == "INV-2026-0342 \ufffd" and values["seller"] == "Contoso \U0001f600"
    assert "\ufffd" in document_json(result, "run").decode()
    for name, rows in rows_for([result], "run").items():
        pa.Table.from_pylist(rows, schema=SCHEMAS[name])


def test_windows_of_a_long_dense_document_keep_the_budget_their_pages_ask_for(tmp_path):
    """A document too long for one request is cut into windows sized at the densest page's budget, not
    packed at the floor (70) for every page."""
    from pipeline.legibility import unit_budget
    from schemas.records import ImageSegment

    doc = pymupdf.open()
    for i in range(40):
        p = doc.new_page()
        for line in range(60):
            p.insert_text((40, 30 + 12.5 * line), f"Clause {i}.{line}: the supplier delivers within {line} days of each order.",
                          fontsize=9)
    doc.save(tmp_path / "dense.pdf")
    opts = RunOptions(ocr="off", max_context=3000, max_new_tokens=400, image_tokens_min=70, image_tokens_max=560,
                      include_text_layer=False)
    backend = ScriptedBackend()
    (result,), ex = run([tmp_path / "dense.pdf"], opts, backend=backend)
    requests = backend.requests
    assert len(requests) > 1 and result.status == "ok"
    budgets = {s.budget for r in requests for s in r.segments if isinstance(s, ImageSegment)}
    prepared = prepare_chunk(discover([tmp_path / "dense.pdf"]).documents, opts.ingest, tmp_path / "spool")
    wanted = {unit_budget(u, opts.plan.budgets()) for u in prepared[0].units}
    assert min(budgets) >= min(wanted) > 70, (budgets, wanted)
    pages = {label for r in requests for label in r.unit_labels}
    assert len(pages) == 40  # every page in some window
