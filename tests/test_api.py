"""The stable Python API (`import gemmadoc`) and `gemmadoc verify`, exercised through the public surface
only, on real files: born-digital, scanned and video."""

import inspect
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import gemmadoc
from tests.conftest import CORPUS, ROOT, SAMPLES, needs_corpus

PUBLIC = {
    "open_document": "(path: 'str | Path', *, ocr: 'str' = 'auto', password: 'str | None' = None, "
                     "cache_dir: 'str | Path | None' = None, cache_max_mb: 'float' = 2048.0) -> 'Document'",
    "verify": "(doc_or_path: 'Document | str | Path', citations: 'Iterable[Mapping[str, Any] | CitationInput]', *, "
              "ocr: 'str' = 'auto', password: 'str | None' = None, cache_dir: 'str | Path | None' = None) "
              "-> 'list[VerifiedCitation]'",
    "run": "(inputs: 'str | Path | Iterable[str | Path]', out: 'str | Path', **options: 'Any') -> 'RunRecord'",
}
RECORD_FIELDS = {
    "Document": ["doc_id", "path", "name", "media_type", "units", "errors"],
    "CitationInput": ["quote", "page", "t", "value", "field"],
    "VerifiedCitation": ["index", "quote", "field", "value", "claimed_page", "claimed_t_seconds", "match", "score", "page",
                         "t_seconds", "boxes", "boxes_norm", "value_supported", "verified", "reason", "continued"],
}


def test_public_names_and_signatures_are_pinned():
    """Changing the stable surface must be deliberate: update this test and the README together."""
    assert sorted(gemmadoc.__all__) == sorted(["CitationInput", "Document", "DocumentError", "RunRecord",
                                               "VerifiedCitation", "open_document", "run", "verify"])
    for name, sig in PUBLIC.items():
        assert str(inspect.signature(getattr(gemmadoc, name))) == sig, name
    for name, fields in RECORD_FIELDS.items():
        assert list(getattr(gemmadoc, name).model_fields)[:len(fields)] == fields, name


def test_import_is_light():
    code = "import sys, gemmadoc; print(sorted(m for m in ('torch', 'transformers', 'prefect', 'pymupdf') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture()
def counted(monkeypatch):
    """Counts real ingests behind the public API."""
    import pipeline.documents as documents

    calls = []
    real = documents.ingest_document

    def counting(*args, **kwargs):
        calls.append(args[0].path)
        return real(*args, **kwargs)

    monkeypatch.setattr(documents, "ingest_document", counting)
    return calls


def test_born_digital_document_verified_with_boxes_and_values(tmp_path, counted):
    doc = gemmadoc.open_document(SAMPLES / "contract_and_invoice.pdf", cache_dir=tmp_path)
    assert doc.media_type == "pdf" and len(doc.pages) == 3 and doc.pages[2].words
    right, wrong_digit, wrong_value = gemmadoc.verify(doc, [
        {"quote": "Total due: EUR 6,783.00", "page": 3, "value": 6783.0},
        {"quote": "Total due: EUR 6,738.00", "page": 3},
        gemmadoc.CitationInput(quote="Total due: EUR 6,783.00", page=3, value="6,738.00"),
    ])
    assert right.match == "exact" and right.verified and right.value_supported is True and right.page == 3
    assert right.boxes and 0 < right.boxes_norm[0].x0 < right.boxes_norm[0].x1 <= 1
    assert wrong_digit.match == "unverified" and not wrong_digit.verified and wrong_digit.reason.startswith("digits_differ")
    assert wrong_value.match == "exact" and wrong_value.value_supported is False and not wrong_value.verified
    assert counted == [str(SAMPLES / "contract_and_invoice.pdf")]


def test_thousand_citations_ingest_the_document_once(tmp_path, counted):
    doc = gemmadoc.open_document(SAMPLES / "contract_and_invoice.pdf", cache_dir=tmp_path)
    spans = [" ".join(w.text for w in u.words[k:k + 3]) for u in doc.pages for k in range(len(u.words) - 3)]
    cites = [{"quote": spans[k % len(spans)]} for k in range(1000)]  # no page given: the verifier finds it
    verdicts = gemmadoc.verify(SAMPLES / "contract_and_invoice.pdf", cites, cache_dir=tmp_path)
    assert len(verdicts) == 1000 and [v.index for v in verdicts] == list(range(1000))
    assert all(v.match != "unverified" and v.boxes for v in verdicts)
    gemmadoc.open_document(SAMPLES / "contract_and_invoice.pdf", cache_dir=tmp_path)
    assert len(counted) == 1  # later opens come from the cache, on disk or in memory


def test_scanned_image_and_video_are_verified_on_ocr_words(tmp_path):
    scan = gemmadoc.open_document(SAMPLES / "scanned_receipt.png", cache_dir=tmp_path)
    page = scan.pages[0]
    assert page.text_source == "ocr" and len(page.words) > 5
    quote = " ".join(w.text for w in page.words[2:5])
    [v] = gemmadoc.verify(scan, [{"quote": quote, "page": 1}])
    assert v.match in ("exact", "normalised") and v.boxes and v.page == 1
    video = gemmadoc.open_document(SAMPLES / "slides.mp4", cache_dir=tmp_path)
    frame = next(f for f in video.frames if len(f.words) >= 3)
    stamp = f"{int(frame.t_seconds) // 60:02d}:{int(frame.t_seconds) % 60:02d}"
    [v] = gemmadoc.verify(video, [{"quote": " ".join(w.text for w in frame.words[:3]), "t": stamp}])
    assert v.match in ("exact", "normalised") and v.t_seconds == frame.t_seconds and v.boxes


def test_malformed_citations_get_reasons_not_exceptions(tmp_path):
    doc = gemmadoc.open_document(SAMPLES / "contract_and_invoice.pdf", cache_dir=tmp_path)
    verdicts = gemmadoc.verify(doc, [{"page": 2}, "just a string", {"quote": "x", "page": 0}, {"quote": "x", "t": "ab:cd"},
                                     {"quote": ""}, {"quote": "\x00\x01"}, {"quote": "monthly fee", "page": 99}])
    assert [v.index for v in verdicts] == list(range(7))
    assert all(v.reason for v in verdicts[:6]) and not any(v.verified for v in verdicts[:6])
    assert verdicts[0].reason.startswith("invalid citation: quote")
    assert verdicts[6].match == "relocated" and verdicts[6].claimed_page == 99


def test_unopenable_files_raise_document_error(tmp_path):
    (tmp_path / "notes.txt").write_text("plain text")
    for path in (tmp_path / "missing.pdf", tmp_path / "notes.txt"):
        with pytest.raises(gemmadoc.DocumentError):
            gemmadoc.open_document(path, cache_dir=tmp_path / "cache")


def test_cache_stays_under_its_limit(tmp_path):
    cache = tmp_path / "cache"
    gemmadoc.open_document(SAMPLES / "contract_and_invoice.pdf", cache_dir=cache, cache_max_mb=0.001)
    gemmadoc.open_document(SAMPLES / "scanned_receipt.png", cache_dir=cache, cache_max_mb=0.001)
    assert len(list((cache / "documents").iterdir())) <= 1  # the older entry was evicted


def test_verify_gives_the_next_page_of_a_quote_across_a_page_break(tmp_path):
    from tests.conftest import contract_across_a_page_break

    contract_across_a_page_break(tmp_path, tmp_path)
    doc = gemmadoc.open_document(tmp_path / "contract.pdf", cache_dir=tmp_path / "cache")
    (v,) = gemmadoc.verify(doc, [{"quote": "invoiced on the first business day of each month", "page": 1}])
    assert v.verified and v.page == 1 and v.boxes and "runs on to page 2" in v.reason
    (part,) = v.continued
    assert part.page == 2 and part.boxes and part.boxes_norm[0].y1 < 0.2


@needs_corpus()
def test_cli_verify_with_langextract_and_field_inputs(tmp_path):
    from flows.cli import app

    text = "Blz: 507 500 94 IBAN DE30507500940000048567"
    lines = [
        json.dumps({"quote": "IBAN DE30507500940000048567", "page": 1, "value": "DE30507500940000048567"}),
        json.dumps({"extractions": [{"extraction_class": "iban", "extraction_text": "DE30507500940000048567",
                                     "char_interval": {"start_pos": 21, "end_pos": 43}}], "text": text, "document_id": "d1"}),
        "{broken",
        json.dumps({"bank": {"blz": {"value": "507 500 94", "quote": "Blz: 507 500 94", "page": 5}}}),
        '{"quote": "IBAN DE30507500940000048567 \\ud83d", "page": 1}',  # half an emoji, as a cut string ends
    ]
    src = tmp_path / "cites.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "verdicts.jsonl"
    res = CliRunner().invoke(app, ["verify", str(CORPUS / "docs" / "invoice2data_QualityHosting.pdf"), "-c", str(src),
                                   "-o", str(out)], env={"GEMMADOC_CACHE": str(tmp_path / "cache")})
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[4]["quote"].endswith("\ufffd") and rows[4]["page"] == 1
    assert rows[0]["verified"] and rows[0]["match"] == "exact"
    assert rows[1]["field"] == "iban" and rows[1]["verified"] and rows[1]["page"] == 1 and rows[1]["boxes"]  # page found for it
    assert "error" in rows[2] and "not JSON" in rows[2]["error"]
    assert rows[3]["field"] == "bank.blz" and rows[3]["match"] == "relocated" and rows[3]["page"] == 1


@pytest.mark.slow
def test_run_from_python(tmp_path, prefect_harness):
    record = gemmadoc.run(SAMPLES, tmp_path / "out", model="scripted:", ocr="off")
    assert isinstance(record, gemmadoc.RunRecord) and record.documents == 3 and record.failed == 0
    assert (tmp_path / "out" / "tables" / "extractions").is_dir()
    with pytest.raises(ValueError):
        gemmadoc.run(SAMPLES, tmp_path / "out2", image_tokens_min=71)
