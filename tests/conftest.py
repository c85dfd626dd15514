"""Shared fixtures: corpus paths, the tiny model (built once per cache folder), one Prefect harness."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
CORPUS = Path(os.environ.get("GEMMADOC_CORPUS", ROOT.parent / "shared" / "corpus"))

os.environ.setdefault("GEMMADOC_CACHE", str(ROOT / ".cache" / "gemmadoc"))

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

    return get_backend("tiny-random")


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


def needs_corpus():
    return pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").exists(), reason="shared corpus not present")
