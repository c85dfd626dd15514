"""Scans in scripts OCR does not read: how many are caught, and how many Latin or Chinese scans are wrongly
taken for one.

Workload: an invoice paragraph typeset in Russian, Ukrainian, Greek, Arabic, Hebrew and Korean (DejaVu
Sans and PyMuPDF's CJK fonts), and in English, German, Chinese and Japanese, each rendered at 150 dpi and at
half that (a small photo); plus every corpus scan OCR reads (images, and the first 6 pages of PDFs without
a text layer). Each picture is read by `ocr_page`; the baseline, in the same run, is `ocr_page` with the
check switched off (every word OCR found, as before it existed).

    python bench/unread_scripts.py

Ends with `RESULT unread_caught=... unread_pictures=... words_leaked_before=... words_leaked_after=...
readable_pictures=... false_alarms=... seconds=...`."""

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
}
READ = {
    "english": "Invoice number 1542 dated 12 March 2026. Total due: 4,835.00 EUR. Supplier: Acme Ltd.",
    "german": "Rechnung Nr. 1542 vom 12. März 2026. Gesamtbetrag: 4.835,00 EUR. Lieferant: Müller GmbH.",
    "chinese": "发票号码 1542 开票日期 2026年3月12日 合计金额 ¥4,835.00 销售方 北京ABC科技有限公司",
    "japanese": "請求書番号 1542 発行日 2026年3月12日 合計金額 4,835円 株式会社サンプル",
}
CJK_FONTS = {"korean": "korea", "chinese": "china-s", "japanese": "japan"}


def typeset(name: str, text: str):
    """The paragraph four times on an A4 page, as RGB pixels at 150 dpi."""
    import numpy as np
    import pymupdf

    font = {"fontname": CJK_FONTS[name]} if name in CJK_FONTS else {"fontfile": DEJAVU, "fontname": "F0"}
    page = pymupdf.open().new_page()
    page.insert_textbox(pymupdf.Rect(60, 80, 535, 500), (text + "\n") * 4, fontsize=14, **font)
    pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csRGB)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3)


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

    with mock.patch.object(ocr, "script_unread", lambda lines: False):
        return ocr.ocr_page(pixels)


def main() -> None:
    import cv2
    import numpy as np

    from pipeline.ingest.ocr import ocr_page

    start = time.perf_counter()
    caught = pictures = before = after = 0
    for name, text in UNREAD.items():
        pixels = typeset(name, text)
        for scale in (1.0, 0.5):
            shown = np.ascontiguousarray(cv2.resize(pixels, None, fx=scale, fy=scale) if scale != 1 else pixels)
            reading = ocr_page(shown)
            leaked = len(unchecked(shown).words)
            pictures += 1
            caught += bool(reading.unread)
            before += leaked
            after += len(reading.words)
            print(f"{name:10s} @{scale}: {'caught' if reading.unread else 'MISSED'}: {leaked} words before, "
                  f"{len(reading.words)} after  {reading.unread[:40]!r}", flush=True)
    readable = alarms = 0
    scans = [(f"{n}@{s}", np.ascontiguousarray(cv2.resize(typeset(n, t), None, fx=s, fy=s) if s != 1 else typeset(n, t)))
             for n, t in READ.items() for s in (1.0, 0.5)]
    for name, pixels in [*scans, *corpus_scans()]:
        reading = ocr_page(np.ascontiguousarray(pixels))
        readable += 1
        if reading.unread:
            alarms += 1
            print(f"FALSE ALARM {name}: {reading.unread!r}", flush=True)
    print(f"{readable} readable pictures (typeset Latin and CJK, and corpus scans), {alarms} taken for unread scripts")
    print(f"RESULT unread_caught={caught} unread_pictures={pictures} words_leaked_before={before} words_leaked_after={after} "
          f"readable_pictures={readable} false_alarms={alarms} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
