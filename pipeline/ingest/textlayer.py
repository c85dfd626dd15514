"""Text-layer extraction and the 'is this text usable?' test for PDF pages."""

from __future__ import annotations

from schemas.records import Word

GARBAGE = {"\ufffd"}


OVERPRINT = 0.3  # a word drawn again within this share of its size of the same word is one word, drawn twice


def pdf_words(page) -> list[Word]:
    """Words of a PyMuPDF page in reading order (the order they are drawn in, unless that is out of
    reading order: `in_reading_order`), in rotated-page points, clipped to the
    visible page (words wholly outside the crop box are dropped). A word drawn again over itself (fake
    bold, a shadow, a generator that draws text twice) is kept once: the page shows it once. Plain float
    math: this runs for every word of every page."""
    rotation = page.rotation
    m = page.rotation_matrix
    a, b, c, d, e, f = m.a, m.b, m.c, m.d, m.e, m.f
    bw, bh = page.rect.width, page.rect.height
    words: list[Word] = []
    line_ids: dict[tuple[int, int], int] = {}
    drawn: dict[str, list[tuple[float, float]]] = {}
    for x0, y0, x1, y1, text, block, line, _ in page.get_text("words"):
        near = OVERPRINT * min(x1 - x0, y1 - y0)  # the line's height, also for vertical text
        if any(abs(x0 - px) <= near and abs(y0 - py) <= near for px, py in drawn.get(text, ())):
            continue
        drawn.setdefault(text, []).append((x0, y0))
        if rotation:
            xa, ya = a * x0 + c * y0 + e, b * x0 + d * y0 + f
            xb, yb = a * x1 + c * y1 + e, b * x1 + d * y1 + f
            x0, x1 = (xa, xb) if xa <= xb else (xb, xa)
            y0, y1 = (ya, yb) if ya <= yb else (yb, ya)
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, bw), min(y1, bh)
        if x1 <= x0 or y1 <= y0:
            continue
        lid = line_ids.setdefault((block, line), len(line_ids))
        words.append(Word(text=text, x0=x0, y0=y0, x1=x1, y1=y1, line=lid))
    return in_reading_order(words)


SCRAMBLED_JUMPS = 3  # a layer whose next line starts above the last one, back across it, this many times
SCRAMBLED_SHARE = 0.15  # and at this share of its lines' steps was drawn out of reading order
RUN_GAP = 2.5  # a line further than this many line heights above or below the last one drawn starts a new run
VERTICAL_SHARE = 0.25  # a page with this share of its characters in lines set upright (CJK columns) keeps its order


def in_reading_order(words: list[Word]) -> list[Word]:
    """The words of a text layer drawn out of reading order (a report generator that draws an address from
    its last line up, each line item from its last line up, labels before their values, a chart's labels
    from the bottom up) with each run of lines drawn near one another (no line further than RUN_GAP line
    heights from the last) put in reading order (`layout.reading_order`), lines numbered anew; runs
    stay in the order they were drawn in (a page's columns, its footer's blocks), and a layer drawn in
    reading order stays as drawn. Out of order, a quote over two lines or a label and its value is found
    nowhere, and the model reads the page's text scrambled. A layer is out of order when, at
    SCRAMBLED_SHARE of its steps from one line to the next and at least SCRAMBLED_JUMPS times, the next
    line starts above the last and not to its right (a column read after another starts to its right)."""
    if not words:
        return words
    order: list[int] = []
    bounds: dict[int, list[float]] = {}
    chars: dict[int, int] = {}
    for w in words:
        b = bounds.get(w.line)
        if b is None:
            order.append(w.line)
            bounds[w.line] = [w.x0, w.y0, w.x1, w.y1]
        else:
            b[0], b[1], b[2], b[3] = min(b[0], w.x0), min(b[1], w.y0), max(b[2], w.x1), max(b[3], w.y1)
        chars[w.line] = chars.get(w.line, 0) + len(w.text)
    boxes = [tuple(bounds[line]) for line in order]
    upright = sum(chars[line] for line, b in zip(order, boxes) if chars[line] > 1 and b[3] - b[1] > b[2] - b[0])
    if upright > VERTICAL_SHARE * sum(chars.values()):
        return words
    jumps = sum(1 for a, b in zip(boxes, boxes[1:]) if b[1] < a[1] - 0.5 * min(a[3] - a[1], b[3] - b[1]) and b[0] < a[2])
    if jumps < SCRAMBLED_JUMPS or jumps < SCRAMBLED_SHARE * (len(boxes) - 1):
        return words
    from pipeline.ingest.layout import reading_order

    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)  # labels and values are no text columns of the page
    ordered = [run[i] for run in drawn_runs(boxes) for i in reading_order([boxes[k] for k in run], width)]
    by_line: dict[int, list[Word]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    return [w.model_copy(update={"line": n}) for n, k in enumerate(ordered) for w in by_line[order[k]]]


def drawn_runs(boxes: list[tuple[float, float, float, float]]) -> list[list[int]]:
    """Indexes of line boxes (in the order drawn) in runs drawn near one another: a line further than
    RUN_GAP line heights above or below the last one drawn starts a new run."""
    runs: list[list[int]] = [[0]] if boxes else []
    for k in range(1, len(boxes)):
        a, b = boxes[k - 1], boxes[k]
        if max(b[1] - a[3], a[1] - b[3]) > RUN_GAP * max(a[3] - a[1], b[3] - b[1]):
            runs.append([k])
        else:
            runs[-1].append(k)
    return runs


MIN_CONTRAST = 12  # a word whose box spans fewer grey levels than this (of 255) is not drawn on the page
MIN_JUDGED_PX = 3  # a word rendered fewer pixels tall is too small to judge, and kept


def hidden_words(words: list[Word], pixels, zoom: float) -> list[int]:
    """Indexes of the words that the rendered page (an RGB array at `zoom` pixels per point) does not
    show: their box is one flat colour, as for white text on white, text under a filled box (a
    redaction drawn over the text instead of removing it), text clipped away or drawn invisibly."""
    h, w = pixels.shape[:2]
    out = []
    for k, word in enumerate(words):
        x0, y0 = max(0, int(word.x0 * zoom)), max(0, int(word.y0 * zoom))
        x1, y1 = min(w, int(word.x1 * zoom + 0.999)), min(h, int(word.y1 * zoom + 0.999))
        if y1 - y0 < MIN_JUDGED_PX or x1 <= x0:
            continue
        box = pixels[y0:y1, x0:x1].reshape(-1, pixels.shape[2])
        if int((box.max(axis=0).astype(int) - box.min(axis=0)).max()) < MIN_CONTRAST:  # flat in every channel
            out.append(k)
    return out


def garbage_share(text: str) -> float:
    """Share of non-space characters that are not letters or digits in any script (replacement
    glyphs, private-use codes, fallback dots): high for text layers extracted without a font mapping."""
    import unicodedata

    chars = [c for c in text[:4000] if not c.isspace()]  # a sample is enough to judge a page
    if not chars:
        return 1.0
    good = sum(1 for c in chars if c not in GARBAGE and unicodedata.category(c)[0] in "LN")
    return 1.0 - good / len(chars)


def invisible_share(page) -> float:
    """Share of text characters drawn invisibly (render mode 3 or zero opacity), as OCR layers are."""
    total = hidden = 0
    try:
        for span in page.get_texttrace():
            n = len(span.get("chars", ()))
            total += n
            if span.get("type") == 3 or span.get("opacity", 1.0) == 0:
                hidden += n
    except Exception:  # noqa: BLE001 - a broken content stream: judge by the text alone
        return 0.0
    return hidden / total if total else 0.0


def usable_text(words: list[Word], page=None, min_chars: int = 8) -> tuple[bool, str]:
    """(usable, reason). Unusable: no text, mostly garbage glyphs, or invisible (an old OCR layer)."""
    n = sum(len(w.text) for w in words)
    if n < min_chars:
        return False, "no text layer"
    if garbage_share(" ".join(w.text for w in words[:800])) > 0.75:
        return False, "text layer is mostly replacement glyphs or symbols, not letters or digits"
    if page is not None and page.get_images() and invisible_share(page) > 0.8:  # OCR layers sit over a scan
        return False, "text layer is invisible (an earlier OCR pass)"
    return True, "text layer"
