"""Does a page's text layer say what the page shows?

A font whose Unicode map is wrong (a broken or shifted ToUnicode, a custom encoding mapped to other
letters) gives a text layer of real letters that are not the ones drawn: `Ebuf; 23 Nbsdi` where the
page shows `Date: 12 March`. It passes the garbage test (`textlayer.usable_text`: they are letters), so
the model would read it and citations would be verified against it. A few short stretches of the layer
are cut from the rendered page and read by OCR's recogniser alone (no detection: about 20 ms each); a
page where most of them read as other text is OCR'd instead. A wrong map belongs to a font, and a
document's pages share their fonts, so not every page is judged (`sampled_mismatches`)."""

from __future__ import annotations

import unicodedata

from schemas.records import Word

SAMPLED_STRETCHES = 4  # spread over the page's lines
STRETCH_CHARS = 24  # the first words of a line, up to this many characters
MIN_STRETCH_CHARS = 6  # letters and digits a stretch needs to be judged
MIN_STRETCH_PX = 8  # a stretch rendered fewer pixels tall is too small to judge
AGREE = 0.6  # similarity (rapidfuzz ratio) at which a stretch reads as the layer says
SURE = 0.8  # the recogniser's confidence for its reading to count
MIN_DISAGREE = 2  # stretches that must read as other text, and more than half of those judged
FIRST_JUDGED = 3  # a document's first pages with a text layer are all judged,
JUDGED_EVERY = 5  # then one in this many, and every page around one that mismatches


def _plain(text: str) -> str:
    """Letters and digits, case-folded, accents and ligatures undone: what OCR and the layer must share."""
    return "".join(c for c in unicodedata.normalize("NFKD", text).casefold() if c.isalnum())


def _recognisable(text: str) -> bool:
    """Text in scripts the recogniser reads (Latin and digits, Chinese): judged only there, so a line of
    Arabic or Cyrillic is never taken for a wrong layer."""
    chars = _plain(text)
    ok = sum(1 for c in chars if c.isascii() or 0x4E00 <= ord(c) <= 0x9FFF)
    return len(chars) >= MIN_STRETCH_CHARS and ok >= 0.9 * len(chars)


Stretch = tuple[str, tuple[float, float, float, float], int]  # text, box in points, quarter turns that lay it upright


def stretches(words: list[Word], zoom: float) -> list[Stretch]:
    """Up to SAMPLED_STRETCHES stretches to judge, spread over the page: each the first words of a line
    (up to STRETCH_CHARS), large enough and in a recognisable script, lying across the page or, written
    sideways (a landscape table on a turned page), along it: such a stretch is turned upright by the
    direction its words run (Latin letters only: CJK in columns stands upright and is not judged)."""
    lines: dict[int, list[Word]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word)
    found = []
    for line in lines.values():
        take = [line[0]]
        for word in line[1:]:
            if sum(len(w.text) + 1 for w in take) + len(word.text) > STRETCH_CHARS:
                break
            take.append(word)
        text = " ".join(w.text for w in take)
        box = (min(w.x0 for w in take), min(w.y0 for w in take), max(w.x1 for w in take), max(w.y1 for w in take))
        wide, tall = box[2] - box[0], box[3] - box[1]
        if not _recognisable(text) or min(wide, tall) * zoom < MIN_STRETCH_PX:
            continue
        if wide >= 1.5 * tall and all(a.x0 <= b.x0 for a, b in zip(take, take[1:])):
            found.append((text, box, 0))
        elif tall >= 1.5 * wide and len(take) > 1 and text.isascii():
            down = all(a.y0 <= b.y0 for a, b in zip(take, take[1:]))
            if down or all(a.y0 >= b.y0 for a, b in zip(take, take[1:])):
                found.append((text, box, 1 if down else 3))
    if len(found) <= SAMPLED_STRETCHES:
        return found
    step = (len(found) - 1) / (SAMPLED_STRETCHES - 1)
    return [found[round(k * step)] for k in range(SAMPLED_STRETCHES)]


def layer_mismatch(words: list[Word], pixels, zoom: float) -> bool:
    """True when the page (an RGB array at `zoom` pixels per point) shows other text than its layer's
    `words` say: at least MIN_DISAGREE sampled stretches, and more than half of those OCR read
    confidently, read as other text."""
    import numpy as np
    from rapidfuzz import fuzz

    from pipeline.ingest.ocr import recognize

    picked = stretches(words, zoom)
    if len(picked) < MIN_DISAGREE:
        return False
    h, w = pixels.shape[:2]
    crops = []
    for _, (x0, y0, x1, y1), turn in picked:
        pad = 0.15 * min(x1 - x0, y1 - y0) * zoom
        crop = pixels[max(0, int(y0 * zoom - pad)):min(h, int(y1 * zoom + pad) + 1),
                      max(0, int(x0 * zoom - pad)):min(w, int(x1 * zoom + pad) + 1)]
        crops.append(np.ascontiguousarray(np.rot90(crop, turn)))
    judged = disagree = 0
    for (text, _, _), (read, confidence) in zip(picked, recognize(crops)):
        if confidence < SURE:
            continue
        judged += 1
        disagree += fuzz.ratio(_plain(text), _plain(read)) < AGREE * 100
    return disagree >= MIN_DISAGREE and 2 * disagree > judged


def sampled_mismatches(pages: int, mismatch) -> list[int]:
    """Indexes (of `pages` pages with a text layer, in order) where `mismatch(index)` holds, judging the
    first FIRST_JUDGED pages and then one in JUDGED_EVERY; around a page that mismatches, every page up
    to the judged pages on either side is judged too. A run of wrong pages shorter than JUDGED_EVERY
    between two right ones can go unseen; a document whose fonts are wrong throughout cannot."""
    sampled = [k for k in range(pages) if k < FIRST_JUDGED or (k - FIRST_JUDGED) % JUDGED_EVERY == JUDGED_EVERY - 1]
    judged: dict[int, bool] = {k: mismatch(k) for k in sampled}
    for n, k in enumerate(sampled):
        if judged[k]:
            low = sampled[n - 1] + 1 if n else 0
            high = sampled[n + 1] if n + 1 < len(sampled) else pages
            for other in range(low, high):
                if other not in judged:
                    judged[other] = mismatch(other)
    return sorted(k for k, wrong in judged.items() if wrong)
