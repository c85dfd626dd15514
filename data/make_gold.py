"""Write data/gold/corpus_<schema>.jsonl: gold labels for a slice of ../shared/corpus made from its own ground
truth (SROIE key files -> receipt schema, invoice2data expected JSON -> invoice schema, FUNSD QA pairs ->
key_facts title), with the converters of `gemmadoc eval`. Paths are relative to data/gold/.

    python data/make_gold.py [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLD = HERE / "gold"
sys.path.insert(0, str(HERE.parent))

from evaluate.gold import from_funsd_qa, from_invoice2data, from_sroie  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(HERE.parent.parent / "shared" / "corpus"))
    corpus = Path(ap.parse_args().corpus)
    gt, docs = corpus / "groundtruth", corpus / "docs"
    lines = {"receipt": [], "invoice": [], "key_facts": []}
    for key in sorted(gt.glob("sroie_*.key.json")):
        lines["receipt"].append(from_sroie(key, docs / key.name.replace(".key.json", ".jpg")))
    for exp in sorted(gt.glob("invoice2data_*.json")):
        lines["invoice"].append(from_invoice2data(exp, docs / exp.name.replace(".json", ".pdf")))
    for qa in sorted(gt.glob("funsd_qa_pairs_*.json")):
        lines["key_facts"].append(from_funsd_qa(qa, docs / f"funsd_{qa.stem.removeprefix('funsd_qa_pairs_')}.png"))
    for schema, items in lines.items():
        path = GOLD / f"corpus_{schema}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for item in items:
                item["path"] = os.path.relpath(item["path"], GOLD)
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{path.name}: {len(items)} documents")


if __name__ == "__main__":
    main()
