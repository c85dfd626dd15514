"""Bank statements generated for the long-list tests and bench/long_lists.py: an account holder, then rows
`DATE DESCRIPTION AMOUNT`, some of them the same row again (two coffees on one day, a monthly fee on
every page), as born-digital PDFs or as scans of them."""

from __future__ import annotations

import random
from pathlib import Path

FEE = ("2026-03-01", "Monthly account fee", "4.99")
SHOPS = ("Coffee Bar", "Grocer Lindqvist", "Rail ticket", "Bookshop Aurora", "Pharmacy", "Bakery Nord", "Cinema")


def statement_rows(pages: int, per_page: int, seed: int = 0) -> list[list[tuple[str, str, str]]]:
    """Each page's rows: the monthly fee first on every page, then purchases, each page's first purchase
    bought twice (the same row again)."""
    rng = random.Random(seed)
    out = []
    for p in range(pages):
        rows = [FEE]
        while len(rows) < per_page:
            row = (f"2026-03-{rng.randint(2, 28):02d}", rng.choice(SHOPS), f"{rng.randint(100, 9999) / 100:.2f}")
            rows.append(row)
            if len(rows) == 2 and len(rows) < per_page:
                rows.append(row)
        out.append(rows)
    return out


def write_statement(path: Path, pages: list[list[tuple[str, str, str]]], holder: str = "Jane Doe",
                    scanned_dpi: int | None = None, turned: int = 0) -> Path:
    """The statement as a PDF of text lines (11 pt, 15 pt apart), or as a scan of that at `scanned_dpi`,
    the scan turned `turned` quarters clockwise (put in the scanner sideways)."""
    import pymupdf

    doc = pymupdf.open()
    for k, rows in enumerate(pages):
        page = doc.new_page()
        y = 60
        if k == 0:
            page.insert_text((50, y), f"Account holder: {holder}", fontsize=11)
            y += 30
        for date, desc, amount in rows:
            page.insert_text((50, y), f"{date} {desc} {amount}", fontsize=11)
            y += 15
    if scanned_dpi:
        scan = pymupdf.open()
        for page in doc:
            pix = page.get_pixmap(dpi=scanned_dpi, colorspace=pymupdf.csGRAY)
            size = (page.rect.height, page.rect.width) if turned % 2 else (page.rect.width, page.rect.height)
            sheet = scan.new_page(width=size[0], height=size[1])
            if turned:
                import io

                from PIL import Image

                buf = io.BytesIO()
                Image.frombytes("L", (pix.width, pix.height), pix.samples).rotate(-90 * turned, expand=True).save(buf, "PNG")
                sheet.insert_image(sheet.rect, stream=buf.getvalue())
            else:
                sheet.insert_image(sheet.rect, pixmap=pix)
        doc = scan
    doc.save(path)
    return path


STATEMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "account_holder": {"type": "string"},
        "transactions": {"type": "array", "items": {"type": "object", "properties": {
            "date": {"type": "string"}, "description": {"type": "string"}, "amount": {"type": "number"}}}},
    },
}
