"""PyMuPDF without its layout analyser in the processes gemmadoc starts.

pymupdf 2.0 depends on pymupdf_layout and imports it with itself, which loads an ONNX layout model:
about 0.9 s and 56 MB in every process that imports PyMuPDF, each page worker included (a worker
capped at 512 MB of address space cannot even import it). gemmadoc never calls `Page.get_layout()`,
the one user of that model, so its CLI and workers import PyMuPDF without it. A program that imports
gemmadoc as a library keeps PyMuPDF as it is."""

from __future__ import annotations

import sys


def skip_layout_analyser() -> None:
    """Make `import pymupdf` skip `pymupdf.layout` in this process (when PyMuPDF is not imported yet)."""
    if "pymupdf" not in sys.modules:
        sys.modules.setdefault("pymupdf.layout", None)  # PyMuPDF catches the ImportError this gives
