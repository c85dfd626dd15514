"""Regenerate data/samples/ (all content written for gemmadoc, no third-party material).

    python data/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf

OUT = Path(__file__).parent / "samples"

CONTRACT = [
    ("SERVICES AGREEMENT", 18),
    ("Agreement No. SA-2026-0117", 11),
    ("This Services Agreement is made on 3 March 2026 between Northwind Analytics Ltd., "
     "12 Harbour Street, Leeds (the Supplier) and Contoso Retail GmbH, Kaiserstrasse 8, Frankfurt (the Customer).", 11),
    ("1. Term. The Agreement starts on 1 April 2026 and runs for twenty-four (24) months unless terminated earlier.", 11),
    ("2. Fees. The Customer pays a monthly fee of EUR 4,500.00, invoiced on the first business day of each month. "
     "Invoices are payable within 30 days.", 11),
    ("3. Indemnity. The Supplier shall indemnify the Customer against third-party claims arising from the Supplier's "
     "breach of data protection law.", 11),
    ("4. Limitation of liability. Each party's total liability is limited to the fees paid in the twelve months "
     "before the claim.", 11),
    ("5. Termination. Either party may terminate this Agreement with ninety (90) days' written notice.", 11),
    ("6. Governing law. This Agreement is governed by the laws of England and Wales.", 11),
]

INVOICE = [
    ("INVOICE", 18),
    ("Invoice number: INV-2026-0342", 11),
    ("Issue date: 1 May 2026    Due date: 31 May 2026", 11),
    ("From: Northwind Analytics Ltd., 12 Harbour Street, Leeds", 11),
    ("Bill to: Contoso Retail GmbH, Kaiserstrasse 8, Frankfurt", 11),
    ("Description                                   Qty        Amount", 11),
    ("Analytics platform subscription, May 2026     1          4,500.00", 11),
    ("Data onboarding workshop                      2          1,200.00", 11),
    ("Subtotal: EUR 5,700.00", 11),
    ("VAT 19%: EUR 1,083.00", 11),
    ("Total due: EUR 6,783.00", 12),
]

RECEIPT = [
    ("CORNER BAKERY", 20),
    ("44 Mill Lane, York", 12),
    ("Date: 14/05/2026  10:42", 12),
    ("2 x Sourdough loaf        8.40", 12),
    ("1 x Cinnamon bun          2.95", 12),
    ("TOTAL GBP                11.35", 14),
    ("Paid by card. Thank you!", 12),
]


def write_page(page, lines, top=72):
    y = top
    for text, size in lines:
        rect = pymupdf.Rect(72, y, page.rect.width - 72, y + 200)
        used = page.insert_textbox(rect, text, fontsize=size, fontname="helv")
        y += (200 - used) + size * 0.8 if used >= 0 else 40


def make_pdf(path: Path) -> None:
    doc = pymupdf.open()
    write_page(doc.new_page(width=595, height=842), CONTRACT[:6])
    write_page(doc.new_page(width=595, height=842), CONTRACT[6:] + [("Signed for the Supplier: J. Okafor. Signed for the Customer: M. Weber.", 11)])
    write_page(doc.new_page(width=595, height=842), INVOICE)
    doc.set_metadata({"title": "Northwind - Contoso services agreement and invoice", "author": "gemmadoc samples"})
    doc.save(path, garbage=4, deflate=True)


def make_scan(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=360)
    write_page(page, RECEIPT, top=30)
    pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.h, pix.w).copy()
    rng = np.random.default_rng(7)
    img = np.clip(img.astype(np.int16) - rng.integers(0, 40, img.shape) * (rng.random(img.shape) < 0.02), 0, 255).astype(np.uint8)
    m = cv2.getRotationMatrix2D((pix.w / 2, pix.h / 2), 1.2, 1.0)  # a slightly skewed scan
    img = cv2.warpAffine(img, m, (pix.w, pix.h), borderValue=255)
    cv2.imwrite(str(path), img)


def make_video(path: Path, seconds: int = 4, fps: int = 10) -> None:
    w, h = 480, 270
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    slides = ["Quarterly review", "Revenue up 12%", "New office in Leeds", "Questions?"]
    for i in range(seconds * fps):
        frame = np.full((h, w, 3), 245, np.uint8)
        text = slides[min(i // fps, len(slides) - 1)]
        cv2.putText(frame, text, (30, 140), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2, cv2.LINE_AA)
        cv2.putText(frame, f"slide {i // fps + 1}", (30, 230), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (90, 90, 90), 1, cv2.LINE_AA)
        writer.write(frame)
    writer.release()


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    make_pdf(OUT / "contract_and_invoice.pdf")
    make_scan(OUT / "scanned_receipt.png")
    make_video(OUT / "slides.mp4")
    for p in sorted(OUT.iterdir()):
        print(f"{p.name}: {p.stat().st_size} bytes")
