"""Lists longer than one answer holds, asked again in parts (pipeline 0.3.23 and 0.3.24, `pipeline/parts.py`,
`pipeline/longanswers.py`, `pipeline/onward.py`), against one answer per request (0.3.22) and against
asking again from the top (0.3.23), in the same process.

One answer holds at most 12 items of a list (the grammar's bound) and at most --max-new-tokens tokens. A
request whose answer fills a list, or runs out of tokens, is now asked again in parts: its pages in
runs of even text lines, one page in bands cut between text lines, each part for the full lists only, in
as many parts as the first answer's reach down its lines promises items for.

The model's side is a scripted reader (tests/doubles.py, `ListReader`) that answers as a model under
constrained decoding does: every row the request's text layers show, as an item quoting its line, in
order, no more items than the request's schema allows, cut off at its token allowance. What is measured
is the pipeline's side: planning the parts, cutting the bands (pictures and words), grounding every
quote, merging the parts' items. Everything else runs as in a batch: ingest, `Extractor`, grounding.

Workloads:
- bank statements (tests/statements.py): 1 page of 8, 20 and 45 rows; 3 pages of 30; 8 pages of 40; 3
  pages of 30 scanned at 200 dpi and read by OCR; 2 pages of 30 scanned sideways (OCR reads them turned,
  the model is shown them upright); each with the monthly fee on every page and one row twice on each
  page. `rows_read`: the share of the rows read (each row counted once per occurrence),
  `duplicates`: items read past the rows there are, `in_order`: statements read exactly, row for row;
  `located`: the share of items whose citations are found on the page, boxed;
- born-digital corpus PDFs (bench/grounding.py's list, their first 3 pages): every text line an item of
  a list `lines` (`lines_read`, counted the same way), as a table's rows or a contract's clauses would
  be, in the corpus's own layouts (columns, tables, pages turned).
`requests_ratio` and `output_tokens_ratio`: what asking in parts costs (after / before, all workloads);
`tokens_per_item`: answer tokens per item read. `_from_top`: full lists asked again from the top in parts
(0.3.23), where they are now asked on from the line their last item quotes (0.3.24, `pipeline/onward.py`);
`requests_vs_from_top` and `output_tokens_vs_from_top`: what asking on saves. `tight_`: the born-digital
statements again with --max-new-tokens 400 (about 5 rows an answer), so answers are cut off inside the
list: now the rows an answer completed stand and the list is asked on from them (`pipeline/salvage.py`);
in 0.3.23 the answer was asked again with twice the tokens, then in two parts from the top.

    python bench/long_lists.py [--corpus DIR]

Ends with `RESULT rows_read=... rows_read_before=... duplicates=... duplicates_before=... in_order=...
in_order_before=... located=... lines_read=... lines_read_before=... requests_ratio=... output_tokens_ratio=...
tokens_per_item=... tokens_per_item_before=... tokens_per_item_from_top=... rows_read_from_top=...
lines_read_from_top=... requests_vs_from_top=... output_tokens_vs_from_top=... tight_rows_read=...
tight_rows_read_from_top=... tight_duplicates=... tight_requests_vs_from_top=... tight_output_tokens_vs_from_top=...
part_requests=... statements=...
corpus_pages=... seconds=...`."""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

STATEMENTS = [(1, 8, None, 0), (1, 20, None, 0), (1, 45, None, 0), (3, 30, None, 0), (8, 40, None, 0), (3, 30, 200, 0),
              (2, 30, 200, 1)]  # pages, rows a page, scanned at dpi, turned quarters (put in the scanner sideways)
CORPUS_PAGES = 3
TIGHT = 400  # answer tokens a request may take in the tight workload: about 5 rows, so answers are cut off
LINES_SCHEMA = {"type": "object", "properties": {"lines": {"type": "array", "items": {
    "type": "object", "properties": {"text": {"type": "string"}}}}}}


def one_answer(outputs, roots, planner, generate, **_):
    """0.3.22: every request's first answer stands."""
    from pipeline.longanswers import PartsAsked

    return PartsAsked(outputs)


def extract(paths: list[Path], schema: str, backend, options, spool: Path, before: str):
    """The documents at `paths` through ingest and the model stage: as now ("after"), with full lists
    asked again from the top ("top", 0.3.23), or with one answer per request ("before", 0.3.22)."""
    import pipeline.extract as extract_module
    from pipeline.discover import discover
    from pipeline.extract import Extractor
    from pipeline.keys import work_key
    from pipeline.prepare import prepare_chunk
    from schemas.catalog import load_schema

    import pipeline.longanswers as longanswers

    asked, ahead, kept = extract_module.answer_in_parts, longanswers.onward, longanswers.salvaged
    extract_module.answer_in_parts = one_answer if before == "before" else asked
    if before in ("top", "before"):  # 0.3.23: parts ask from the top, an answer cut off is asked again whole
        longanswers.onward, longanswers.salvaged, extract_module.salvaged = (lambda *_: None), (lambda _: None), (lambda _: None)
    try:
        s = load_schema(schema)
        prepared = prepare_chunk(discover(paths).documents, options.ingest, spool)
        keys = {p.doc.doc_id: work_key(p.doc.doc_id, s, backend.model_id, options) for p in prepared}
        ex = Extractor(backend, options.plan, s, options.grounding)
        return ex.run(prepared, keys), ex.stats, prepared
    finally:
        extract_module.answer_in_parts, longanswers.onward = asked, ahead
        longanswers.salvaged = extract_module.salvaged = kept


def counted(read: list, truth: list) -> tuple[int, int]:
    """(rows of `truth` read, counted once per occurrence; items read past them)."""
    found = sum((collections.Counter(read) & collections.Counter(truth)).values())
    return found, len(read) - found


def main() -> None:
    from pipeline.prompt import layer_text
    from schemas.options import RunOptions
    from tests.doubles import ListReader, StatementReader
    from tests.statements import STATEMENT_SCHEMA, statement_rows, write_statement

    from grounding import BORN_DIGITAL

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="long-lists-"))
    (work / "statement.json").write_text(json.dumps(STATEMENT_SCHEMA))
    (work / "lines.json").write_text(json.dumps(LINES_SCHEMA))
    tally = {side: collections.Counter() for side in ("after", "top", "before")}
    for n, (pages, per_page, dpi, turned) in enumerate(STATEMENTS):
        rows = statement_rows(pages, per_page, seed=n)
        path = write_statement(work / f"statement-{n}.pdf", rows, scanned_dpi=dpi, turned=turned)
        truth = [row for page in rows for row in page]
        shown = [f"{pages}x{per_page}{' scanned' if dpi else ''}{' sideways' if turned else ''}:"]
        for side, t in tally.items():
            backend = StatementReader()
            options = RunOptions(ocr="auto" if dpi else "off")
            (result,), stats, _ = extract([path], str(work / "statement.json"), backend, options, work / "spool", side)
            items = (result.answer or {}).get("transactions") or []
            read = [(i["date"], i["description"], f"{i['amount']:.2f}") for i in items]
            found, extra = counted(read, truth)
            rows_cited = [e for e in result.extractions if e.field.endswith(".amount")]
            t.update(rows=len(truth), found=found, extra=extra, exact=read == truth, statements=1, requests=stats.requests,
                     tokens=stats.tokens_out, parts=stats.part_requests, items=len(rows_cited),
                     located=sum(1 for e in rows_cited if e.verified and e.citations[0].boxes))
            shown.append(f"{side} {found}/{len(truth)} (+{extra}) in {stats.requests} requests")
        print(" ".join(shown), flush=True)
    for n, (pages, per_page, dpi, turned) in enumerate(STATEMENTS[:5]):  # born-digital, in a tight allowance
        rows = statement_rows(pages, per_page, seed=n)
        path = work / f"statement-{n}.pdf"
        truth = [row for page in rows for row in page]
        shown = [f"{pages}x{per_page} in {TIGHT} tokens:"]
        for side, t in tally.items():
            options = RunOptions(ocr="off", max_new_tokens=TIGHT)
            (result,), stats, _ = extract([path], str(work / "statement.json"), StatementReader(), options, work / "spool", side)
            items = (result.answer or {}).get("transactions") or []
            found, extra = counted([(i["date"], i["description"], f"{i['amount']:.2f}") for i in items], truth)
            t.update(tight_rows=len(truth), tight_found=found, tight_extra=extra, tight_requests=stats.requests,
                     tight_tokens=stats.tokens_out)
            shown.append(f"{side} {found}/{len(truth)} (+{extra}) in {stats.requests} requests, {stats.tokens_out} tokens")
        print(" ".join(shown), flush=True)
    pages_done = 0
    for name in BORN_DIGITAL:
        source = args.corpus / "docs" / name
        if not source.exists():
            continue
        import pymupdf

        with pymupdf.open(source) as doc:
            doc.select(list(range(min(CORPUS_PAGES, doc.page_count))))
            path = work / f"corpus-{name}"
            doc.save(path)
        shown = [f"{name[:40]:40s}"]
        for side, t in tally.items():
            options = RunOptions(ocr="off")
            (result,), stats, prepared = extract([path], str(work / "lines.json"), ListReader(), options, work / "spool", side)
            truth = [line for unit in prepared[0].units for line in layer_text(unit).splitlines()]
            read = [i["text"] for i in (result.answer or {}).get("lines") or []]
            found, extra = counted(read, truth)
            t.update(lines=len(truth), lines_found=found, lines_extra=extra, requests=stats.requests, tokens=stats.tokens_out,
                     parts=stats.part_requests)
            shown.append(f"{side} {found}/{len(truth)} (+{extra}) in {stats.requests} requests")
        pages_done += len(prepared[0].units)
        print(" ".join(shown), flush=True)
    a, top, b = tally["after"], tally["top"], tally["before"]

    def share(t, hit, of):
        return t[hit] / max(1, t[of])

    print(f"RESULT rows_read={share(a, 'found', 'rows'):.3f} rows_read_before={share(b, 'found', 'rows'):.3f} "
          f"duplicates={a['extra'] + a['lines_extra']} duplicates_before={b['extra'] + b['lines_extra']} "
          f"in_order={share(a, 'exact', 'statements'):.3f} in_order_before={share(b, 'exact', 'statements'):.3f} "
          f"located={share(a, 'located', 'items'):.3f} lines_read={share(a, 'lines_found', 'lines'):.3f} "
          f"lines_read_before={share(b, 'lines_found', 'lines'):.3f} requests_ratio={a['requests'] / max(1, b['requests']):.2f} "
          f"output_tokens_ratio={a['tokens'] / max(1, b['tokens']):.2f} "
          f"tokens_per_item={a['tokens'] / max(1, a['found'] + a['lines_found']):.1f} "
          f"tokens_per_item_before={b['tokens'] / max(1, b['found'] + b['lines_found']):.1f} "
          f"tokens_per_item_from_top={top['tokens'] / max(1, top['found'] + top['lines_found']):.1f} "
          f"rows_read_from_top={share(top, 'found', 'rows'):.3f} lines_read_from_top={share(top, 'lines_found', 'lines'):.3f} "
          f"requests_vs_from_top={a['requests'] / max(1, top['requests']):.2f} "
          f"output_tokens_vs_from_top={a['tokens'] / max(1, top['tokens']):.2f} "
          f"tight_rows_read={share(a, 'tight_found', 'tight_rows'):.3f} tight_rows_read_from_top={share(top, 'tight_found', 'tight_rows'):.3f} "
          f"tight_duplicates={a['tight_extra']} tight_requests_vs_from_top={a['tight_requests'] / max(1, top['tight_requests']):.2f} "
          f"tight_output_tokens_vs_from_top={a['tight_tokens'] / max(1, top['tight_tokens']):.2f} part_requests={a['parts']} "
          f"statements={a['statements']} corpus_pages={pages_done} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
