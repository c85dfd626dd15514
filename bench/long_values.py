"""String values longer than a first answer gives them, asked again with longer strings (pipeline 0.3.24,
`pipeline/bounds.py` and `pipeline/longanswers.py`), against one answer per request (0.3.23), in the same
process.

The grammar holds every string value of an answer to a bound, so that constrained decoding always ends:
the schema's maxLength, or 200 characters where it sets none. A summary, a clause, an address or a
paragraph longer than that came back cut at 200 characters, mid-word, and nothing said so. Now a value
that fills its bound, where the schema lets it run longer, is asked again (its top-level field alone,
the same pages) with strings of up to 4000 characters, and one still at its bound is kept with a
`value_at_limit` warning.

The model's side is a scripted reader (tests/doubles.py, `ValueReader`) that answers as a model under
constrained decoding does: the value it is asked for, cut to the characters the request's schema allows,
cited by its first 100 characters. Here the value is each page's longest paragraph (its longest text
block, as PyMuPDF groups the page's lines), a field `passage`, beside a short `title` (the page's first
line). What is measured is the pipeline's side: finding the values cut, asking again, replacing them, and
grounding their quotes. Ingest, `Extractor` and grounding run as in a batch.

Workload: born-digital corpus PDFs (bench/grounding.py's list), each of their first 3 pages as a document
of its own. `long_share`: the share of the paragraphs longer than 200 characters; `whole`: the share of
paragraphs read whole (`_before`: 0.3.23); `chars_read`: the characters read over the paragraphs';
`verified`: the share of passages whose citation is verified on their page, the value included (0.3.23
checked a value against its quote's words alone, so a paragraph longer than its quote, with a number
past it, was "not supported": `verified_before`); `requests_ratio` and
`output_tokens_ratio`: what asking again costs (after / before); `at_limit`: warnings for values longer
than 4000 characters.

    python bench/long_values.py [--corpus DIR]

Ends with `RESULT whole=... whole_before=... chars_read=... chars_read_before=... long_share=... verified=...
verified_before=... requests_ratio=... output_tokens_ratio=... asked_again=... at_limit=... documents=... seconds=...`."""

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

CORPUS_PAGES = 3
MIN_PARAGRAPH = 20  # characters a page's longest paragraph holds at least, to be asked for
SCHEMA = {"type": "object", "properties": {
    "title": {"type": "string", "description": "The page's first line"},
    "passage": {"type": "string", "description": "The page's longest paragraph, word for word"}}}


def longest_paragraph(page) -> str:
    """The text of the page's longest text block, its lines joined by spaces."""
    blocks = [" ".join(b[4].split()) for b in page.get_text("blocks") if b[6] == 0]
    return max(blocks, key=len, default="")


def extract(path: Path, schema: Path, backend, options, before: bool):
    """The document at `path` through ingest and the model stage (tests/test_extract.py's `run`), its
    long values asked again or not (0.3.23)."""
    import pipeline.grounding as grounding
    import pipeline.longanswers as longanswers
    from pipeline.bounds import LongValues
    from tests.test_extract import run

    found, around = longanswers.long_values, grounding._around

    def matched_words(m, n):  # 0.3.23: a value is checked against its quote's words alone
        return " ".join(m.index.unit.words[w].text for w in m.words)

    longanswers.long_values = (lambda *_: LongValues()) if before else found
    grounding._around = matched_words if before else around
    try:
        (result,), ex = run([path], options, schema=str(schema), backend=backend)
        return result, ex.stats
    finally:
        longanswers.long_values, grounding._around = found, around


def main() -> None:
    import pymupdf

    from schemas.options import RunOptions
    from tests.doubles import ValueReader

    from grounding import BORN_DIGITAL

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="long-values-"))
    schema = work / "passage.json"
    schema.write_text(json.dumps(SCHEMA))
    passages: dict[str, str] = {}
    for name in BORN_DIGITAL:
        source = args.corpus / "docs" / name
        if not source.exists():
            continue
        with pymupdf.open(source) as doc:
            for k in range(min(CORPUS_PAGES, doc.page_count)):
                text = longest_paragraph(doc[k])
                if len(text) < MIN_PARAGRAPH:
                    continue
                one = pymupdf.open()
                one.insert_pdf(doc, from_page=k, to_page=k)
                target = f"{Path(name).stem}-p{k + 1}.pdf"
                one.save(work / target)
                passages[target] = text
    tally = {side: collections.Counter() for side in ("after", "before")}
    for target, truth in passages.items():
        shown = [f"{target[:44]:44s} {len(truth):5d} chars:"]
        for side, t in tally.items():
            backend = ValueReader(passages)
            result, stats = extract(work / target, schema, backend, RunOptions(ocr="off"), side == "before")
            read = ((result.answer or {}).get("passage") or "")
            cited = [e for e in result.extractions if e.field == "passage"]
            verified = bool(cited and cited[0].verified)
            t.update(documents=1, long=len(truth) > 200, whole=read == truth, chars=len(truth), chars_read=len(read),
                     verified=verified, requests=stats.requests, tokens=stats.tokens_out,
                     again=stats.part_requests, at_limit=sum(e.kind == "value_at_limit" for e in result.errors))
            shown.append(f"{side} {len(read)} in {stats.requests} requests{'' if verified else ' (quote not verified)'}")
        print(" ".join(shown), flush=True)
    a, b = tally["after"], tally["before"]

    def share(t, hit, of):
        return t[hit] / max(1, t[of])

    print(f"RESULT whole={share(a, 'whole', 'documents'):.3f} whole_before={share(b, 'whole', 'documents'):.3f} "
          f"chars_read={share(a, 'chars_read', 'chars'):.3f} chars_read_before={share(b, 'chars_read', 'chars'):.3f} "
          f"long_share={share(a, 'long', 'documents'):.3f} verified={share(a, 'verified', 'documents'):.3f} "
          f"verified_before={share(b, 'verified', 'documents'):.3f} "
          f"requests_ratio={a['requests'] / max(1, b['requests']):.2f} output_tokens_ratio={a['tokens'] / max(1, b['tokens']):.2f} "
          f"asked_again={a['again']} at_limit={a['at_limit']} documents={a['documents']} "
          f"seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
