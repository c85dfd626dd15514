"""Shared fixtures: corpus paths, the tiny model (built once per cache folder), one Prefect harness."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
CORPUS = Path(os.environ.get("GEMMADOC_CORPUS", ROOT.parent / "shared" / "corpus"))

from pipeline.mupdf import skip_layout_analyser  # noqa: E402 - as the CLI's process does

skip_layout_analyser()
os.environ.setdefault("GEMMADOC_CACHE", str(ROOT / ".cache" / "gemmadoc"))
os.environ["GEMMADOC_BACKEND_PLUGINS"] = "tests.doubles"  # `--model scripted:` in this process and in CLI subprocesses

from flows.prefect_env import configure  # noqa: E402

configure()


def manifest_rows() -> list[dict]:
    path = CORPUS / "MANIFEST.tsv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="session")
def tiny_backend():
    from model.registry import get_backend

    from schemas.options import TransformersOptions

    return get_backend(TransformersOptions(model="tiny-random"))


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def spool(tmp_path):
    d = tmp_path / "spool"
    d.mkdir()
    return d


def contract_across_a_page_break(tmp_path, spool):
    """Two PDF pages with a running header and footer, a sentence that runs from one onto the other."""
    import pymupdf

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from schemas.options import IngestOptions

    doc = pymupdf.open()
    body = [["1. Services. Northwind Analytics delivers the reports listed in Annex A.",
             "2. Fees. The Customer pays a monthly fee of EUR 4,500.00 invoiced on the"],
            ["first business day of each month and payable within thirty days.",
             "3. Term. This agreement runs for twenty-four months."]]
    for n, lines in enumerate(body, start=1):
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 40), "Services Agreement - Northwind / Contoso - confidential", fontsize=8)
        for k, line in enumerate(lines):
            page.insert_text((72, 700 + 40 * k - (0 if n == 1 else 600)), line, fontsize=11)
        page.insert_text((280, 815), f"Page {n} of 2", fontsize=8)
    doc.save(tmp_path / "contract.pdf")
    return ingest_document(discover([tmp_path / "contract.pdf"]).documents[0], IngestOptions(ocr="off"), spool).units


def till_roll_pdf(path: Path) -> Path:
    """A one-page receipt on a till roll, 80 mm x 600 mm (227 x 1701 pt), 60 item lines."""
    import pymupdf

    pdf = pymupdf.open()
    page = pdf.new_page(width=227, height=1701)
    for i in range(60):
        page.insert_text((12, 30 + i * 27), f"ITEM {i:03d}  {i * 1.25:8.2f}", fontsize=9)
    pdf.save(path)
    return path


def needs_corpus():
    return pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="shared corpus not present")


# ---------------------------------------------------------------- a real headless browser
# Debian's Chromium driven by Playwright (never `playwright install`: it downloads from outside the
# package registries). Flags for a closed network; file:// pages may read their own video frames.
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"]


def find_chromium() -> str | None:
    """CHROMIUM_BIN, else Debian's chromium-headless-shell, else chromium, on PATH."""
    import shutil

    if os.environ.get("CHROMIUM_BIN"):
        return os.environ["CHROMIUM_BIN"]
    return shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_bin():
    path = find_chromium()
    if path is None:
        message = "no headless Chromium: run `sh tools/ensure_browser.sh` (make test does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI never goes green by skipping the browser tests
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser(chromium_bin):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_bin, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    """A fresh page that fails the test on any console error, page error or failed request."""
    context = browser.new_context(viewport={"width": 1100, "height": 700}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.on("requestfailed", lambda r: errors.append(f"requestfailed: {r.url} {r.failure}"))
    yield pg
    context.close()
    if errors:
        pytest.fail("browser errors:\n" + "\n".join(errors))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for servers that fixtures start)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
