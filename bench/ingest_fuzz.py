"""Ingest on damaged files: real corpus PDFs, images (and TIFF, WebP, HEIC and animations made from a corpus scan) and videos with bytes flipped, cut, zeroed or
duplicated (seeded), each ingested once without retries. Counts what every file became: pages or frames
kept (with or without an error row saying what was lost), an explained failure, or an unexpected
exception (the flow would retry it three times, then record an internal_error, and keep nothing).

    python bench/ingest_fuzz.py [--files 300] [--seed 0] [--corpus ../shared/corpus]

Ends with `RESULT files=N unexpected=K kept=P failed=F kept_with_loss=L seconds=S`."""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCES = ["docs/sroie_005.jpg", "docs/funsd_00040534.png", "docs/invoice2data_coolblue1.pdf",
           "docs/docling_2305.03393v1-pg9.pdf", "docs/pdfjs_rotation.pdf", "video/docling_sample_10s_video.mp4",
           "video/moviepy_big_buck_bunny_432_433.webm"]


def sources(corpus: Path, work: Path) -> list[Path]:
    """The corpus files, plus a multi-page LZW TIFF, a Group 4 fax TIFF, a WebP, a HEIC and an animated GIF,
    PNG, WebP and AVIF made from a corpus scan."""
    from PIL import Image

    form = Image.open(corpus / "docs" / "funsd_00040534.png").convert("L")
    form.save(work / "form.tif", save_all=True, append_images=[form.rotate(180), form], compression="tiff_lzw")
    form.convert("1").save(work / "fax.tif", compression="group4")
    form.convert("RGB").save(work / "form.webp")
    import pillow_heif

    pillow_heif.from_pillow(form.convert("RGB")).save(work / "photo.heic", quality=85)
    small = form.convert("RGB").reduce(2)
    scenes = [small, small.rotate(90, expand=True).resize(small.size), small.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    animations = [work / "anim.gif", work / "anim.png", work / "anim.webp", work / "anim.avif"]
    for path in animations:
        scenes[0].save(path, save_all=True, append_images=scenes[1:], duration=[700, 1200, 900], loop=0)
    return ([corpus / s for s in SOURCES] + [work / "form.tif", work / "fax.tif", work / "form.webp", work / "photo.heic"]
            + animations)


def damage(data: bytes, how: str, rng: random.Random) -> bytes:
    out = bytearray(data)
    if how == "flip":
        for _ in range(rng.randint(1, 20)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif how == "cut":
        out = out[: rng.randrange(16, len(out))]
    elif how == "zero":
        a = rng.randrange(len(out))
        out[a:a + 4096] = bytes(len(out[a:a + 4096]))
    else:  # "dup": a stretch of the file copied in elsewhere
        a, b = rng.randrange(len(out)), rng.randrange(len(out))
        out[a:a] = out[b:b + rng.randint(1, 2048)]
    return bytes(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    args = ap.parse_args()
    from pipeline.discover import discover
    from pipeline.prepare import prepare_document
    from schemas.options import IngestOptions

    work = Path(tempfile.mkdtemp(prefix="gemmadoc-fuzz-"))
    (work / "files").mkdir()
    (work / "spool").mkdir()
    originals = sources(Path(args.corpus), work)
    options = IngestOptions(ocr="off", page_timeout_s=10, doc_timeout_s=60, retries=0)
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    by_format: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    t0 = time.perf_counter()
    for n in range(args.files):
        src = rng.choice(originals)
        how = rng.choice(["flip", "cut", "zero", "dup"])
        path = work / "files" / f"{n:04d}{src.suffix}"
        path.write_bytes(damage(src.read_bytes(), how, rng))
        found = discover([path])
        if not found.documents:
            outcome = "not_a_document"
        else:
            try:
                prepared = prepare_document(found.documents[0], options, work / "spool")
            except Exception as e:  # noqa: BLE001 - what the benchmark counts
                outcome = "unexpected"
                print(f"unexpected: {path.name} ({how} {src.name}): {type(e).__name__}: {e}"[:300])
            else:
                hard = [e for e in prepared.errors if e.severity == "error"]
                outcome = "failed" if prepared.failed else "kept_with_loss" if hard else "kept"
        counts[outcome] += 1
        by_format[src.suffix][outcome] += 1
    seconds = time.perf_counter() - t0
    for fmt, c in sorted(by_format.items()):
        print(f"{fmt:6} " + "  ".join(f"{k} {v}" for k, v in sorted(c.items())))
    kept = counts["kept"] + counts["kept_with_loss"]
    print(f"RESULT files={args.files} unexpected={counts['unexpected']} kept={kept} failed={counts['failed']} "
          f"kept_with_loss={counts['kept_with_loss']} not_a_document={counts['not_a_document']} seed={args.seed} "
          f"seconds={seconds:.0f}")


if __name__ == "__main__":
    main()
