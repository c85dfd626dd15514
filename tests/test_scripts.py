"""Scans in scripts OCR does not read (RapidOCR reads Latin, digits and Chinese): their look-alike words are
left out, with an unread_script warning; Latin, Chinese and Japanese scans keep theirs."""

from pathlib import Path

import numpy as np
import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.ingest.scripts import lookalike, script_unread
from schemas.options import IngestOptions

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


def test_a_scan_in_a_script_ocr_does_not_read_keeps_no_words_and_says_so(tmp_path, spool):
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


def test_an_image_and_video_frames_in_such_a_script_say_so(tmp_path, spool):
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
