"""The pipeline version and the code it stands for. `PIPELINE_VERSION` (schemas/options.py) is part of
every work key: results made by other output-affecting code must not count as done. This file records
the digest of that code for the version; `tests/test_version.py` fails when the code changes and the
record does not.

After changing a module listed here: bump `PIPELINE_VERSION` if the change can alter any output, then
run `python tests/pipeline_version.py` to record the new digest (also when it cannot, a refactor say)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = Path(__file__).with_suffix(".json")
OUTPUT_AFFECTING = [  # what turns files into rows: ingest, prompt and packing, parsing, grounding, schemas
    "pipeline/ingest/*.py", "pipeline/grounding.py", "pipeline/textnorm.py", "pipeline/support.py", "pipeline/wrap.py",
    "pipeline/parse.py", "pipeline/packing.py", "pipeline/prompt.py", "pipeline/slices.py", "pipeline/legibility.py", "pipeline/extract.py", "pipeline/keys.py", "pipeline/prepare.py", "pipeline/validate.py", "pipeline/batching.py", "pipeline/parts.py", "pipeline/longanswers.py", "pipeline/bounds.py", "pipeline/onward.py", "pipeline/salvage.py",
    "model/grammar.py", "model/processor.py", "schemas/catalog.py", "schemas/builtin/*.json",
]


def digest() -> str:
    h = hashlib.sha256()
    for pattern in OUTPUT_AFFECTING:
        for path in sorted(ROOT.glob(pattern)):
            h.update(path.relative_to(ROOT).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def record() -> None:
    sys.path.insert(0, str(ROOT))
    from schemas.options import PIPELINE_VERSION

    RECORD.write_text(json.dumps({"version": PIPELINE_VERSION, "digest": digest()}, indent=2) + "\n")
    print(f"recorded {PIPELINE_VERSION} = {digest()}")


if __name__ == "__main__":
    record()
