"""Scans in scripts RapidOCR does not read: how many are caught, how many Latin or Chinese scans are wrongly
taken for one, and how much of them Tesseract's script models then read.

Workload: an invoice paragraph typeset in Russian, Ukrainian, Greek, Arabic, Hebrew, Korean, Georgian and
Armenian (DejaVu Sans through HarfBuzz, `insert_htmlbox`, so Arabic is joined and right-to-left lines run
right to left; PyMuPDF's CJK font for Korean), and in English, German, Chinese and Japanese, each rendered
at 150 dpi and at half that (a small photo); plus every corpus scan OCR reads (images, and the first 6
pages of PDFs without a text layer). Each picture is read by `ocr_page`. Baselines, in the same run:
`ocr_page` with the script check switched off (every word RapidOCR found, as before the check existed),
and, for the pictures caught, the bare `tesseract` command given the right script model (the oracle that
needs no picking). Quotes: every run of three words of the paragraph, verified by `DocumentGrounder`
against each reading's words.

    python bench/unread_scripts.py

Ends with `RESULT unread_caught=... unread_pictures=... words_leaked_before=... words_leaked_after=...
readable_pictures=... false_alarms=... quotes=... quotes_verified=... quotes_verified_before=...
quotes_verified_tesseract_oracle=... seconds_per_caught_picture=...
seconds_per_caught_picture_without_tesseract=... seconds_per_picture_oracle=... seconds=...`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
UNREAD = {
    "russian": "Счёт-фактура № 1542 от 12 марта 2026 г. Поставщик: ООО Ромашка. Итого к оплате: 48 350,00 руб.",
    "ukrainian": "Рахунок-фактура № 77 від 3 квітня 2026 р. Постачальник: ТОВ Світанок. Разом до сплати: 12 400,00 грн.",
    "greek": "Τιμολόγιο αριθ. 1542, ημερομηνία 12 Μαρτίου 2026. Σύνολο πληρωμής: 4.835,00 ευρώ. Προμηθευτής: Άλφα ΑΕ.",
    "arabic": "فاتورة رقم 1542 بتاريخ 12 مارس 2026. المبلغ الإجمالي: 4835 درهم. المورد شركة النور للتجارة العامة",
    "hebrew": "חשבונית מס מספר 1542 מתאריך 12 במרץ 2026. סך הכל לתשלום: 4,835.00 ש״ח. ספק: אקמה בע״מ, רחוב הרצל 10",
    "korean": "송장 번호 1542 날짜 2026년 3월 12일 총액 48,350원 공급자 주식회사 한빛",
    "georgian": "ანგარიშ-ფაქტურა № 1542, თარიღი 12 მარტი 2026. სულ გადასახდელი: 4 835,00 ლარი. მომწოდებელი: შპს ალფა.",
    "armenian": "Հաշիվ-ապրանքագիր № 1542, ամսաթիվ 2026 թ. մարտի 12. Ընդամենը վճարման: 48 350 դրամ. Մատակարար՝ Ալֆա ՍՊԸ.",
}
ORACLE_MODEL = {"russian": "Cyrillic", "ukrainian": "Cyrillic", "greek": "Greek", "arabic": "Arabic", "hebrew": "Hebrew",
                "korean": "Hangul", "georgian": "Georgian", "armenian": "Armenian"}
RIGHT_TO_LEFT = {"arabic", "hebrew"}
READ = {
    "english": "Invoice number 1542 dated 12 March 2026. Total due: 4,835.00 EUR. Supplier: Acme Ltd.",
    "german": "Rechnung Nr. 1542 vom 12. März 2026. Gesamtbetrag: 4.835,00 EUR. Lieferant: Müller GmbH.",
    "chinese": "发票号码 1542 开票日期 2026年3月12日 合计金额 ¥4,835.00 销售方 北京ABC科技有限公司",
    "japanese": "請求書番号 1542 発行日 2026年3月12日 合計金額 4,835円 株式会社サンプル",
}
CJK_FONTS = {"korean": "korea", "chinese": "china-s", "japanese": "japan"}


def typeset(name: str, text: str):
    """The paragraph four times on an A4 page, as RGB pixels at 150 dpi: through HarfBuzz (joined Arabic,
    right-to-left lines laid out right to left), CJK with PyMuPDF's own fonts."""
    import numpy as np
    import pymupdf

    page = pymupdf.open().new_page()
    rect = pymupdf.Rect(60, 80, 535, 500)
    if name in CJK_FONTS:
        page.insert_textbox(rect, (text + "\n") * 4, fontsize=14, fontname=CJK_FONTS[name])
    else:
        way = ' dir="rtl"' if name in RIGHT_TO_LEFT else ""
        css = "@font-face {font-family: dv; src: url(DejaVuSans.ttf);} body {font-family: dv; font-size: 14pt;}"
        page.insert_htmlbox(rect, f"<p{way}>{text}</p>" * 4, css=css, archive=pymupdf.Archive(str(Path(DEJAVU).parent)))
    pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)


def quotes_of(text: str) -> list[str]:
    """Every run of three words of the paragraph."""
    words = text.split()
    return [" ".join(words[i:i + 3]) for i in range(len(words) - 2)]


def verified(words, pixels, quotes: list[str]) -> int:
    """How many of the quotes `DocumentGrounder` verifies against these words of the picture."""
    from pipeline.grounding import DocumentGrounder
    from schemas.records import ClaimedCitation, ImageRef, PageUnit

    h, w = pixels.shape[:2]
    unit = PageUnit(doc_id="d", page=1, width=w, height=h, image=ImageRef(kind="file", path=""), image_width=w,
                    image_height=h, words=words, text_source="ocr")
    grounder = DocumentGrounder([unit])
    return sum(grounder.ground(ClaimedCitation(doc_id="d", page=1, quote=q)).match != "unverified" for q in quotes)


def oracle(pixels, model: str):
    """The bare `tesseract` command with the right model on the picture: its words."""
    from pipeline.ingest.tesseract import tesseract_tsv
    from schemas.records import Word

    return [Word(text=t, x0=x0, y0=y0, x1=x1, y1=y1, ocr=True) for t, (x0, y0, x1, y1), _ in tesseract_tsv(pixels, model, psm=3)]


def corpus_scans():
    """(name, RGB pixels) of the corpus pictures OCR reads."""
    import numpy as np
    import pymupdf
    from PIL import Image

    pymupdf.TOOLS.mupdf_display_errors(False)
    for path in sorted(CORPUS.glob("*/*")):
        try:
            if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
                with Image.open(path) as im:
                    yield path.name, np.asarray(im.convert("RGB"))
            elif path.suffix.lower() == ".pdf":
                for i, page in enumerate(pymupdf.open(path)):
                    if i >= 6:
                        break
                    if len(page.get_text().strip()) < 20:
                        pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csRGB)
                        if pix.w * pix.h <= 30e6:
                            yield f"{path.name}#{i + 1}", np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)
        except Exception:  # noqa: BLE001 - the corpus's broken files: nothing to read
            continue


def unchecked(pixels):
    """`ocr_page` as it read before the script check: every word OCR found."""
    from unittest import mock

    from pipeline.ingest import ocr

    with mock.patch.object(ocr, "script_unread", lambda lines, confidence=1.0: False):
        return ocr.ocr_page(pixels)


def without_tesseract(pixels):
    """`ocr_page` as it read before Tesseract: a picture in a script RapidOCR does not read keeps no words."""
    from unittest import mock

    from pipeline.ingest import ocr, tesseract

    with mock.patch.object(tesseract, "installed", lambda: None):
        return ocr.ocr_page(pixels)


def main() -> None:
    import cv2
    import numpy as np

    from pipeline.ingest.ocr import ocr_page
    from pipeline.ingest.tesseract import installed

    start = time.perf_counter()
    found = installed()
    print(f"Tesseract: {found.version + ', models ' + ', '.join(found.models) if found else 'not installed'}")
    caught = pictures = before = after = 0
    quotes = ours = leaked_verified = by_oracle = 0
    ours_seconds = oracle_seconds = before_seconds = 0.0
    oracle_runs = 0
    for name, text in UNREAD.items():
        pixels = typeset(name, text)
        asked = quotes_of(text)
        for scale in (1.0, 0.5):
            shown = np.ascontiguousarray(cv2.resize(pixels, None, fx=scale, fy=scale) if scale != 1 else pixels)
            t0 = time.perf_counter()
            reading = ocr_page(shown)
            seconds = time.perf_counter() - t0
            leaked = unchecked(shown).words
            if hit := bool(reading.unread or reading.reader):
                t0 = time.perf_counter()
                without_tesseract(shown)
                before_seconds += time.perf_counter() - t0
            pictures += 1
            caught += hit
            before += len(leaked)
            after += 0 if reading.reader else len(reading.words)  # words of look-alikes that reached the model
            quotes += len(asked)
            ours += verified(reading.words, shown, asked)
            leaked_verified += verified(leaked, shown, asked)
            told = ""
            if hit:
                ours_seconds += seconds
                if found and ORACLE_MODEL[name] in found.models:
                    t0 = time.perf_counter()
                    right = oracle(shown, ORACLE_MODEL[name])
                    oracle_seconds += time.perf_counter() - t0
                    oracle_runs += 1
                    by_oracle += verified(right, shown, asked)
                    told = f", oracle {verified(right, shown, asked)}/{len(asked)}"
            print(f"{name:10s} @{scale}: {'caught' if hit else 'MISSED'}: {len(leaked)} words before; read by "
                  f"{reading.reader or '-'} ({len(reading.words)} words, {seconds:.1f}s), quotes verified "
                  f"{verified(reading.words, shown, asked)}/{len(asked)}{told}  {reading.unread[:40]!r}", flush=True)
    readable = alarms = 0
    scans = [(f"{n}@{s}", np.ascontiguousarray(cv2.resize(typeset(n, t), None, fx=s, fy=s) if s != 1 else typeset(n, t)))
             for n, t in READ.items() for s in (1.0, 0.5)]
    for name, pixels in [*scans, *corpus_scans()]:
        reading = ocr_page(np.ascontiguousarray(pixels))
        readable += 1
        if reading.unread or reading.reader:
            alarms += 1
            print(f"FALSE ALARM {name}: {reading.reader or reading.unread!r}", flush=True)
    print(f"{readable} readable pictures (typeset Latin and CJK, and corpus scans), {alarms} taken for unread scripts")
    print(f"RESULT unread_caught={caught} unread_pictures={pictures} words_leaked_before={before} words_leaked_after={after} "
          f"readable_pictures={readable} false_alarms={alarms} quotes={quotes} quotes_verified={ours} "
          f"quotes_verified_before={leaked_verified} quotes_verified_tesseract_oracle={by_oracle} "
          f"seconds_per_caught_picture={ours_seconds / max(1, caught):.2f} "
          f"seconds_per_caught_picture_without_tesseract={before_seconds / max(1, caught):.2f} "
          f"seconds_per_picture_oracle={oracle_seconds / max(1, oracle_runs):.2f} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
