"""Image budgets by print size vs by text coverage: how much of each page's text the model can read, and
the image tokens it costs.

Every PDF and image of the corpus (`docs/`, the first `--pages` pages of each) is ingested with default
options. Each page with measurable words gets two budgets: the one gemmadoc gives it
(`pipeline.legibility.unit_budget`: the lowest that shows its small print 12 px tall, never below the
coverage's for a scan) and the one it gave before 0.3.11, in the same run (the budget its text coverage
asked for). Each prompt image the planner builds at that budget (`pipeline.prompt.unit_segments`) is
resized as Gemma 4's processor resizes it (`model_view.py`) and read back by OCR as a judge of
legibility: a word (3+ letters or digits) of the page counts as read when OCR reads it in that view.
Pages whose budget is the same both ways are read once.

    python bench/print_size.py [--pages 4]

Ends with `RESULT words_read=... words_read_coverage=... worst_page=... worst_page_coverage=...
token_ratio=... pages=... raised=... lowered=... seconds=...` (`words_read`: the mean share of a page's
words read, by print size; `*_coverage`: by text coverage; `worst_page`: the lowest page's share;
`token_ratio`: image tokens by print size / by coverage)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _model_view():
    spec = importlib.util.spec_from_file_location("model_view", ROOT / "bench" / "model_view.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_share(unit, budget: int, view) -> tuple[float, int]:
    """Share of the unit's words (3+ letters or digits) OCR reads in the model's views at `budget`, and
    the image tokens (`view`: bench/model_view.py)."""
    from model.images import load_image
    from pipeline.prompt import unit_segments

    images = [load_image(s.image) for s in unit_segments(unit, budget, False) if s.kind == "image"]
    return view.words_read(images, [w.text for w in unit.words if sum(c.isalnum() for c in w.text) >= 3], budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--pages", type=int, default=4, help="pages read of each document")
    args = parser.parse_args()

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.legibility import clamp_budget, density_budget, print_height, unit_budget
    from schemas.options import IngestOptions, PlanOptions

    view = _model_view()
    budgets = PlanOptions().budgets()
    start = time.perf_counter()
    shares = {"size": [], "coverage": []}
    tokens = {"size": 0, "coverage": 0}
    raised = lowered = 0
    files = sorted(p for p in (args.corpus / "docs").iterdir() if p.suffix.lower() in {".pdf", ".png", ".jpg", ".jpeg"})
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            docs = discover([path]).documents
            if not docs:
                continue
            result = ingest_document(docs[0], IngestOptions(max_pages=args.pages), Path(tmp) / "spool")
            for unit in result.units:
                if print_height(unit) is None:
                    continue  # too few words to measure: the coverage budget either way
                by_size = unit_budget(unit, budgets)
                by_coverage = clamp_budget(density_budget(unit.density), budgets)
                size = read_share(unit, by_size, view)
                cover = size if by_coverage == by_size else read_share(unit, by_coverage, view)
                raised += by_size > by_coverage
                lowered += by_size < by_coverage
                for side, (share, n) in (("size", size), ("coverage", cover)):
                    shares[side].append(share)
                    tokens[side] += n
                print(f"{path.name[:44]:44s} p{getattr(unit, 'page', 0):<3d} coverage {by_coverage:4d}: {cover[0]:.3f}"
                      f"  print size {by_size:4d}: {size[0]:.3f}", flush=True)
    mean = {k: sum(v) / len(v) for k, v in shares.items()}
    print(f"RESULT words_read={mean['size']:.3f} words_read_coverage={mean['coverage']:.3f}"
          f" worst_page={min(shares['size']):.3f} worst_page_coverage={min(shares['coverage']):.3f}"
          f" token_ratio={tokens['size'] / tokens['coverage']:.2f} pages={len(shares['size'])} raised={raised}"
          f" lowered={lowered} seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
