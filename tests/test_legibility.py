"""Image budgets by print size, on real corpus pages and on pages drawn at known print sizes."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pipeline.discover import discover
from pipeline.ingest import ingest_document
from pipeline.legibility import LEGIBLE_PX, density_budget, print_height, shown_height, unit_budget
from schemas.options import IngestOptions, PlanOptions

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "docs"
BUDGETS = PlanOptions().budgets()


def _units(path: Path, tmp_path: Path, ocr: str = "off", pages: int = 2000):
    doc = discover([path]).documents[0]
    return ingest_document(doc, IngestOptions(ocr=ocr, max_pages=pages), tmp_path / "spool").units


def _page(tmp_path: Path, fontsize: float, lines: int, name: str) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()  # A4
    for i in range(lines):
        page.insert_text((50, 60 + fontsize * 1.6 * i), f"Item {i}: delivery charge 12.{i:02d} EUR", fontsize=fontsize)
    doc.save(tmp_path / name)
    return tmp_path / name


def test_sparse_small_print_gets_the_budget_that_shows_it_and_large_print_fewer_tokens(tmp_path):
    """Few lines of 7-pt print (a sparse invoice) cover little of the page but need a high budget; many
    lines of 20-pt print cover much of it and read at a low one."""
    small = _units(_page(tmp_path, 7, 12, "small.pdf"), tmp_path)[0]
    large = _units(_page(tmp_path, 20, 22, "large.pdf"), tmp_path)[0]
    assert small.density < large.density
    b_small, b_large = unit_budget(small, BUDGETS), unit_budget(large, BUDGETS)
    assert b_small > b_large, (b_small, b_large)
    for unit, budget in ((small, b_small), (large, b_large)):
        height = print_height(unit)
        assert shown_height(unit, height, budget) >= LEGIBLE_PX
        lower = [b for b in BUDGETS if b < budget]
        assert not lower or shown_height(unit, height, lower[-1]) < LEGIBLE_PX  # the lowest that shows it


def test_budget_stays_within_the_allowed_range(tmp_path):
    tiny = _units(_page(tmp_path, 3, 10, "tiny.pdf"), tmp_path)[0]
    assert unit_budget(tiny, BUDGETS) == 1120  # none shows 3-pt print legibly: the highest
    assert unit_budget(tiny, [70, 140, 280]) == 280
    big = _units(_page(tmp_path, 28, 8, "big.pdf"), tmp_path)[0]
    assert unit_budget(big, [280, 560]) == 280


def test_a_page_without_measurable_words_keeps_the_coverage_budget(tmp_path):
    blank = _units(_page(tmp_path, 10, 0, "blank.pdf"), tmp_path)[0]
    assert print_height(blank) is None
    assert unit_budget(blank, BUDGETS) == 70


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_corpus_pages_small_print_up_large_print_down_scans_never_down(tmp_path):
    """A sparse invoice in small print (its coverage asked for 280) is raised; a paper in large print
    (coverage: 1120) is lowered; a scanned receipt in large print keeps its coverage budget, above the one
    its print asks for (OCR's boxes overstate its print), and a scanned bank statement in small print is raised."""
    invoice = _units(CORPUS / "invoice2data_QualityHosting.pdf", tmp_path)[0]
    assert unit_budget(invoice, BUDGETS) >= 560
    report = _units(CORPUS / "mupdf_test_3842_nist_sp800-223.pdf", tmp_path, pages=3)[2]
    assert report.text_source == "pdf" and unit_budget(report, BUDGETS) < 1120 == density_budget(report.density)
    receipt = _units(CORPUS / "sroie_042.jpg", tmp_path, ocr="auto")[0]
    by_size = next(b for b in BUDGETS if shown_height(receipt, print_height(receipt), b) >= LEGIBLE_PX)
    assert receipt.text_source == "ocr" and by_size < unit_budget(receipt, BUDGETS) == density_budget(receipt.density) >= 560
    statement = _units(CORPUS / "mupdf_test_4090_scanned_bank_statement.pdf", tmp_path, ocr="auto", pages=1)[0]
    assert unit_budget(statement, BUDGETS) > density_budget(statement.density)


def test_vertical_words_are_measured_by_their_short_side(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    for i in range(12):
        page.insert_text((60 + 14 * i, 700), f"Column heading {i}", fontsize=9, rotate=90)
    doc.save(tmp_path / "vertical.pdf")
    unit = _units(tmp_path / "vertical.pdf", tmp_path)[0]
    assert 8 <= print_height(unit) * unit.width / unit.image_width <= 14  # about the 9-pt print, not the words' length
