"""What the model can read of pages far longer (or wider) than a page: a 1440 x 12000 px screenshot, a
scanned till roll, a 3000 x 900 px wide screenshot (the workloads of `ocr_reach.py`, text known), and an A4
page as a control.

Each file is ingested with default options; its prompt images are the ones the planner builds
(`pipeline.prompt.unit_segments`, at the budget the page's density asks for). Each image is resized as
Gemma 4's processor resizes it for that budget (its own `get_aspect_ratio_preserving_size`), which is
what the vision tower sees, and read back by OCR as a judge of legibility: a line counts as read when its
text without spaces appears in what OCR reads. The baseline, in the same run, shows the same page whole at
the same budget (what gemmadoc did before slices). Tokens are the soft tokens of each side.

    python bench/model_view.py

Ends with `RESULT sliced_lines=... whole_lines=... token_ratio=... control_same=1 seconds=...`
(`*_lines`: the share of the known lines read, over the three long pages; `token_ratio`: image tokens
sliced / whole; `control_same`: 1 when the A4 page is one image, as before)."""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PATCH, POOL = 16, 3  # Gemma 4 vision: 16-px patches pooled 3 x 3 into one soft token


def _ocr_reach():
    spec = importlib.util.spec_from_file_location("ocr_reach", ROOT / "bench" / "ocr_reach.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_view(image, budget: int):
    """`image` as Gemma 4's processor resizes it for `budget` soft tokens, and the tokens it costs."""
    from PIL import Image
    from transformers.models.gemma4.image_processing_pil_gemma4 import get_aspect_ratio_preserving_size

    h, w = get_aspect_ratio_preserving_size(image.height, image.width, PATCH, budget * POOL * POOL, POOL)
    return image.resize((w, h), Image.BICUBIC), (h // (PATCH * POOL)) * (w // (PATCH * POOL))


def words_read(images, words: list[str], budget: int) -> tuple[float, int]:
    """Share of `words` OCR reads in the model's views of `images` at `budget` (a word counts when its
    letters and digits, lower-cased, appear in what OCR reads of any view), and the views' tokens."""
    import numpy as np

    from pipeline.ingest.ocr import ocr_page

    def key(text: str) -> str:
        return re.sub(r"[^0-9a-z]", "", text.lower())

    views = [model_view(im, budget) for im in images]
    read = "".join(key(w.text) for v, _ in views for w in ocr_page(np.asarray(v.convert("RGB"))).words)
    return sum(1 for w in words if key(w) in read) / len(words), sum(n for _, n in views)


def read_lines(images, truth: list[str]) -> float:
    """Share of `truth` OCR reads in the model's views (spaces ignored; a line across two slices counts
    when either reads it whole)."""
    import numpy as np

    from pipeline.ingest.ocr import ocr_page

    texts = ["".join(w.text for w in ocr_page(np.asarray(im.convert("RGB"))).words) for im in images]
    return sum(1 for t in truth if any(t.replace(" ", "") in got for got in texts)) / len(truth)


def control_page(tmp: Path) -> Path:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()  # A4
    for i in range(40):
        page.insert_text((60, 60 + 18 * i), f"Clause {i + 1}: the supplier delivers item {100 + i} on time.", fontsize=10)
    doc.save(tmp / "a4.pdf")
    return tmp / "a4.pdf"


def main() -> None:
    from model.images import load_image
    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.legibility import clamp_budget, density_budget
    from pipeline.prompt import unit_segments
    from schemas.options import IngestOptions, RunOptions

    plan = RunOptions().plan
    reach = _ocr_reach()
    start = time.perf_counter()
    read = {"sliced": [], "whole": []}
    tokens = {"sliced": 0, "whole": 0}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        loads = reach.workloads(tmp)
        work = {k: loads[k] for k in ("screenshot_lines", "till_tokens", "wide_lines")}
        work["control"] = (control_page(tmp), [])
        for name, (path, truth) in work.items():
            doc = discover([path]).documents[0]
            unit = ingest_document(doc, IngestOptions(ocr="off"), tmp / "spool").units[0]
            budget = clamp_budget(density_budget(max(unit.density, 0.15)), plan.budgets())  # text pages: at least 280
            shown = [s for s in unit_segments(unit, budget, False) if s.kind == "image"]
            if name == "control":
                control_same = int(len(shown) == 1 and shown[0].image.crop is None)
                continue
            if name == "till_tokens":
                truth = [f"ITEM {i:03d}" for i in range(60)]  # whole item labels, read as lines
            sides = {"sliced": [load_image(s.image) for s in shown], "whole": [load_image(unit.image)]}
            for side, images in sides.items():
                views = [model_view(im, budget) for im in images]
                tokens[side] += sum(n for _, n in views)
                share = read_lines([v for v, _ in views], truth)
                read[side].append(share)
                print(f"{name:18s} {side:6s} budget {budget:4d} x {len(images)}: "
                      f"{[v.size for v, _ in views][:2]}... {share:.3f} of {len(truth)} lines read", flush=True)
    result = {f"{side}_lines": sum(v) / len(v) for side, v in read.items()}
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in result.items()) +
          f" token_ratio={tokens['sliced'] / tokens['whole']:.2f} control_same={control_same}"
          f" seconds={time.perf_counter() - start:.1f}")


if __name__ == "__main__":
    main()
