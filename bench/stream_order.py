"""Text layers drawn out of reading order (a report generator that draws an address or a line item from
its last line up, labels before their values): each run of lines drawn near one another put in reading
order (pipeline 0.3.19, `pipeline/ingest/textlayer.in_reading_order`), against the order they were
drawn in (0.3.18), in the same run.

Workloads:
- born-digital corpus pages drawn in reading order, drawn again line by line at the same places
  (Helvetica, sized to each line's box) in four orders: as drawn (the control), each run of lines near
  one another from its last line up (`located`), the whole page from the bottom up, columns and all, as
  a generator that sorts by the PDF's upward y draws it (`page_located`), and each run shuffled
  (`shuffled_located`: random order, which generators do not draw and this does not mend). Quotes: for every step of the page's
  drawn order from a line to the next one down or along its row, the last 3 words of the one and the
  first 3 of the next (what a citation of a value over two lines, or of a label and its value, quotes);
  `located`: the share the grounder finds (exact or normalised) on the page's words (`control_located`:
  on the page drawn again in its own order, what drawing it again leaves findable; `control_same`:
  whether those pages keep their words and order);
- QualityHosting's invoice (the corpus's own layer drawn out of order): its quotes of the address, the
  header's labels with their values and the line items;
- the corpus PDFs (up to 40 pages each): how many pages are put in order, and the seconds of reading
  their words (`pdf_words`, as the page worker does) both ways.

"Before" is the same code with `in_reading_order` returning the words as drawn; words are read in this
process, as the page worker reads them (one page is checked through `ingest_document` too).

    python bench/stream_order.py [--corpus DIR]

Ends with `RESULT located=... located_before=... page_located=... page_located_before=... shuffled_located=... shuffled_located_before=...
control_located=... control_same=... invoice_located=... invoice_located_before=... corpus_reordered=... corpus_pages=...
seconds_ratio=... quotes=... seconds=...`."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = (("pdfjs_tracemonkey.pdf", 0), ("pdfjs_tracemonkey.pdf", 2), ("docling_2305.03393v1-pg9.pdf", 0),
         ("sample-files_google-doc-document.pdf", 0), ("sample-files_latex-multicolumn.pdf", 0),
         ("invoice2data_AzureInterior.pdf", 0), ("invoice2data_coolblue1.pdf", 0), ("pypdf_SF424_page2.pdf", 0),
         ("mupdf_test_3842_nist_sp800-223.pdf", 4), ("docling_redp5110_sampled.pdf", 1), ("icdar2013_us-003.pdf", 0),
         ("pdfjs_freeculture.pdf", 20))
INVOICE = "invoice2data_QualityHosting.pdf"
INVOICE_QUOTES = ("iViveLabs Ltd. 93B Sai Yu Chung Yuen Long, N.T. Hong Kong", "Rechnungsnr. 30064443", "Kundennr. 47774",
                  "Rechnungsdatum 7. Mai 2014", "Rechnung Seite 1",
                  "Small Business QualityExchange 2010 5,39 5,39 Grundgebühr pro Einheit Dienst: OUDJQ_jauernik",
                  "Small Business StandardExchange 2010 3,89 3,89 Grundgebühr pro Einheit Dienst: OUDJQ_strukan")
QUOTE_WORDS = 3


def lines_of(words) -> list[list]:
    """The words of each line, in the order the lines come."""
    lines: dict[int, list] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return list(lines.values())


def bounds(line) -> tuple[float, float, float, float]:
    return min(w.x0 for w in line), min(w.y0 for w in line), max(w.x1 for w in line), max(w.y1 for w in line)


def quotes_of(lines: list[list]) -> list[str]:
    """For each step from a line to the next one down (sharing some width) or along its row: the last
    QUOTE_WORDS words of the one and the first of the next."""
    out = []
    for a, b in zip(lines, lines[1:]):
        ba, bb = bounds(a), bounds(b)
        down = bb[1] > ba[1] + 0.5 * (ba[3] - ba[1]) and min(ba[2], bb[2]) > max(ba[0], bb[0])
        along = abs(bb[1] - ba[1]) < 0.5 * (ba[3] - ba[1]) and bb[0] >= ba[2]
        if (down or along) and len(a) + len(b) >= 2:
            out.append(" ".join(w.text for w in a[-QUOTE_WORDS:] + b[:QUOTE_WORDS]))
    return out


def redraw(lines: list[list], order: list[int], size: tuple[float, float], out: Path) -> None:
    """A one-page PDF with `lines` drawn again in `order`, each at its first word's place, in Helvetica
    sized to fit the line's box."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=size[0], height=size[1])
    for k in order:
        x0, y0, x1, y1 = bounds(lines[k])
        text = " ".join(w.text for w in lines[k])
        fit = (x1 - x0) / max(pymupdf.get_text_length(text, fontname="helv", fontsize=1), 1e-6)
        size_pt = max(2.0, min(0.85 * (y1 - y0), fit))
        page.insert_text((x0, y1 - 0.22 * (y1 - y0)), text, fontname="helv", fontsize=size_pt)
    doc.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()

    import pymupdf

    from pipeline.discover import discover
    from pipeline.grounding import DocumentGrounder
    from pipeline.ingest import ingest_document, textlayer
    from schemas.options import IngestOptions
    from schemas.records import ClaimedCitation, ImageRef, PageUnit

    in_order = textlayer.in_reading_order

    def words_of(page, reorder: bool):
        textlayer.in_reading_order = in_order if reorder else (lambda words: words)
        try:
            return textlayer.pdf_words(page)
        finally:
            textlayer.in_reading_order = in_order

    def located(words, size, quotes) -> int:
        unit = PageUnit(doc_id="d", page=1, width=size[0], height=size[1], image=ImageRef(path="x"), image_width=1,
                        image_height=1, words=words, text_source="pdf")
        grounder = DocumentGrounder([unit])
        return sum(grounder.ground(ClaimedCitation(doc_id="d", page=1, quote=q)).match in ("exact", "normalised") for q in quotes)

    start = time.perf_counter()
    totals = {k: 0 for k in ("quotes", "drawn", "drawn_b", "bottom", "bottom_b", "page", "page_b", "shuffled", "shuffled_b")}
    control_same = True
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, index in PAGES:
            page = pymupdf.open(args.corpus / "docs" / name)[index]
            size = (page.rect.width, page.rect.height)
            lines = lines_of(words_of(page, False))
            quotes = quotes_of(lines)
            runs = textlayer.drawn_runs([bounds(line) for line in lines])
            orders = {"drawn": [k for run in runs for k in run], "bottom": [k for run in runs for k in reversed(run)],
                      "page": sorted(range(len(lines)), key=lambda k: (-bounds(lines[k])[3], bounds(lines[k])[0])),
                      "shuffled": [k for run in runs for k in rng.sample(run, len(run))]}
            row = {}
            for kind, order in orders.items():
                path = tmp / f"{Path(name).stem}_{index}_{kind}.pdf"
                redraw(lines, order, size, path)
                again = pymupdf.open(path)[0]
                after, before = words_of(again, True), words_of(again, False)
                row[kind] = (located(after, size, quotes), located(before, size, quotes))
                if kind == "drawn":
                    control_same &= after == before
            totals["quotes"] += len(quotes)
            for kind in ("drawn", "bottom", "page", "shuffled"):
                totals[kind], totals[kind + "_b"] = totals[kind] + row[kind][0], totals[kind + "_b"] + row[kind][1]
            print(f"{Path(name).stem[:34]:34s} p{index + 1:<3d} {len(quotes):4d} quotes  drawn {row['drawn'][0]} ({row['drawn'][1]})  "
                  f"bottom up {row['bottom'][0]} ({row['bottom'][1]})  page up {row['page'][0]} ({row['page'][1]})  shuffled {row['shuffled'][0]} ({row['shuffled'][1]})", flush=True)
        invoice = pymupdf.open(args.corpus / "docs" / INVOICE)[0]
        size = (invoice.rect.width, invoice.rect.height)
        inv, inv_b = located(words_of(invoice, True), size, INVOICE_QUOTES), located(words_of(invoice, False), size, INVOICE_QUOTES)
        through = ingest_document(discover([args.corpus / "docs" / INVOICE]).documents[0], IngestOptions(max_pages=1), tmp / "spool").units[0]
        assert [w.text for w in through.words] == [w.text for w in words_of(invoice, True)], "the page worker reads other words"
        print(f"{INVOICE:34s} p1   {len(INVOICE_QUOTES):4d} quotes  located {inv} ({inv_b})", flush=True)
        reordered = pages = 0
        seconds = {True: 0.0, False: 0.0}
        for path in sorted((args.corpus / "docs").glob("*.pdf")):
            try:
                doc = pymupdf.open(path)
                for index in range(min(40, doc.page_count)):
                    page = doc[index]
                    got = {}
                    for reorder in (False, True):
                        began = time.perf_counter()
                        got[reorder] = words_of(page, reorder)
                        seconds[reorder] += time.perf_counter() - began
                    pages += 1
                    reordered += got[True] != got[False]
            except Exception:  # noqa: BLE001 - a file or page MuPDF refuses: nothing to count
                continue
    n = max(1, totals["quotes"])
    print(f"RESULT located={totals['bottom'] / n:.3f} located_before={totals['bottom_b'] / n:.3f} "
          f"page_located={totals['page'] / n:.3f} page_located_before={totals['page_b'] / n:.3f} "
          f"shuffled_located={totals['shuffled'] / n:.3f} shuffled_located_before={totals['shuffled_b'] / n:.3f} "
          f"control_located={totals['drawn'] / n:.3f} control_same={control_same} invoice_located={inv / len(INVOICE_QUOTES):.3f} "
          f"invoice_located_before={inv_b / len(INVOICE_QUOTES):.3f} corpus_reordered={reordered} corpus_pages={pages} "
          f"seconds_ratio={seconds[True] / max(1e-9, seconds[False]):.2f} quotes={totals['quotes']} "
          f"seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
