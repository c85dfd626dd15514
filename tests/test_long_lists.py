"""Lists longer than one answer holds, asked again in parts (pipeline/parts.py, pipeline/longanswers.py):
bank statements read by a scripted reader that answers like a model under constrained decoding (no more
items than the request's schema allows, cut off at its token allowance), through the real planner,
prompts, grounding and merge; and a band of a page through the tiny Gemma 4's real processor."""

import json

import pytest

import pipeline.parts as parts
from pipeline.parse import merge_windows
from pipeline.parts import Part, band_cut, band_unit
from pipeline.prompt import unit_segments
from pipeline.wrap import MAX_ITEMS
from schemas.options import RunOptions
from schemas.records import Box, Citation, Extraction
from tests.doubles import StatementReader
from tests.statements import FEE, STATEMENT_SCHEMA, statement_rows, write_statement
from tests.test_extract import run


@pytest.fixture()
def schema(tmp_path):
    path = tmp_path / "statement.json"
    path.write_text(json.dumps(STATEMENT_SCHEMA))
    return str(path)


def read(result) -> list[tuple[str, str, str]]:
    return [(t["date"], t["description"], f"{t['amount']:.2f}") for t in result.answer["transactions"]]


def test_every_row_of_a_long_statement_is_read_once_in_order(tmp_path, schema):
    """90 rows over 3 pages: one answer holds 12, so the pages are asked in parts and each page in bands.
    Every row comes back once, in reading order, cited and boxed on its own page; the same row on every
    page (the monthly fee) and twice on one page (two coffees) is kept each time."""
    pages = statement_rows(3, 30)
    backend = StatementReader()
    (result,), ex = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off"), schema=schema, backend=backend)
    assert read(result) == [row for page in pages for row in page]
    assert read(result).count(FEE) == 3 and pages[0][1] == pages[0][2]
    assert result.status == "ok" and not result.errors
    assert result.answer["account_holder"] == "Jane Doe"
    assert backend.answers_rows[0] == MAX_ITEMS and ex.stats.part_requests > 0
    assert max(backend.answers_rows[1:]) <= MAX_ITEMS and min(backend.answers_rows) < MAX_ITEMS
    row_pages = [k + 1 for k, page in enumerate(pages) for _ in page]
    cited = [e for e in result.extractions if e.field.endswith(".amount")]
    assert [e.citations[0].page for e in cited] == row_pages
    assert all(e.verified and e.citations[0].boxes for e in result.extractions)
    fees = [e.citations[0] for e in cited if e.value == float(FEE[2])]
    assert [c.page for c in fees] == [1, 2, 3] and round(fees[1].boxes[0].y0) == round(fees[2].boxes[0].y0)


def test_a_row_repeated_far_down_its_page_is_cited_in_its_own_band(tmp_path, schema):
    """The same row at the top and near the foot of one page, read by two bands: each is cited where its
    band shows it (not both at the first place the quote is found), so both are kept."""
    rows = statement_rows(1, 30, seed=7)[0]
    rows[25] = rows[1]
    (result,), _ = run([write_statement(tmp_path / "s.pdf", [rows])], RunOptions(ocr="off"), schema=schema,
                       backend=StatementReader())
    assert read(result) == rows
    amounts = [e for e in result.extractions if e.field.endswith(".amount")]
    first, again = amounts[1].citations[0].boxes[0], amounts[25].citations[0].boxes[0]
    assert again.y0 > first.y0 + 300


def test_a_run_writes_every_row_and_counts_its_part_requests(tmp_path, schema, prefect_harness):
    """The CLI's run over a folder of two statements: the tables hold every row once, and the runs table
    the requests asked in parts."""
    import pandas as pd
    from typer.testing import CliRunner

    from flows.cli import app

    inputs = tmp_path / "in"
    inputs.mkdir()
    pages = {name: statement_rows(2, 25, seed=k) for k, name in enumerate(("a.pdf", "b.pdf"))}
    for name, rows in pages.items():
        write_statement(inputs / name, rows)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(inputs), "--out", str(out), "--model", "scripted:reader=statement", "--schema", schema,
                                 "--ocr", "off"])
    assert r.exit_code == 0, r.output
    assert "asked again for long lists or values)" in r.output
    docs = pd.read_parquet(out / "tables" / "documents").set_index("name")
    for name, rows in pages.items():
        answer = json.loads(docs.loc[name, "answer_json"])
        assert [(t["date"], t["description"], f"{t['amount']:.2f}") for t in answer["transactions"]] == [x for p in rows for x in p]
    runs = pd.read_parquet(out / "tables" / "runs")
    assert runs["part_requests"].iloc[-1] > 0 and runs["requests"].iloc[-1] > runs["part_requests"].iloc[-1]
    extractions = pd.read_parquet(out / "tables" / "extractions")
    assert len(extractions) == 2 * (1 + 50 * 3) and extractions["verified"].all()


def test_answers_cut_off_in_a_list_are_asked_on_from_what_they_hold(tmp_path, schema):
    """An allowance of 300 tokens holds about 5 rows: each answer runs out inside the list, keeps the rows
    it completed, and the list is asked on from its last one (not again with twice the tokens): every
    row, once, in order, and no request asked twice."""
    pages = statement_rows(2, 24, seed=1)
    backend = StatementReader()
    (result,), ex = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off", max_new_tokens=300),
                        schema=schema, backend=backend)
    assert read(result) == [row for page in pages for row in page]
    assert result.status == "ok" and not result.errors and result.answer["account_holder"] == "Jane Doe"
    ids = [r.request_id for r in backend.requests]
    assert len(ids) == len(set(ids)) == ex.stats.requests and ex.stats.part_requests > 8


def test_fields_after_the_list_an_answer_was_cut_off_in_are_asked_for_too(tmp_path):
    """The holder asked after the transactions: an answer cut off in the list never wrote it, so it is
    asked for on its own, beside the list asked on."""
    after = {"type": "object", "properties": {"transactions": STATEMENT_SCHEMA["properties"]["transactions"],
                                              "account_holder": {"type": "string"}}}
    (tmp_path / "after.json").write_text(json.dumps(after))
    pages = statement_rows(1, 20, seed=11)
    backend = StatementReader()
    (result,), _ = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off", max_new_tokens=300),
                       schema=str(tmp_path / "after.json"), backend=backend)
    assert read(result) == pages[0] and result.answer["account_holder"] == "Jane Doe" and not result.errors
    assert backend.requests[0].response_schema["properties"].keys() == {"transactions", "account_holder"}
    assert any(list(r.response_schema["properties"]) == ["account_holder"] for r in backend.requests[1:])


def test_an_answer_cut_off_where_it_cannot_be_asked_on_keeps_what_it_holds(tmp_path, schema, monkeypatch):
    """A page that may not be cut: the rows the cut-off answer completed stand, with a list_at_limit
    warning, not a truncated_output error."""
    monkeypatch.setattr(parts, "MAX_BAND_CUTS", 0)
    pages = statement_rows(1, 20, seed=12)
    (result,), _ = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off", max_new_tokens=300),
                       schema=schema, backend=StatementReader())
    rows = read(result)
    assert 0 < len(rows) < 20 and rows == pages[0][:len(rows)] and result.status == "ok"
    assert [e.kind for e in result.errors] == ["list_at_limit"]


def test_a_scanned_statement_is_cut_into_bands_by_its_ocr_lines(tmp_path, schema):
    pages = statement_rows(1, 36, seed=2)
    (result,), _ = run([write_statement(tmp_path / "s.pdf", pages, scanned_dpi=200)], RunOptions(), schema=schema,
                       backend=StatementReader())
    assert result.text_sources == {"ocr": 1}
    assert read(result) == pages[0]
    assert all(e.verified for e in result.extractions)


def test_a_statement_scanned_sideways_is_cut_into_bands_of_its_upright_picture(tmp_path, schema):
    """A scan put in the scanner sideways: OCR reads it turned, the model is shown it upright. Its bands
    are cut across the upright picture (its words' boxes stay the scan's), so each band's picture shows
    that band's rows, and every row is read."""
    import numpy as np

    from model.images import load_image
    from pipeline.discover import discover
    from pipeline.ingest.ocr import ocr_words
    from pipeline.prepare import prepare_chunk

    rows = statement_rows(1, 30, seed=9)[0]
    path = write_statement(tmp_path / "s.pdf", [rows], scanned_dpi=200, turned=1)
    (item,) = prepare_chunk(discover([path]).documents, RunOptions().ingest, tmp_path / "spool")
    unit = item.units[0]
    assert unit.image.turn % 2 == 1 and unit.image_height > unit.image_width  # shown upright, portrait
    lower = Part(item=item, start=0, end=1).split(("transactions",))[1].units()[0]
    shown = [w.text for w in ocr_words(np.asarray(load_image(lower.image)))]
    assert 20 < len(lower.words) < len(unit.words) and len(set(shown) & {w.text for w in lower.words}) > 0.8 * len(set(shown))
    (result,), ex = run([path], RunOptions(), schema=schema, backend=StatementReader())
    assert read(result) == rows and ex.stats.part_requests > 0 and not result.errors


def test_a_list_still_full_where_a_page_cannot_be_cut_is_kept_with_a_warning(tmp_path, schema, monkeypatch):
    monkeypatch.setattr(parts, "MAX_BAND_CUTS", 0)
    pages = statement_rows(1, 20, seed=3)
    (result,), _ = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off"), schema=schema,
                       backend=StatementReader())
    assert read(result) == pages[0][:MAX_ITEMS]
    (warning,) = result.errors
    assert warning.kind == "list_at_limit" and warning.severity == "warning" and result.status == "ok"
    assert "`transactions`" in warning.message and "[page 1]" in warning.message


def test_a_list_of_exactly_its_limit_is_asked_on_once_and_comes_back_the_same(tmp_path, schema):
    """12 rows fill one answer; the list is asked on from its last row (one band: that row alone, read
    again in place of the first answer's), and comes back the same."""
    pages = statement_rows(1, MAX_ITEMS, seed=4)
    backend = StatementReader()
    (result,), ex = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off"), schema=schema,
                        backend=backend)
    assert read(result) == pages[0] and ex.stats.part_requests == 1 and not result.errors
    assert backend.answers_rows == [MAX_ITEMS, 1]


def test_a_collections_full_list_is_kept_with_a_warning_on_each_document(tmp_path, schema):
    """A request over several documents is not asked in parts (each document's lists would need its own
    parts): its full list stands, and each document it read says items may be missing. Each document gets
    the items cited on it, numbered from 0 (the second one's used to follow empty items in its place)."""
    for k, name in enumerate(("a.pdf", "b.pdf")):
        write_statement(tmp_path / name, statement_rows(1, 10, seed=10 + k))
    results, ex = run([tmp_path / "a.pdf", tmp_path / "b.pdf"], RunOptions(ocr="off", collection=True, max_new_tokens=4096), schema=schema,
                      backend=StatementReader())
    assert ex.stats.requests == 1 and ex.stats.part_requests == 0
    counts = {r.name: len(r.answer["transactions"]) for r in results}
    assert counts == {"a.pdf": 10, "b.pdf": MAX_ITEMS - 10}  # each document its own items, numbered from 0
    assert all(t["amount"] is not None for r in results for t in r.answer["transactions"])
    for r in results:
        (warning,) = r.errors
        assert warning.kind == "list_at_limit" and warning.severity == "warning" and r.status == "ok"


def test_a_schema_limit_at_or_under_one_answer_is_not_asked_in_parts(tmp_path):
    limited = json.loads(json.dumps(STATEMENT_SCHEMA))
    limited["properties"]["transactions"]["maxItems"] = 5
    (tmp_path / "five.json").write_text(json.dumps(limited))
    pages = statement_rows(1, 20, seed=5)
    (result,), ex = run([write_statement(tmp_path / "s.pdf", pages)], RunOptions(ocr="off"), schema=str(tmp_path / "five.json"),
                        backend=StatementReader())
    assert read(result) == pages[0][:5] and ex.stats.part_requests == 0 and not result.errors


def test_bands_cut_between_lines_and_show_their_own_picture_and_words(tmp_path):
    from pipeline.discover import discover
    from pipeline.prepare import prepare_chunk

    pages = statement_rows(1, 30, seed=6)
    opts = RunOptions(ocr="off")
    (item,) = prepare_chunk(discover([write_statement(tmp_path / "s.pdf", pages)]).documents, opts.ingest, tmp_path)
    unit = item.units[0]
    cut = band_cut(unit, None)
    lines = sorted({(w.y0 + w.y1) / 2 for w in unit.words})
    above = [y for y in lines if y < cut]
    assert abs(len(above) - (len(lines) - len(above))) <= 1  # the most even cut
    top, bottom = band_unit(unit, (0.0, cut)), band_unit(unit, (cut, unit.height))
    assert top.image.crop[1] == 0 and top.image.crop[3] == bottom.image.crop[1] and bottom.image.crop[3] == unit.image_height
    assert len(top.words) + len(bottom.words) == len(unit.words)
    assert all(w.y1 <= cut + 3 for w in top.words) and all(w.y0 >= cut - 3 for w in bottom.words)
    (label, image, text) = unit_segments(bottom, 280, True)
    assert label.text.startswith("[page 1] (a band across the page, from ")
    assert image.image.crop == bottom.image.crop and (image.width, image.height) == (unit.image_width, bottom.image_height)
    assert text.text.splitlines()[0].removeprefix("Text layer: ") == " ".join(w.text for w in bottom.words if w.line == bottom.words[0].line)
    halves = Part(item=item, start=0, end=1).split(("transactions",))
    assert [h.band for h in halves] == [(0.0, cut), (cut, unit.height)] and all(h.fields == ("transactions",) for h in halves)
    quarters = halves[1].split(("transactions",))
    assert quarters[0].band[0] == cut and quarters[1].band[1] == unit.height and quarters[0].key == (1, 0)
    thirds = Part(item=item, start=0, end=1).split(None, 3)
    counts = [len(band_unit(unit, t.band).words) for t in thirds]
    assert len(thirds) == 3 and sum(counts) == len(unit.words) and max(counts) - min(counts) <= 6  # a row: 3 words


def test_a_band_of_a_long_page_is_shown_in_slices_of_the_band():
    from schemas.records import ImageRef, PageUnit, Word

    words = [Word(text=f"w{k}", x0=10, y0=20 * k, x1=50, y1=20 * k + 12, line=k) for k in range(100)]
    unit = PageUnit(doc_id="d", page=1, width=200, height=2000, image=ImageRef(path="x.png"), image_width=400,
                    image_height=4000, words=words)
    band = band_unit(unit, (1000.0, 2000.0))
    segs = [s for s in unit_segments(band, 70, False) if s.kind == "image"]
    assert len(segs) > 1
    assert segs[0].image.crop[1] == 2000 and segs[-1].image.crop[3] == 4000  # slices within the band's pixels


def test_a_full_answer_is_asked_again_in_as_many_parts_as_its_lines_promise(tmp_path):
    """The first answer's 12 items quote the first 13 of 46 lines (the holder's and 12 rows): the 45 rows
    are asked for in 4 bands, each about 11 rows, not halved and halved again. Quotes the lines do not hold
    say nothing: halves."""
    from pipeline.discover import discover
    from pipeline.parts import parts_wanted, unit_runs
    from pipeline.prepare import prepare_chunk

    rows = statement_rows(1, 45, seed=8)[0]
    (item,) = prepare_chunk(discover([write_statement(tmp_path / "s.pdf", [rows])]).documents, RunOptions(ocr="off").ingest,
                            tmp_path)
    part = Part(item=item, start=0, end=1)

    def answer(quotes):
        return {"transactions": [{"description": {"value": "x", "citations": [{"page": 1, "quote": q}]}} for q in quotes]}

    first = answer([" ".join(r) for r in rows[:MAX_ITEMS]])
    assert parts_wanted(part, first, ("transactions",)) == 4 and len(part.split(("transactions",), 4)) == 4
    assert parts_wanted(part, answer(["not on the page"] * MAX_ITEMS), ("transactions",)) == 2
    assert unit_runs([30, 30, 30], 8) == [(0, 1), (1, 2), (2, 3)]
    assert unit_runs([5, 5, 5, 5], 2) == [(0, 2), (2, 4)] and unit_runs([40, 1, 1, 1], 2) == [(0, 1), (1, 4)]


def _item(values: dict, page: int, y: float, index: int) -> list[Extraction]:
    box = Box(x0=50, y0=y, x1=300, y1=y + 12)
    return [Extraction(doc_id="d", field=f"transactions[{index}].{k}", value=v,
                       citations=[Citation(doc_id="d", page=page, quote="q", match="exact", score=1.0, boxes=[box])])
            for k, v in values.items()]


def test_merge_leaves_out_an_item_read_again_at_the_same_place_only():
    fee = {"description": "Monthly account fee", "amount": 4.99}
    coffee = {"description": "Coffee Bar", "amount": 3.8}
    first = _item(fee, 1, 100, 0) + _item(coffee, 2, 100, 1) + _item(coffee, 2, 115, 2)  # two coffees on page 2
    second = _item(coffee, 2, 100, 0) + _item(coffee, 2, 115, 1) + _item(fee, 3, 100, 2)  # page 2 shared; page 3's fee
    merged = merge_windows([first, second])
    described = [(e.field, e.value, e.citations[0].page) for e in merged if e.field.endswith("description")]
    assert described == [("transactions[0].description", "Monthly account fee", 1), ("transactions[1].description", "Coffee Bar", 2),
                         ("transactions[2].description", "Coffee Bar", 2), ("transactions[3].description", "Monthly account fee", 3)]
    same_window = _item(coffee, 2, 100, 0) + _item(coffee, 2, 100, 1)  # one window's own two equal items stay two
    assert len(merge_windows([same_window, []])) == 4


def test_a_band_request_runs_through_the_tiny_models_processor(tiny_backend, tmp_path):
    from model.images import load_image
    from pipeline.discover import discover
    from pipeline.packing import Planner
    from pipeline.prepare import prepare_chunk
    from schemas.catalog import load_schema

    opts = RunOptions(model="tiny-random", ocr="off", max_new_tokens=32, image_tokens_min=70, image_tokens_max=280)
    (item,) = prepare_chunk(discover([write_statement(tmp_path / "s.pdf", statement_rows(1, 30))]).documents, opts.ingest,
                            tmp_path)
    planner = Planner(tiny_backend, opts.plan, load_schema("invoice"))
    band = Part(item=item, start=0, end=1).split(("line_items",))[1]
    request = planner.part_request(band, "band")
    assert list(request.response_schema["properties"]) == ["line_items"]
    assert '"line_items"' in request.system and '"invoice_number"' not in request.system
    assert request.n_tokens == tiny_backend.encode(request)["input_ids"].shape[1]
    (image,) = [s for s in request.segments if s.kind == "image"]
    assert load_image(image.image).size == (image.width, image.height) == (item.units[0].image_width, band.units()[0].image_height)
    (gen,) = tiny_backend.generate([request])
    assert gen.finish_reason in ("stop", "length") and gen.output_tokens > 0


def _prepared(tmp_path, pages):
    from pipeline.discover import discover
    from pipeline.prepare import prepare_chunk

    (item,) = prepare_chunk(discover([write_statement(tmp_path / "s.pdf", pages)]).documents, RunOptions(ocr="off").ingest,
                            tmp_path)
    return item


def _answer(rows) -> dict:
    return {"account_holder": None, "transactions": [
        {"description": {"value": r[1], "citations": [{"page": 1, "quote": " ".join(r)}]}} for r in rows]}


def test_a_full_list_is_asked_on_from_its_last_row(tmp_path):
    """A page of 45 rows whose first answer read the first 12: its first 11 items stand, and the list is
    asked on in bands from the 12th row's line down (that row read again), not from the top: 3 bands, each
    about 11 rows, the first cut between the 11th and 12th rows."""
    from pipeline.onward import onward

    rows = statement_rows(1, 45, seed=8)[0]
    item = _prepared(tmp_path, [rows])
    unit = item.units[0]
    ahead = onward(Part(item=item, start=0, end=1), _answer(rows[:MAX_ITEMS]), "transactions")
    assert ahead.kept == _answer(rows[:MAX_ITEMS - 1])["transactions"]
    middles = sorted({(w.y0 + w.y1) / 2 for w in unit.words})[1:]  # each row's (the holder's first)
    bands = [p.band for p in ahead.parts]
    assert len(middles) == 45 and len(bands) == 3 and bands[-1][1] == unit.height
    assert middles[MAX_ITEMS - 2] < bands[0][0] < middles[MAX_ITEMS - 1]
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:])) and all(p.fields == ("transactions",) for p in ahead.parts)
    assert [p.key for p in ahead.parts] == [(0, 0), (0, 1), (0, 2)]


def test_a_full_list_of_several_pages_is_asked_on_from_its_page_and_the_pages_after(tmp_path):
    """Three pages of 30 rows, the first answer's 12 rows on page 1: the rest of page 1 (a band from its
    12th row) and pages 2 and 3, which are asked in runs of pages."""
    from pipeline.onward import onward

    pages = statement_rows(3, 30, seed=9)
    item = _prepared(tmp_path, pages)
    ahead = onward(Part(item=item, start=0, end=3), _answer(pages[0][:MAX_ITEMS]), "transactions")
    band, *runs = ahead.parts
    assert (band.start, band.end) == (0, 1) and band.band is not None and band.band[0] > 0
    assert runs and runs[0].start == 1 and runs[-1].end == 3 and all(r.band is None for r in runs)
    assert len(ahead.kept) == MAX_ITEMS - 1


def test_a_list_is_asked_again_from_the_top_where_it_cannot_be_asked_on():
    """Items that cannot be placed among the lines, items all on the first line, and a page that reads on
    in a second column beside the last item's line: no asking on (the list is asked again from the top)."""
    from pipeline.onward import onward
    from pipeline.prepare import Prepared
    from schemas.records import ImageRef, PageUnit, SourceDocument, Word

    def unit(lines):
        words = [Word(text=t, x0=x, y0=y, x1=x + 100, y1=y + 12, line=k) for k, (t, x, y) in enumerate(lines)]
        return PageUnit(doc_id="d", page=1, width=600, height=800, image=ImageRef(path="x.png"), image_width=600,
                        image_height=800, words=words)

    doc = SourceDocument(doc_id="d", path="d.pdf", name="d.pdf", media_type="pdf", mime="application/pdf", size_bytes=1)
    one_column = Prepared(doc, [unit([(f"row{k}", 50, 100 + 20 * k) for k in range(20)])])
    two_columns = Prepared(doc, [unit([(f"row{k}", 50 + 300 * (k >= 10), 100 + 20 * (k % 10)) for k in range(20)])])

    def answer(names):
        return {"rows": [{"v": {"value": n, "citations": [{"page": 1, "quote": n}]}} for n in names]}

    first_twelve = answer([f"row{k}" for k in range(12)])
    assert len(onward(Part(item=one_column, start=0, end=1), first_twelve, "rows").kept) == 11
    assert onward(Part(item=two_columns, start=0, end=1), answer([f"row{k}" for k in range(6)]), "rows") is None
    assert onward(Part(item=one_column, start=0, end=1), answer(["not on the page"] * 12), "rows") is None
    assert onward(Part(item=one_column, start=0, end=1), answer(["row0"] * 12), "rows") is None


def test_items_stand_by_where_they_lie_not_by_their_place_in_the_answer():
    """A footer the text layer gives first (it is read first) lies below the cut, so it is asked again
    with the rows below, while the rows above the cut, read after it, stand; items down lines that
    repeat one text (a quantity of 1 on every row) each get their own line."""
    from pipeline.onward import item_lines, onward, reading_lines
    from pipeline.prepare import Prepared
    from schemas.records import ImageRef, PageUnit, SourceDocument, Word

    texts = [("page 1 of 3", 780)] + [(f"row{k}", 100 + 20 * k) for k in range(20)]
    words = [Word(text=t, x0=50, y0=y, x1=150, y1=y + 12, line=k) for k, (t, y) in enumerate(texts)]
    unit = PageUnit(doc_id="d", page=1, width=600, height=800, image=ImageRef(path="x.png"), image_width=600,
                    image_height=800, words=words)
    doc = SourceDocument(doc_id="d", path="d.pdf", name="d.pdf", media_type="pdf", mime="application/pdf", size_bytes=1)
    part = Part(item=Prepared(doc, [unit]), start=0, end=1)

    def answer(names):
        return {"rows": [{"v": {"value": n, "citations": [{"page": 1, "quote": n}]}} for n in names]}

    ahead = onward(part, answer(["page 1 of 3"] + [f"row{k}" for k in range(11)]), "rows")
    assert ahead.kept == answer([f"row{k}" for k in range(10)])["rows"]
    assert ahead.parts[0].band[0] < 300 < ahead.parts[-1].band[1]  # from row 10 down, the footer's line too
    ones = [Word(text="1", x0=50, y0=100 + 20 * k, x1=60, y1=112 + 20 * k, line=k) for k in range(4)]
    lines = reading_lines(Part(item=Prepared(doc, [unit.model_copy(update={"words": ones})]), start=0, end=1))
    assert item_lines(answer(["1"] * 4)["rows"], lines) == [0, 1, 2, 3]


def test_a_cut_off_answer_keeps_the_fields_and_items_it_completed():
    """The complete part of an answer cut off inside a top-level list: the fields before it and its
    complete items (strings holding brackets, commas and escaped quotes read as strings); none where the
    cut fell outside a list, before its first item, or the answer is whole."""
    from pipeline.salvage import salvaged

    whole = json.dumps({"holder": {"value": "J. [Doe], \"Jr\"", "citations": []},
                        "rows": [{"d": {"value": "one ]}", "citations": []}}, {"d": {"value": "two", "citations": []}}],
                        "closing": None})
    cut = salvaged(whole[:whole.index('"two"') + 2])
    assert cut.field == "rows" and cut.items == 1 and cut.answer["holder"]["value"] == 'J. [Doe], "Jr"'
    assert list(cut.answer) == ["holder", "rows"] and cut.answer["rows"][0]["d"]["value"] == "one ]}"
    assert salvaged(whole) is None and salvaged(whole[:20]) is None
    assert salvaged(whole[:whole.index('"rows"') + 10]) is None  # no item complete yet
    assert salvaged('{"n": [1, 2, 3').answer == {"n": [1, 2]} and salvaged('{"n": ["a", "b').answer == {"n": ["a"]}

