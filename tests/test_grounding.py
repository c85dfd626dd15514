import re

import pymupdf
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline.grounding import DocumentGrounder, normalise
from pipeline.ingest.textlayer import pdf_words
from pipeline.textnorm import MARKS
from schemas.records import ClaimedCitation, FrameUnit, ImageRef, PageUnit, Word
from tests.conftest import CORPUS, SAMPLES, contract_across_a_page_break, needs_corpus

REF = ImageRef(kind="file", path="x.jpg")


def page(n, lines, width=600.0, height=800.0):
    """A page whose words are laid out line by line, 10 pt per character."""
    words = []
    for li, line in enumerate(lines):
        x = 50.0
        for token in line.split():
            words.append(Word(text=token, x0=x, y0=100 + 20 * li, x1=x + 10 * len(token), y1=112 + 20 * li, line=li))
            x += 10 * len(token) + 10
    return PageUnit(doc_id="d", page=n, width=width, height=height, image=REF, image_width=10, image_height=10,
                    words=words, text_source="pdf")


PAGES = [
    page(1, ["Services Agreement between Northwind Analytics", "and Contoso Retail GmbH dated 3 March 2026"]),
    page(2, ["The Customer pays a monthly fee of EUR 4,500.00 invoiced", "on the first business day of each month.",
             "Either party may termi-", "nate with ninety days notice."]),
    page(3, ["Total due: EUR 6,783.00", "Governed by the laws of England and Wales."]),
]


def ground(quote, page_no=None, t=None, units=PAGES):
    return DocumentGrounder(units).ground(ClaimedCitation(doc_id="d", page=page_no, t_seconds=t, quote=quote))


def test_exact_match_gives_word_boxes():
    c = ground("monthly fee of EUR 4,500.00", 2)
    assert c.match == "exact" and c.score == 1.0 and c.page == 2
    assert len(c.boxes) == 1
    b = c.boxes[0]
    assert (b.y0, b.y1) == (100, 112)
    assert 0 < c.boxes_norm[0].x0 < c.boxes_norm[0].x1 <= 1


def test_normalised_match_case_quotes_dashes_ligatures_hyphenation():
    assert ground("MONTHLY FEE OF  eur 4,500.00", 2).match == "normalised"
    assert ground("Services Agreement between Northwind", 1).match == "exact"
    assert ground("either party may terminate with ninety", 2).match == "normalised"  # line-end hyphen joined
    assert ground("Either party may termi-\nnate with ninety", 2).match == "normalised"  # the quote kept it
    lig = [page(1, ["the ﬁnal ofﬁce “quote” – dash"])]
    assert ground('the final office "quote" - dash', 1, units=lig).match == "normalised"


def test_fuzzy_match_tolerates_ocr_confusions_and_edges():
    c = ground("The Custorner pays a rnonthly fee of EUR 4,5OO.OO", 2)
    assert c.match == "fuzzy" and 0.8 <= c.score < 1
    assert c.page == 2 and c.boxes


def test_a_short_quote_with_its_word_repeated():
    c = ground("notice. notice.", 2)
    notice = next(w for w in PAGES[1].words if w.text == "notice.")
    assert c.match == "fuzzy" and [(b.x0, b.x1) for b in c.boxes] == [(notice.x0, notice.x1)]


def test_line_spanning_quote_gives_one_box_per_line():
    c = ground("invoiced on the first business day", 2)
    assert c.match in ("exact", "normalised")
    assert len(c.boxes) == 2 and c.boxes[0].y0 < c.boxes[1].y0


def test_relocation_to_the_right_page():
    c = ground("Governed by the laws of England", 1)
    assert c.match == "relocated" and c.page == 3 and c.claimed_page == 1 and c.boxes
    c = ground("Governed by the laws of England", 9)  # a page that does not exist
    assert c.match == "relocated" and c.page == 3 and c.claimed_page == 9


def test_relocation_can_be_switched_off():
    """--no-relocate: a quote is looked for on its cited page only (a claim without a page still is searched)."""
    strict = DocumentGrounder(PAGES, relocate=False)
    c = strict.ground(ClaimedCitation(doc_id="d", page=1, quote="Governed by the laws of England"))
    assert c.match == "unverified" and c.claimed_page == 1
    assert strict.ground(ClaimedCitation(doc_id="d", page=3, quote="Governed by the laws of England")).match == "exact"


def test_a_misquoted_name_is_never_verified_but_a_misquoted_common_word_is():
    c = ground("laws of Englnd", 3)  # one letter of a name changed: a near miss, not a match
    assert c.match == "unverified" and c.reason.startswith("words_differ")
    assert ground("Governed by the laws of Englnd", 1).match == "unverified"
    assert ground("the lams of England and Wales", 3).match == "fuzzy"  # a misread lowercase word
    c = ground("Governed by the lams of England", 1)  # long enough to be specific away from the cited page
    assert c.match == "relocated" and c.page == 3


def test_unverified_quotes_are_kept_with_a_reason():
    c = ground("The supplier guarantees uptime of 99.99 percent", 2)
    assert c.match == "unverified" and c.score == 0 and not c.boxes
    assert c.quote.startswith("The supplier") and "not found" in c.reason


def test_cjk_matches_by_characters():
    cjk = [page(1, ["合同 金额 为 人民币 五万元", "签订 日期 2026年3月3日"])]
    c = ground("合同金额为人民币五万元", 1, units=cjk)
    assert c.match == "normalised" and len(c.boxes) == 1


def test_right_to_left_text():
    rtl = [page(1, ["العقد بين الطرفين", "المبلغ الإجمالي 500 دينار"])]
    c = ground("المبلغ الإجمالي 500 دينار", 1, units=rtl)
    assert c.match == "exact"
    c = ground("المبلغ الاجمالي 500 دينار", 1, units=rtl)  # alef with hamza written plain
    assert c.match == "normalised"
    assert normalise("מִשְׁפָּט") == normalise("משפט")  # Hebrew vowel points ignored


def test_devanagari_normalisation():
    dev = [page(1, ["कुल राशि ₹500"])]
    assert ground("कुल राशि ₹500", 1, units=dev).match == "exact"
    assert ground("कुल\u200d राशि ₹500", 1, units=dev).match == "normalised"  # zero-width joiner dropped


def test_video_citation_keeps_timestamp():
    frames = [FrameUnit(doc_id="d", index=i, t_seconds=float(i), image=REF, image_width=10, image_height=10,
                        width=320, height=240, words=[] if i != 2 else [Word(text="Revenue", x0=1, y0=1, x1=50, y1=10),
                                                                       Word(text="up", x0=55, y0=1, x1=70, y1=10)])
              for i in range(4)]
    c = ground("Revenue up", t=2.0, units=frames)
    assert c.match == "exact" and c.t_seconds == 2.0 and c.boxes
    c = ground("a whiteboard", t=1.0, units=frames)
    assert c.match == "unverified" and c.t_seconds == 1.0 and "timestamp-only" in c.reason


def test_real_pdf_quotes(spool):
    doc = pymupdf.open(SAMPLES / "contract_and_invoice.pdf")
    units = [PageUnit(doc_id="d", page=i + 1, width=p.rect.width, height=p.rect.height, image=REF, image_width=1,
                      image_height=1, words=pdf_words(p), text_source="pdf") for i, p in enumerate(doc)]
    c = ground("Total due: EUR 6,783.00", 3, units=units)
    assert c.match == "exact"
    hits = doc[2].search_for("Total due: EUR 6,783.00")
    assert abs(c.boxes[0].x0 - hits[0].x0) < 2 and abs(c.boxes[0].y1 - hits[0].y1) < 3


@st.composite
def page_and_span(draw):
    vocab = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789.,-€", min_size=1, max_size=9)
    n_lines = draw(st.integers(1, 6))
    lines = [" ".join(draw(st.lists(vocab, min_size=1, max_size=8))) for _ in range(n_lines)]
    unit = page(1, lines)
    n = len(unit.words)
    i = draw(st.integers(0, n - 1))
    j = draw(st.integers(i, min(n - 1, i + 12)))
    return unit, i, j


def cuts_a_spaced_number(words, i, j) -> bool:
    """Whether the span i..j stops or starts between digit groups set one space apart ("399 000"), which
    the grounder reads as one number: a quote of part of it is not that number (tested on its own below)."""
    group = re.compile(r"\d{3}(?:[.,]\d+)?")
    after = words[j + 1] if j + 1 < len(words) and words[j + 1].line == words[j].line else None
    before = words[i - 1] if i > 0 and words[i - 1].line == words[i].line else None
    ends = words[j].text[-1:].isdigit() and after is not None and group.fullmatch(after.text.rstrip(MARKS))
    starts = words[i].text[:1].isdigit() and before is not None and re.search(r"(?:^|\D)\d{1,3}$", before.text) \
        and group.fullmatch(words[i].text.rstrip(MARKS))
    return bool(ends or starts)


@settings(max_examples=150, deadline=None)
@given(page_and_span())
def test_any_span_of_page_words_is_found_with_exactly_its_boxes(data):
    unit, i, j = data
    assume(not cuts_a_spaced_number(unit.words, i, j))
    quote = " ".join(w.text for w in unit.words[i:j + 1])
    texts = [w.text for w in unit.words]
    span_texts = texts[i:j + 1]
    assume(sum(texts[k:k + len(span_texts)] == span_texts for k in range(len(texts))) == 1)  # the span is unique
    assume(any(ch.isalnum() for ch in quote))  # a quote of symbols alone is never verified
    c = DocumentGrounder([unit]).ground(ClaimedCitation(doc_id="d", page=1, quote=quote))
    assert c.match in ("exact", "normalised")
    span = unit.words[i:j + 1]
    lines = sorted({w.line for w in span})
    assert len(c.boxes) == len(lines)
    for line, box in zip(lines, c.boxes):
        ws = [w for w in span if w.line == line]
        if c.match == "exact":
            assert (box.x0, box.x1) == (min(w.x0 for w in ws), max(w.x1 for w in ws))


@needs_corpus()
def test_chinese_pdf_text_layer():
    doc = pymupdf.open(CORPUS / "docs" / "mupdf_chinese-tables.pdf")
    p = doc[0]
    unit = PageUnit(doc_id="d", page=1, width=p.rect.width, height=p.rect.height, image=REF, image_width=1,
                    image_height=1, words=pdf_words(p), text_source="pdf")
    text = "".join(w.text for w in unit.words)
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    quote = "".join(cjk[5:13])
    c = ground(quote, 1, units=[unit])
    assert c.match in ("exact", "normalised") and c.boxes


def ocr_line(tokens, y=100.0, line=0, char_w=10.0):
    """OCR-style words of one line: run-together tokens with per-character right edges."""
    words, x = [], 50.0
    for token in tokens:
        edges = [x + char_w * (k + 1) for k in range(len(token))]
        words.append(Word(text=token, x0=x, y0=y, x1=edges[-1], y1=y + 12, line=line, char_x=edges))
        x = edges[-1] + char_w
    return words


def ocr_page(*lines):
    words = [w for k, tokens in enumerate(lines) for w in ocr_line(tokens, y=100.0 + 20 * k, line=k)]
    return [PageUnit(doc_id="d", page=1, width=600, height=800, image=REF, image_width=600, image_height=800,
                     words=words, text_source="ocr")]


def test_quote_inside_run_together_ocr_tokens_is_cut_at_character_edges():
    units = ocr_page(["experimentalprocedure", "or", "conceptadequately.Such"])
    c = ground("procedure or concept", 1, units=units)
    assert c.match == "exact" and len(c.boxes) == 1
    # "experimental" is 12 characters of 10 px from x=50; "concept" ends 7 characters into its token
    assert c.boxes[0].x0 == 50 + 120 and c.boxes[0].x1 == units[0].words[2].x0 + 70


def test_text_layer_words_are_boxed_whole_when_partly_quoted():
    c = ground("governed by the laws of eng", 3)
    assert c.match == "normalised"
    england = next(w for w in PAGES[2].words if w.text == "England")
    assert c.boxes[0].x1 == england.x1


def test_a_page_with_text_layer_and_ocr_words_treats_each_word_as_read():
    """A mixed page (a text layer plus OCR of a picture): OCR's run-together tokens are cut at character
    edges as on an OCR'd page, while the text layer's words stay exact words, boxed whole."""
    layer = page(1, ["Governed by the laws of England and Wales."]).words
    ocr = [w.model_copy(update={"ocr": True}) for w in ocr_line(["experimentalprocedure", "or", "conceptadequately.Such"], y=200.0, line=1)]
    units = [PageUnit(doc_id="d", page=1, width=600, height=800, image=REF, image_width=600, image_height=800,
                      words=layer + ocr, text_source="mixed")]
    c = ground("procedure or concept", 1, units=units)
    assert c.match == "exact" and c.boxes[0].x0 == 50 + 120 and c.boxes[0].x1 == ocr[2].x0 + 70
    c = ground("governed by the laws of eng", 1, units=units)
    assert c.match == "normalised" and c.boxes[0].x1 == next(w for w in layer if w.text == "England").x1
    assert ground("overned by the laws", 1, units=units).match != "exact"  # inside a text-layer word


def test_short_quotes_with_ocr_confusions_or_lost_marks():
    units = ocr_page(["Source:", "Board", "2006"], ["of", "1o0falsevalues", "onentry"], ["azure.lnterior24@example.com"])
    c = ground("2006.", 1, units=units)  # the model kept a period the OCR lost
    assert c.match == "fuzzy" and c.boxes[0].x0 == units[0].words[2].x0
    assert ground("of 100", 1, units=units).match == "fuzzy"  # 1o0 read for 100
    assert ground("azure.Interior24@example.com", 1, units=units).match == "fuzzy"  # l read for I
    assert ground("in 3551", 1, units=units).match == "unverified"


def test_rn_folding_across_words_and_best_occurrence_by_punctuation():
    units = ocr_page(["In", "2004,", "total", "costs"], ["EUR", "4", "873", "in", "2004.", "The"], ["magna.Integer", "non", "enim"])
    c = ground("in 2OO4.", 1, units=units)
    assert c.match == "fuzzy" and c.boxes[0].y0 == 120  # the occurrence ending with a period
    c = ground("rnagna. Integer non", 1, units=units)  # "r n" of "Integer non" must not fold to "m"
    assert c.match == "fuzzy" and len(c.boxes) == 1 and c.boxes[0].y0 == 140


def test_fuzzy_alignment_does_not_graze_neighbouring_words():
    units = ocr_page(["tristique", "senectus", "et", "netus"], ["sit", "amet", "consectetuer", "adipiscing"])
    c = ground("s sit amet consectetur adipiscing", 1, units=units)  # its "s" aligns with the end of "netus"
    assert c.match == "fuzzy" and len(c.boxes) == 1 and c.boxes[0].y0 == 120


# --- "verified" means the value is on the page (issue 11) -------------------------------------------

def corpus_units(name):
    doc = pymupdf.open(CORPUS / "docs" / name)
    return [PageUnit(doc_id="d", page=i + 1, width=p.rect.width, height=p.rect.height, image=REF, image_width=1,
                     image_height=1, words=pdf_words(p), text_source="pdf") for i, p in enumerate(doc)]


def test_one_changed_digit_is_never_verified():
    assert ground("Total due: EUR 6,738.00", 3).match == "unverified"  # the page says 6,783.00
    c = ground("Total due: EUR 6,738.00", 3)
    assert c.reason.startswith("digits_differ")
    assert ground("Total due: EUR 6,783.00", 3).match == "exact"
    c = ground("Total due: EUR 6783.00", 3)  # separators aside
    assert c.match == "fuzzy" and c.page == 3
    assert ground("monthly fee of EUR 4,500.01", 2).match == "unverified"
    assert ground("dated 3 March 2025", 1).match == "unverified"


@needs_corpus()
def test_real_iban_and_invoice_numbers_digit_for_digit():
    units = corpus_units("invoice2data_QualityHosting.pdf")
    assert ground("IBAN DE30507500940000048567", 1, units=units).match == "exact"
    c = ground("IBAN DE30507500940000048557", 1, units=units)  # one digit changed
    assert c.match == "unverified" and c.reason.startswith("digits_differ")
    assert ground("Blz: 507 500 94", 1, units=units).match == "exact"
    assert ground("Blz: 507500 94", 1, units=units).match == "normalised"
    assert ground("Blz: 507 500 95", 1, units=units).match == "unverified"
    azure = corpus_units("invoice2data_AzureInterior.pdf")
    assert ground("Invoice INV/2023/03/0008", 1, units=azure).match == "exact"
    assert ground("Invoice INV/2023/03/0080", 1, units=azure).match == "unverified"
    assert ground("Tax 15% on $ 112.90", 1, units=azure).match == "exact"
    assert ground("Tax 15% on $ 112.09", 1, units=azure).match == "unverified"
    # names: one changed letter is a different person, however long the rest of the quote
    assert ground("Vorstand: Christian Heit (Vorsitz), Markus Oestreicher", 1, units=units).match == "exact"
    c = ground("Vorstand: Christian Heit (Vorsitz), Markus Oestreichar", 1, units=units)
    assert c.match == "unverified" and c.reason.startswith("words_differ")
    assert ground("Vorstand: Christian Hait", 1, units=units).match == "unverified"


def test_a_quote_never_matches_inside_a_longer_word_or_number():
    units = [page(1, ["Siège: 12 rue Garibaldi, 69006 VILLEURBANNE", "SIRET 53084813400012 montant 5,700.00 EUR",
                      "Réf. 2026-03-15"])]
    assert ground("5", 1, units=units).match == "unverified"  # inside 5,700.00
    assert ground("530848134", 1, units=units).match == "unverified"  # a SIREN inside a SIRET
    assert ground("URB", 1, units=units).match == "unverified"
    assert ground("EUR", 1, units=units).match == "exact"  # the whole token, not inside VILLEURBANNE
    c = ground("EUR", 1, units=units)
    assert c.boxes[0].y0 == 120  # the second line
    assert ground("2026-03", 1, units=units).match == "unverified"  # a date cut short
    assert ground("5,700.00", 1, units=units).match == "exact"
    spaced = [page(1, ["SIREN 530 848 134", "Capital 6 783,00 EUR", "TVA 530 848 134 001"])]
    assert ground("530 848 134", 1, units=spaced).page == 1
    assert ground("530848134", 1, units=spaced).match == "normalised"
    assert ground("6 783", 1, units=spaced).match == "unverified"  # the page continues: 6 783,00
    assert ground("783,00 EUR", 1, units=spaced).match == "unverified"  # the page starts earlier: 6 783,00


def test_exact_elsewhere_beats_fuzzy_on_the_cited_page():
    units = [page(1, ["Figure 1: Throughput of the parser on scanned pages"]),
             page(2, ["Some other text here"]),
             page(3, ["Figure 2: Throughput of the parser on scanned pages"])]
    c = ground("Figure 2: Throughput of the parser on scanned pages", 1, units=units)
    assert c.match == "relocated" and c.page == 3 and c.claimed_page == 1


def test_ellipsis_quote_matches_its_parts_in_order_each_boxed():
    c = ground("The Customer pays a monthly fee … on the first business day", 2)
    assert c.match == "normalised" and c.page == 2
    assert len(c.boxes) == 2 and c.boxes[0].y0 < c.boxes[1].y0
    assert ground("on the first business day ... The Customer pays", 2).match == "unverified"  # out of order
    assert ground("... monthly fee of EUR 4,500.00", 2).match == "exact"  # a leading ellipsis is dropped


def test_short_quote_with_one_extra_edge_word_is_partial():
    c = ground("approximately Contoso Retail", 1)
    assert c.match == "partial" and 0 < c.score < 1 and c.boxes
    assert ground("Contoso Retail GmbH total", 1).match == "partial"
    assert ground("Cantoso Retail", 1).match == "unverified"  # a changed letter in a name, not an extra word


def test_persian_and_arabic_forms_and_digits():
    units = [page(1, ["شركة الكتب العربية", "المبلغ 1250 دينار بتاريخ 2024/05/17"])]
    assert ground("شرکة الکتب العربیة", 1, units=units).match == "normalised"  # Persian kaf and yeh
    assert ground("المبلغ ١٢٥٠ دينار", 1, units=units).match == "normalised"  # Arabic-Indic digits
    assert ground("المبلغ ۱۲۵۰ دينار", 1, units=units).match == "normalised"  # Persian digits
    assert ground("المبلغ ١٢٦٠ دينار", 1, units=units).match == "unverified"
    # a right-to-left text layer that stores a date backwards, either way round
    reversed_layer = [page(1, ["بتاريخ 71/50/4202", "المرجع 2024/05/17"])]
    assert ground("بتاريخ 2024/05/17", 1, units=reversed_layer).match in ("normalised", "exact")
    assert ground("بتاريخ 2024/05/18", 1, units=reversed_layer).match == "unverified"


def test_a_quote_across_a_page_break_gets_a_citation_on_each_page(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    units = contract_across_a_page_break(tmp_path, spool)
    grounder = DocumentGrounder(units)
    quote = "monthly fee of EUR 4,500.00 invoiced on the first business day of each month"
    first, second = grounder.ground_all(ClaimedCitation(doc_id="d", page=1, quote=quote), value="EUR 4,500.00")
    assert (first.page, second.page) == (1, 2) and first.match == second.match == "exact"
    assert first.value_supported and second.value_supported
    assert first.quote == second.quote == quote  # what was claimed; the boxes say where each part is
    (box1,), (box2,) = first.boxes, second.boxes
    assert box1.y0 > 700 - 20 and box2.y1 < 100 + 20  # the bottom of page 1, the top of page 2
    assert "runs on to page 2" in first.reason and "runs on from page 1" in second.reason
    from_second = grounder.ground(ClaimedCitation(doc_id="d", page=2, quote=quote))
    assert (from_second.page, from_second.match, from_second.boxes) == (1, "exact", first.boxes)
    # not verified: halves that are not on facing pages' body text, nor a sentence the pages do not hold
    for made_up in ("Northwind Analytics delivers the reports listed in Annex A. first business day",
                    "monthly fee of EUR 4,500.00 invoiced on the last business day of each month",
                    "invoiced on the Services Agreement - Northwind / Contoso first business day"):
        assert DocumentGrounder(units).ground(ClaimedCitation(doc_id="d", page=1, quote=made_up)).match == "unverified", made_up
    # relocation off: only the cited page's pairs
    units3 = units + [units[0].model_copy(update={"page": 3, "words": []})]
    assert DocumentGrounder(units3, relocate=False).ground(ClaimedCitation(doc_id="d", page=3, quote=quote)).match == "unverified"


def test_bad_quotes_and_citations_are_unverified_with_a_reason():
    for quote in ["", "   ", "\x00\x01\x02", "... ,;:", "—"]:
        c = ground(quote, 2)
        assert c.match == "unverified" and c.reason
    c = ground("word " * 3000, 2)
    assert c.match == "unverified" and c.reason
    c = ground("monthly fee", 99)
    assert c.match == "relocated" and c.page == 2
    frames = [FrameUnit(doc_id="d", index=i, t_seconds=float(i), image=REF, image_width=10, image_height=10, width=320,
                        height=240, words=[Word(text="Revenue", x0=1, y0=1, x1=50, y1=10)]) for i in range(3)]
    c = ground("Revenue", t=600.0, units=frames)  # ten minutes into a three-second video
    assert c.match == "relocated" and "not in the document" not in (c.reason or "")
    c = ground("Profit", t=600.0, units=frames)
    assert c.match == "unverified" and "not in the document" in c.reason


def test_value_support_checks_numbers_dates_and_short_strings():
    g = DocumentGrounder(PAGES)

    def cite(quote, page_no, value):
        return g.ground(ClaimedCitation(doc_id="d", page=page_no, quote=quote), value=value)

    assert cite("Total due: EUR 6,783.00", 3, 6783.0).value_supported is True
    assert cite("Total due: EUR 6,783.00", 3, "6.783,00").value_supported is True
    c = cite("Total due: EUR 6,783.00", 3, 6738.0)  # right quote, wrong value
    assert c.match == "exact" and c.value_supported is False and c.reason.startswith("value_not_supported")
    assert cite("dated 3 March 2026", 1, "2026-03-03").value_supported is True
    assert cite("dated 3 March 2026", 1, "2026-03-04").value_supported is False
    assert cite("Contoso Retail GmbH", 1, "Contoso Retail GmbH").value_supported is True
    assert cite("Contoso Retail GmbH", 1, "Fabrikam Retail GmbH").value_supported is False
    assert cite("Contoso Retail GmbH", 1, True).value_supported is None  # not checkable against words


def test_a_long_value_is_checked_against_the_text_its_quote_begins():
    """A value longer than its quote (a clause, a paragraph: quotes hold at most 160 characters) is
    checked against the words the quote lies among, so its numbers past the quote are found where the page
    has them, and a number the page does not have there is still refused."""
    g = DocumentGrounder(PAGES)
    clause = ("The Customer pays a monthly fee of EUR 4,500.00 invoiced on the first business day of each month. "
              "Either party may termi- nate with ninety days notice.")

    def cite(quote, value):
        return g.ground(ClaimedCitation(doc_id="d", page=2, quote=quote), value=value)

    assert cite("The Customer pays a monthly fee", clause).value_supported is True
    assert cite("on the first business day of each month.", clause).value_supported is True  # a quote inside it
    wrong = cite("The Customer pays a monthly fee", clause.replace("4,500.00", "5,400.00"))
    assert wrong.value_supported is False and wrong.reason.startswith("value_not_supported")
    short = cite("The Customer pays a monthly fee", "monthly fee of EUR 4,500.00")  # no longer than its quote
    assert short.value_supported is False


def test_extraction_is_verified_only_when_located_and_supported():
    from schemas.records import Extraction

    g = DocumentGrounder(PAGES)
    good = g.ground(ClaimedCitation(doc_id="d", page=3, quote="Total due: EUR 6,783.00"), value=6783.0)
    wrong_value = g.ground(ClaimedCitation(doc_id="d", page=3, quote="Total due: EUR 6,783.00"), value=6738.0)
    missing = g.ground(ClaimedCitation(doc_id="d", page=3, quote="Total due: EUR 6,738.00"), value=6738.0)
    assert Extraction(doc_id="d", field="total", value=6783.0, citations=[good]).verified
    assert not Extraction(doc_id="d", field="total", value=6738.0, citations=[wrong_value, missing]).verified
    assert not Extraction(doc_id="d", field="total", value=None, citations=[]).verified
