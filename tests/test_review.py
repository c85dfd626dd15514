"""`gemmadoc review`: the static site built from a real run (samples, a corpus slice, a hostile
document, a broken file), checked in Debian's headless Chromium through Playwright."""

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import CORPUS, ROOT, SAMPLES, needs_corpus

runner = CliRunner()
pytestmark = [pytest.mark.slow, pytest.mark.browser]
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1> & <b>bold.pdf"  # no "/" in a file name
HOSTILE_TEXT = ["<script>window.__pwned=2</script> &amp; &lt;tag&gt; Total 12.50 EUR",
                "العربية من اليمين إلى اليسار 2024", "中文发票号码 12345 合计", "long " + "value " * 60]


def _hostile_pdf(path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()  # one hostile text a page: the scripted backend quotes each page's first words
    doc.new_page().insert_text((40, 60), HOSTILE_TEXT[0], fontsize=9)
    doc.new_page().insert_text((40, 60), HOSTILE_TEXT[1], fontsize=11, fontname="dejavu",
                               fontfile="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    page = doc.new_page()
    page.insert_text((40, 60), HOSTILE_TEXT[2], fontsize=11, fontname="china-s")
    page.insert_textbox(pymupdf.Rect(40, 80, 560, 400), HOSTILE_TEXT[3], fontsize=9)
    doc.save(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory, prefect_harness):
    """A run of the samples, two corpus PDFs, a hostile document and a broken file; then the site."""
    root = tmp_path_factory.mktemp("review")
    inbox = root / "in"
    shutil.copytree(SAMPLES, inbox)
    for name in ("docs/pdfjs_tracemonkey.pdf", "hostile/qpdf_empty_zero_pages.pdf"):
        if (CORPUS / name).exists():
            shutil.copy(CORPUS / name, inbox / Path(name).name)
    _hostile_pdf(inbox / HOSTILE_NAME)
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n% truncated")
    out = root / "out"
    r = runner.invoke(app, ["run", str(inbox), "--out", str(out), "--model", "scripted:", "--max-pages", "3", "--schema", "invoice"])
    assert r.exit_code in (0, 1), r.output
    r = runner.invoke(app, ["review", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _doc_page(out: Path, name: str) -> str:
    docs = pd.read_parquet(out / "tables" / "documents")
    doc_id = docs[docs["name"] == name]["doc_id"].iloc[0]
    return (out / "review" / "doc" / f"{doc_id[:16]}.html").as_uri()


def _data(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('data').textContent)")


def test_every_box_is_drawn_over_its_citation_within_2px(site, page):
    page.goto(_doc_page(site, "contract_and_invoice.pdf"))
    data = _data(page)
    checked = 0
    for i, field in enumerate(data["fields"]):
        page.click(f"#field-{i} .value")
        boxes = page.query_selector_all(".box")
        want = [(c, b) for c in field["citations"] if c["unit"] for b in c["boxes"]]
        assert len(boxes) == len(want)
        for box, (cite, (x0, y0, x1, y1)) in zip(boxes, want):
            img = page.query_selector(f"#unit-{cite['unit']} img").bounding_box()
            got = box.bounding_box()
            expect = (img["x"] + x0 * img["width"], img["y"] + y0 * img["height"],
                      (x1 - x0) * img["width"], (y1 - y0) * img["height"])
            for a, b in zip((got["x"], got["y"], got["width"], got["height"]), expect):
                assert abs(a - b) <= 2, (field["field"], got, expect)
            checked += 1
    assert checked >= 3


def test_clicking_a_value_highlights_its_boxes_and_scrolls_them_into_view(site, page):
    page.goto(_doc_page(site, "contract_and_invoice.pdf"))
    data = _data(page)
    last = max(i for i, f in enumerate(data["fields"]) if any(c["unit"] == "p3" and c["boxes"] for c in f["citations"]))
    page.click(f"#field-{last} .value")
    box = page.query_selector(".box.hl")
    assert box is not None and page.eval_on_selector(f"#field-{last}", "n => n.classList.contains('active')")
    pages = page.query_selector("#pages").bounding_box()
    b = box.bounding_box()
    assert pages["y"] <= b["y"] and b["y"] + b["height"] <= pages["y"] + pages["height"]  # in view


def test_the_video_seeks_to_the_cited_second(site, page):
    page.goto(_doc_page(site, "slides.mp4"))
    data = _data(page)
    assert data["video"] and page.eval_on_selector("#video", "v => v.canPlayType('video/webm')")
    i, cite = next((i, c) for i, f in enumerate(data["fields"]) for c in f["citations"] if c["t"] and c["t"] > 0)
    page.wait_for_function("document.getElementById('video').readyState >= 1")
    page.click(f"#field-{i} .value")
    page.wait_for_function(f"Math.abs(document.getElementById('video').currentTime - {cite['t']}) < 0.05")
    assert page.query_selector(f"#unit-{cite['unit']} img") is not None  # the frame image at that time too


def test_the_queue_lists_exactly_the_values_to_check(site, page):
    ex = pd.read_parquet(site / "tables" / "extractions")
    cites = pd.read_parquet(site / "tables" / "citations")
    docs = pd.read_parquet(site / "tables" / "documents")
    want = {(r.doc_id, r.field) for r in ex.itertuples() if not r.verified}
    want |= {(r.doc_id, r.field) for r in cites.itertuples() if r.value_supported is False}
    located = cites[cites["match"] != "unverified"]
    want |= {k for k, s in located.groupby(["doc_id", "field"])["score"].min().items() if s < 0.8}
    want |= {(d, "") for d in docs[docs["status"] == "failed"]["doc_id"]}
    page.goto((site / "review" / "queue.html").as_uri())
    got = {(r.get_attribute("data-doc"), r.get_attribute("data-field")) for r in page.query_selector_all("#queue tbody tr")}
    assert got == want and any(f == "" for _, f in got) and any(f for _, f in got)


def test_decisions_exported_from_the_page_come_back_as_the_reviews_table(site, page, tmp_path):
    page.goto((site / "review" / "queue.html").as_uri())
    page.fill("#reviewer", "ana")
    page.dispatch_event("#reviewer", "change")
    rows = page.query_selector_all("#queue tbody tr")
    assert len(rows) >= 3
    rows[0].query_selector("button.accept").click()
    rows[1].query_selector("button.reject").click()
    rows[2].query_selector("input.correction").fill("42.00 EUR")
    rows[2].query_selector("button.correct").click()
    assert page.text_content("#decided-count") == "3 decisions"
    with page.expect_download() as download:
        page.click("#export")
    exported = tmp_path / "decisions.json"
    download.value.save_as(exported)
    r = runner.invoke(app, ["review", str(site), "--apply", str(exported)])
    assert r.exit_code == 0 and "3 new decision" in r.output, r.output
    r = runner.invoke(app, ["review", str(site), "--apply", str(exported)])
    assert "0 new decision" in r.output  # applying twice adds nothing
    reviews = pd.read_parquet(site / "tables" / "reviews")
    assert sorted(reviews["decision"]) == ["accept", "correct", "reject"] and set(reviews["reviewer"]) == {"ana"}
    assert json.loads(reviews[reviews["decision"] == "correct"]["corrected_value_json"].iloc[0]) == "42.00 EUR"
    key = (rows[0].get_attribute("data-doc"), rows[0].get_attribute("data-field"))
    assert key in set(zip(reviews["doc_id"], reviews["field"]))
    r = runner.invoke(app, ["run", str(site.parent / "in" / "contract_and_invoice.pdf"), "--out", str(site), "--schema", "invoice", "--max-pages", "3",
                            "--model", "scripted:", "--force"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(site / "tables" / "reviews")) == 3  # a re-run never loses reviews


def test_document_text_is_shown_as_text_and_never_runs(site, page):
    page.goto(_doc_page(site, HOSTILE_NAME))
    assert page.evaluate("window.__pwned") is None
    assert page.text_content("h1") == HOSTILE_NAME
    assert page.evaluate("document.querySelectorAll('script').length") == 2  # the data and review.js, nothing else
    assert page.evaluate("document.querySelectorAll('#app img[src=\"x\"], #app b').length") == 0
    shown = page.text_content("#fields")
    quotes = [c["quote"] for f in _data(page)["fields"] for c in f["citations"]]
    assert all(q in shown for q in quotes)  # every quote shown verbatim, as text
    assert "<script>window.__pwned=2</script>" in shown
    assert any("中文" in q or "العربية" in q for q in quotes)
    page.goto((site / "review" / "index.html").as_uri())
    assert page.evaluate("window.__pwned") is None and HOSTILE_NAME in page.text_content("#documents")


def test_index_filters_sorts_and_moves_with_the_keyboard(site, page):
    page.goto((site / "review" / "index.html").as_uri())
    rows = page.query_selector_all("#documents tbody tr")
    assert len(rows) == pd.read_parquet(site / "tables" / "documents")["doc_id"].nunique()
    page.select_option("#status-filter", "failed")
    failed = page.query_selector_all("#documents tbody tr")
    assert failed and all(r.query_selector("td:nth-child(2)").text_content() == "failed" for r in failed)
    assert "broken.pdf" in page.text_content("#documents") and "zero_pages" in page.text_content("#documents")
    page.select_option("#status-filter", "")
    page.click("th[data-key=values]")
    page.keyboard.press("j")
    second = page.query_selector("#documents tbody tr.selected").get_attribute("data-key")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/doc/{second}.html")


def test_the_screenshot_in_the_readme_is_of_a_real_review_page(site, page, tmp_path):
    page.goto(_doc_page(site, "contract_and_invoice.pdf"))
    page.click("#field-1 .value")
    shot = tmp_path / "review.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOT"):  # UPDATE_SCREENSHOT=1 make test refreshes docs/review.png
        shutil.copy(shot, ROOT / "docs" / "review.png")


def test_gaps_are_shown_where_they_are(site, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(site, out, ignore=shutil.ignore_patterns("review"))
    docs = pd.read_parquet(out / "tables" / "documents")
    receipt = docs[docs["name"] == "scanned_receipt.png"]["doc_id"].iloc[0]
    contract = docs[docs["name"] == "contract_and_invoice.pdf"]["doc_id"].iloc[0]
    shutil.rmtree(out / "pages" / receipt[:16])  # no kept image, and its source is not where it was
    (out / "json" / f"{contract}.json").unlink()
    moved = Path(docs[docs["name"] == "scanned_receipt.png"]["path"].iloc[0])
    hidden = moved.with_name("hidden.png")
    moved.rename(hidden)
    try:
        r = runner.invoke(app, ["review", str(out)])
    finally:
        hidden.rename(moved)
    assert r.exit_code == 0, r.output
    receipt_page = (out / "review" / "doc" / f"{receipt[:16]}.html").read_text()
    assert "is gone" in receipt_page
    assert "missing or unreadable" in (out / "review" / "doc" / f"{contract[:16]}.html").read_text()
    shutil.rmtree(out / "tables" / "documents")  # an older folder without this table: listed from json/
    r = runner.invoke(app, ["review", str(out)])
    assert r.exit_code == 0 and "no documents table" in " ".join(r.output.split()), r.output
    assert f"{receipt[:16]}.html" in os.listdir(out / "review" / "doc")


def test_review_of_a_folder_that_does_not_exist_exits_2(tmp_path):
    r = runner.invoke(app, ["review", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not a folder" in " ".join(r.output.split())


@needs_corpus()
def test_a_page_that_hangs_mupdf_never_hangs_the_review(tmp_path, monkeypatch):
    """The review re-renders a page the run kept no copy of. A page that hangs MuPDF hung `gemmadoc review`
    for good (the corpus structure cycle): a page the run could not render is not tried again, and any
    other re-render runs in the run's guarded page worker, cut off after its timeout."""
    from pipeline.discover import file_sha256
    from pipeline.outputs import TableWriter, rows_for, write_document_json
    from review import build
    from schemas.records import DocumentResult, ErrorRecord

    hang = CORPUS / "hostile" / "mupdf_test_2548_structure_cycle.pdf"
    copy = tmp_path / "hang_again.pdf"
    copy.write_bytes(hang.read_bytes() + b"\n%")  # another document (another sha256) of the same hanging page
    out = tmp_path / "out"
    results = []
    for path, errors in [(hang, [ErrorRecord(path=str(hang), stage="ingest", kind="render_timeout", page=1,
                                             message="page 1 did not render within 60 s (MuPDF hang); worker killed")]),
                         (copy, [])]:
        doc_id = file_sha256(path)
        results.append(DocumentResult(doc_id=doc_id, path=str(path), name=path.name, media_type="pdf",
                                      status="failed" if errors else "ok", work_key=doc_id[:32], schema_name="invoice",
                                      model_id="scripted", pages=15, errors=[e.model_copy(update={"doc_id": doc_id}) for e in errors]))
    writer = TableWriter(out, "run1")
    writer.append(rows_for(results, "run1"))
    writer.ensure_tables()
    for r in results:
        write_document_json(out, r, "run1")
    monkeypatch.setattr(build, "RENDER_TIMEOUT_S", 3.0)
    r = runner.invoke(app, ["review", str(out)])
    assert r.exit_code == 0, r.output
    pages = {res.name: (out / "review" / "doc" / f"{res.doc_id[:16]}.html").read_text() for res in results}
    assert "the run could not render this page (render_timeout)" in pages[hang.name]
    assert "did not render within 3 s (MuPDF hang)" in pages[copy.name]


@needs_corpus()
def test_a_video_opencv_cannot_name_gets_a_clip_and_a_broken_one_a_note(tmp_path, monkeypatch):
    """OpenCV gives FOURCC -1 for a truncated MP4: the review stopped with an OverflowError for every
    document. It is tried like any other video (this one has no frame OpenCV decodes: a note says so); a
    video that breaks the clip in any other way gets a note too."""
    from review import build

    video = next(CORPUS.glob("*/derived_truncated_50pct_moviepy_example2.mp4"))
    (tmp_path / "media").mkdir()
    doc = {"key": "k" * 16, "path": str(video), "source_exists": True}
    assert build._clip(tmp_path, doc) == (None, f"could not make a playable copy of {video}")
    monkeypatch.setattr(build, "_clip", lambda site, d: 1 / 0)
    clip, reason = build._safe_clip(tmp_path, {**doc, "key": "j" * 16})
    assert clip is None and "no playback of" in reason and "ZeroDivisionError" in reason
