"""Every file of the shared corpus through discovery + ingest: counts match the manifest, hostile files
give the expected error kind, and nothing raises out of the stage."""

import math
import re
from pathlib import Path

import pytest

from pipeline.discover import discover
from pipeline.errors import StageError
from pipeline.ingest import ingest_document
from schemas.options import IngestOptions
from tests.conftest import CORPUS, manifest_rows

ROWS = manifest_rows()
OPTS = IngestOptions(ocr="off", page_timeout_s=3, doc_timeout_s=120)

# hostile files and what they must give (discover/ingest error kind, or "ok" with units)
EXPECTED_ERRORS = {
    "hostile/qpdf_bad1_not_a_pdf.pdf": "unsupported_type",
    "hostile/derived_docx_named_as.pdf": "unsupported_type",
    "hostile/pdfplumber_empty_0bytes.pdf": "empty",
    "hostile/moviepy_result_0bytes.webm": "empty",
    "hostile/derived_truncated_50pct_moviepy_example2.mp4": "unreadable_video",
    "hostile/qpdf_empty_zero_pages.pdf": "zero_pages",
    "hostile/pdfjs_issue9418_zero_pages.pdf": "zero_pages",
    "hostile/pdfjs_bug1020226_severely_corrupt.pdf": "zero_pages",
    "hostile/pdfjs_GHOSTSCRIPT-698804-1-fuzzed.pdf": "zero_pages",
    "hostile/mupdf_test_2548_structure_cycle.pdf": "render_timeout",
}


def expected_units(row: dict) -> int | None:
    """Pages from 'N p', frames at 1 fps from the last decodable frame's time."""
    if row["cv_last_frame_ms"] and row["cv_fps"]:
        return math.floor(float(row["cv_last_frame_ms"]) / 1000 + 0.02) + 1
    m = re.match(r"(\d+) p", row["pages_or_duration"])
    return int(m.group(1)) if m else None


def run_file(path: Path, opts: IngestOptions, spool: Path):
    found = discover([path])
    if found.errors:
        return found.errors[0].kind, None, found
    doc = found.documents[0]
    try:
        res = ingest_document(doc, opts, spool)
    except StageError as e:
        return e.kind, None, found
    hard = [e.kind for e in res.errors if e.severity == "error"]
    return (hard[0] if hard and not res.units else "ok"), res, found


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_corpus_file(row, spool):
    path = CORPUS / row["file"]
    kind, res, found = run_file(path, OPTS, spool)
    if row["file"] in EXPECTED_ERRORS:
        assert kind == EXPECTED_ERRORS[row["file"]]
        return
    if "encrypted" in row["category"] and row["mu_needs_pass"] == "True":
        assert kind == "encrypted"
        kind, res, _ = run_file(path, OPTS.model_copy(update={"passwords": [row["password"]]}), spool)
    assert kind == "ok", (row["file"], kind)
    want = expected_units(row)
    if want is not None and "truncated" not in row["category"]:
        assert len(res.units) == want
    if "wrong-extension" in row["category"]:
        assert any(w.kind == "wrong_extension" for w in found.warnings)
    for u in res.units:
        for w in u.words[:200]:
            assert -1 <= w.x0 <= w.x1 <= u.width + 1 and -1 <= w.y0 <= w.y1 <= u.height + 1, (row["file"], w)


def test_manifest_present_or_skipped():
    if not ROWS:
        pytest.skip("shared corpus not present")
    assert len(ROWS) > 40
