"""Scans in scripts OCR does not read (RapidOCR reads Latin, digits and Chinese): their look-alike words are
left out, with an unread_script warning, unless Tesseract has a model of their script, which then reads them;
Latin, Chinese and Japanese scans keep RapidOCR's words."""

import os
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.ingest import tesseract
from pipeline.ingest.scripts import lookalike, script_unread
from schemas.options import IngestOptions

# `make test` installs Tesseract and its script models (tools/ensure_tesseract.sh); CI never skips these
needs_tesseract = pytest.mark.skipif(not (tesseract.installed() and tesseract.installed().scripts) and not os.environ.get("CI"),
                                     reason="Tesseract with script models not installed: sh tools/ensure_tesseract.sh")


@pytest.fixture
def no_tesseract(monkeypatch):
    """This machine as one without Tesseract: scans in scripts RapidOCR does not read keep no words."""
    monkeypatch.setattr(tesseract, "installed", lambda: None)

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Cyrillic and Greek (Debian's fonts-dejavu-core)
TEXTS = {
    "english": ("Invoice number 1542 dated 12 March 2026. Total due: 4,835.00 EUR. Supplier: Acme Ltd.", {}),
    "korean": ("송장 번호 1542 날짜 2026년 3월 12일 총액 48,350원 공급자 주식회사 한빛", {"fontname": "korea"}),
    "japanese": ("請求書番号 1542 発行日 2026年3月12日 合計金額 4,835円 株式会社サンプル", {"fontname": "japan"}),
    "russian": ("Счёт-фактура № 1542 от 12 марта 2026 г. Поставщик: ООО Ромашка. Итого к оплате: 48 350,00 руб.",
                {"fontfile": str(DEJAVU), "fontname": "F0"}),
    "hebrew": ("חשבונית מס מספר 1542 מתאריך 12 במרץ 2026. סך הכל לתשלום: 4,835.00 ש״ח. ספק: אקמה בע״מ, רחוב הרצל 10",
               {"fontfile": str(DEJAVU), "fontname": "F0"}),
}


def page_pixels(text: str, font: dict):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(60, 80, 535, 400), (text + "\n") * 4, fontsize=14, **font)
    pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csRGB)
    return pix


def scanned_pdf(path: Path, names: list[str]) -> Path:
    scan = pymupdf.open()
    for name in names:
        pix = page_pixels(*TEXTS[name])
        scan.new_page(width=595, height=842).insert_image(pymupdf.Rect(0, 0, 595, 842), stream=pix.tobytes("png"))
    scan.save(path)
    return path


def test_look_alike_words_are_told_from_words_run_together():
    """OCR runs words together on receipts ('TotalAmount'); look-alikes of another script mix scripts, put
    digits between letters or capitals where no words meet."""
    real = "Rechnung McDonald PayPal iPhone YouTube RoundingAdjustment TotalAmount: CashReceived ***ThankYou " \
           "JalanKenari5.BandarPuchongJaya Invoicenumber1542dated12March2026.Totaldue COVID19 USB-C ABCHOTRADING Lieferant:Muller 北京ABC科技 iPhone手机"
    fake = "MapTa onnaTe ocTaB C4eT-ΦaKTypa IJlplJs yoP αptθ nμεpoμnviα Mαptiou E0vo npwμnc"
    assert [w for w in real.split() if lookalike(w)] == []
    assert all(lookalike(w) for w in fake.split())
    assert lookalike("No") is None and lookalike("1542") is None


def test_ink_without_characters_is_an_unread_script():
    """Hangul read as digits alone: lines 40 line heights long holding 11 characters."""
    assert script_unread([("15422026312", 400.0, 10.0), ("48,350", 300.0, 10.0)])
    assert not script_unread([("Invoice number 1542 dated 12 March 2026.", 200.0, 10.0)] * 3)
    assert not script_unread([("15422026312", 40.0, 10.0)])  # too little to judge


def test_latin_letters_without_vowels_are_an_unread_script():
    """Hebrew read by OCR (the lines of bench/unread_scripts.py's Hebrew scan): consonant look-alikes and
    digits, too few letters a word to judge as words; a Latin reading of codes and abbreviations keeps
    its vowels."""
    hebrew = ['9154212Y2026.7777I: 4,835.00 v"n. 097: x7nn y"n, n nny7 10 n',
              '1542 12Y 2026.07777I: 4,835.00 w"n. 097: x7nn y"n, nn ny7 10 n',
              '1542 12Y 2026.07777I: 4,835.00 v"n. D97: N7nn 2y"n, 7nI nny7 10']
    assert script_unread([(line, 900.0, 30.0) for line in hebrew])
    receipt = ["QTY 2 PCS SKU 4711-XL TTL RM 12.50", "GST 6% SR 0.75 CASH CHANGE", "Thank you please come again"]
    assert not script_unread([(line, 600.0, 30.0) for line in receipt])
    assert not script_unread([("xyz nnn 1542", 200.0, 30.0)])  # too few letters to judge


def test_a_scan_in_a_script_ocr_does_not_read_keeps_no_words_and_says_so(tmp_path, spool, no_tesseract):
    names = ["english", "korean", "japanese"] + (["russian", "hebrew"] if DEJAVU.exists() else [])
    doc = discover([scanned_pdf(tmp_path / "mixed.pdf", names)]).documents[0]
    res = ingest_document(doc, IngestOptions(), spool)
    by_name = dict(zip(names, res.units))
    assert "4,835.00" in " ".join(w.text for w in by_name["english"].words)
    assert len(by_name["japanese"].words) > 20 and by_name["japanese"].text_source == "ocr"  # kanji are read
    unread = [n for n in names if n in ("korean", "russian", "hebrew")]
    for name in unread:
        assert by_name[name].words == [] and by_name[name].text_source == "none", name
        assert by_name[name].density > 0  # its budget comes from its ink
    (warning,) = [e for e in res.errors if e.kind == "unread_script"]
    assert warning.severity == "warning" and warning.page == 2
    assert f"page{'s' if len(unread) > 1 else ''} {', '.join(str(names.index(n) + 1) for n in unread)} " in warning.message
    assert "1542" in warning.message and "left out" in warning.message
    assert "apt-get install tesseract-ocr" in warning.message  # what to install to have them read


def test_an_image_and_video_frames_in_such_a_script_say_so(tmp_path, spool, no_tesseract):
    import cv2

    pix = page_pixels(*TEXTS["korean"])
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    cv2.imwrite(str(tmp_path / "notice.png"), pixels[..., ::-1])
    res = ingest_document(discover([tmp_path / "notice.png"]).documents[0], IngestOptions(), spool)
    assert res.units[0].words == []
    assert [e.message.split(" (")[0] for e in res.errors] == ["OCR does not read the script of the image"]

    small = cv2.resize(pixels[..., ::-1], (620, 877))
    english = page_pixels(*TEXTS["english"])
    english = cv2.resize(np.frombuffer(english.samples, np.uint8).reshape(english.h, english.w, 3)[..., ::-1], (620, 877))
    out = cv2.VideoWriter(str(tmp_path / "slides.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 1, (620, 877))
    for frame in (english, small, english, small):  # Korean at 1 s and 3 s
        out.write(np.ascontiguousarray(frame))
    out.release()
    res = ingest_document(discover([tmp_path / "slides.avi"]).documents[0], IngestOptions(dedup_threshold=0), spool)
    assert [bool(u.words) for u in res.units] == [True, False, True, False]
    (warning,) = [e for e in res.errors if e.kind == "unread_script"]
    assert warning.t_seconds == 1.0 and "the frames at 00:01, 00:03 " in warning.message


@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans (fonts-dejavu-core) not installed")
def test_a_born_digital_page_in_such_a_script_keeps_its_text_layer(tmp_path, spool):
    doc = pymupdf.open()
    doc.new_page().insert_textbox(pymupdf.Rect(60, 80, 535, 400), TEXTS["russian"][0], fontsize=14, **TEXTS["russian"][1])
    doc.save(tmp_path / "born.pdf")
    res = ingest_document(discover([tmp_path / "born.pdf"]).documents[0], IngestOptions(), spool)
    assert res.units[0].text_source == "pdf" and "Ромашка." in [w.text for w in res.units[0].words]
    assert not [e for e in res.errors if e.kind == "unread_script"]


def test_arabic_as_printed_reads_as_fragments():
    """Joined Arabic (the lines RapidOCR read off bench/unread_scripts.py's Arabic page): runs of one or two
    letters; a receipt's codes and a form's short words stay well under half such tokens."""
    arabic = ["g .p 4835 :>y gl .2026 wl 12  1542 p gl", "ioll jGiU Jgil uw", "9l .p 4835 :>y el .2026 w 12  1542 pg",
              "äolll jiW Jgil aS", "9 .p 4835 :>yl el .2026 wl 12 l 1542 p 6gl", "äobll :jGiU Jgill aSé"]
    assert script_unread([(line, 960.0, 41.0) for line in arabic])
    # read in soft contrast (each line as the pipeline shows it): fewer fragments, read unsurely
    soft = ["gol .poy 4835 :o>yl glol .2026 wl 12 l 1542 p 6gl", "iolll yGiJgill ayuw", "gol .p 4835 :>yl gl .2026 wl 12  1542 p)g",
            "Lolell ojGiU Jgill aS ui", "gol .poy 4835 :>ylelol .2026 wl 12 l 1542 p 6gl", "obell jGilJgill aS yuw",
            "gol .p 4835 :o>y ell .2026 w 12 l 1542 p)gl", "Lo lell oyGiUjgill aSyi"]
    assert script_unread([(line, 960.0, 41.0) for line in soft], confidence=0.73)
    assert not script_unread([(line, 960.0, 41.0) for line in soft], confidence=0.95)  # that share, read surely: prose's short words
    prose = ["El presente contrato tiene por objeto la prestación de servicios", "de consultoría informática a la empresa contratante,",
             "de acuerdo con las condiciones establecidas en el anexo."] * 2  # a third of its words are fragments
    assert not script_unread([(line, 900.0, 30.0) for line in prose], confidence=0.97)
    receipt = ["QTY 2 PCS SKU 4711-XL TTL RM 12.50", "GST 6% SR 0.75 CASH CHANGE", "Thank you please come again",
               "Tel No: 03-8061 1234 GST ID No: 0012", "Item Qty Price Amt RM to be paid in MYR by card"]
    assert not script_unread([(line, 600.0, 30.0) for line in receipt])


def typeset_html(text: str, right_to_left: bool = False) -> pymupdf.Pixmap:
    """The paragraph four times through HarfBuzz (joined Arabic, lines laid out right to left), at 150 dpi."""
    page = pymupdf.open().new_page()
    css = "@font-face {font-family: dv; src: url(DejaVuSans.ttf);} body {font-family: dv; font-size: 14pt;}"
    way = ' dir="rtl"' if right_to_left else ""
    page.insert_htmlbox(pymupdf.Rect(60, 80, 535, 400), f"<p{way}>{text}</p>" * 4, css=css, archive=pymupdf.Archive(str(DEJAVU.parent)))
    return page.get_pixmap(dpi=150, colorspace=pymupdf.csRGB)


ARABIC = "فاتورة رقم 1542 بتاريخ 12 مارس 2026. المبلغ الإجمالي: 4835 درهم. المورد شركة النور للتجارة العامة"


@needs_tesseract
@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans (fonts-dejavu-core) not installed")
def test_tesseract_reads_scans_in_scripts_rapidocr_does_not(tmp_path, spool):
    """A scanned PDF of a Russian, an Arabic, a Korean and an English page: the first three are read by
    Tesseract's script models (words in their own letters, boxes on the page, quotes verified), the English
    one keeps RapidOCR's words, and no unread_script warning is left."""
    from pipeline.grounding import DocumentGrounder
    from schemas.records import ClaimedCitation

    scan = pymupdf.open()
    for pix in (page_pixels(*TEXTS["russian"]), typeset_html(ARABIC, right_to_left=True), page_pixels(*TEXTS["korean"]),
                page_pixels(*TEXTS["english"])):
        scan.new_page(width=595, height=842).insert_image(pymupdf.Rect(0, 0, 595, 842), stream=pix.tobytes("png"))
    scan.save(tmp_path / "scans.pdf")
    res = ingest_document(discover([tmp_path / "scans.pdf"]).documents[0], IngestOptions(), spool)
    assert not [e for e in res.errors if e.kind == "unread_script"]
    russian, arabic, korean, english = res.units
    assert "Ромашка." in [w.text for w in russian.words] and russian.text_source == "ocr"
    assert "فاتورة" in [w.text for w in arabic.words]
    assert "한빛" in [w.text for w in korean.words]
    assert "4,835.00" in " ".join(w.text for w in english.words) and english.words[0].char_x  # RapidOCR's, with character edges
    for unit in (russian, arabic, korean):
        assert all(50 <= w.x0 < w.x1 <= 545 and 70 <= w.y0 < w.y1 <= 410 for w in unit.words), unit.page  # on the text, in points
    grounder = DocumentGrounder(res.units)
    for page, quote in ((1, "Итого к оплате"), (2, "بتاريخ 12 مارس"), (3, "공급자 주식회사 한빛")):
        cited = grounder.ground(ClaimedCitation(doc_id=res.units[0].doc_id, page=page, quote=quote))
        assert cited.match != "unverified" and cited.page == page and cited.boxes, (quote, cited)


@needs_tesseract
@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans (fonts-dejavu-core) not installed")
def test_an_upside_down_photo_in_cyrillic_is_read_and_shown_upright(tmp_path, spool):
    import cv2

    pix = page_pixels(*TEXTS["russian"])
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    cv2.imwrite(str(tmp_path / "invoice.png"), np.ascontiguousarray(np.rot90(pixels, 2))[..., ::-1])
    res = ingest_document(discover([tmp_path / "invoice.png"]).documents[0], IngestOptions(), spool)
    (unit,) = res.units
    assert "Ромашка." in [w.text for w in unit.words] and unit.image.turn == 2
    assert not res.errors


@needs_tesseract
def test_a_latin_page_taken_for_another_script_keeps_rapidocr_words(monkeypatch):
    """Tesseract's Latin model is the arbiter: when it reads the sample best, the page was Latin after all."""
    from pipeline.ingest import ocr

    pix = page_pixels(*TEXTS["english"])
    pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
    plain = ocr.ocr_page(pixels)
    monkeypatch.setattr(ocr, "script_unread", lambda lines, confidence=1.0: True)
    judged = ocr.ocr_page(pixels)
    assert judged.reader == "" and not judged.unread and [w.text for w in judged.words] == [w.text for w in plain.words]


def test_keys_change_with_the_scripts_tesseract_reads(monkeypatch):
    """Installing Tesseract's model of a script changes what its scans yield: cached ingests and results
    made without it are not reused."""
    from pipeline.documents import ingest_key
    from pipeline.ingest.tesseract import Installed

    monkeypatch.setattr(tesseract, "installed", lambda: None)
    without = ingest_key(IngestOptions())
    monkeypatch.setattr(tesseract, "installed", lambda: Installed("/usr/bin/tesseract", "tesseract 5.3.0", ("Cyrillic", "eng", "osd")))
    with_cyrillic = ingest_key(IngestOptions())
    monkeypatch.setattr(tesseract, "installed", lambda: Installed("/usr/bin/tesseract", "tesseract 5.3.0", ("eng", "osd")))
    assert without != with_cyrillic and ingest_key(IngestOptions()) == without  # Latin alone reads nothing new
