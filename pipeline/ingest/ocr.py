"""Offline OCR with RapidOCR (PP-OCRv4 ONNX models shipped inside the wheel; Chinese + English).

Chosen over Tesseract because it installs from PyPI with the project (no system package, so CI and a
fresh clone get it from `pip`), reads Chinese and English with one model, and returns per-character
boxes that we group into words for grounding."""

from __future__ import annotations

import threading

from schemas.records import Word

_engine = None
_lock = threading.Lock()


def engine():
    global _engine
    with _lock:
        if _engine is None:
            import logging
            import os

            # onnxruntime's telemetry writes a device id and a growing database under ~/.cache/Microsoft:
            # gemmadoc writes nothing outside its output folder and cache (1.32 reads the first name)
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR(max_side_len=MAX_SIDE)
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return _engine


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3000 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF


def line_to_words(text: str, box: tuple[float, float, float, float], line: int,
                  char_boxes: list[tuple[float, float, float, float]] | None = None, upside_down: bool = False) -> list[Word]:
    """Split one OCR line into words. Uses per-character boxes when they line up with the text (RapidOCR
    gives one per character, spaces included, or one per visible character), else shares the line box
    out by character count. CJK characters become one word each. `Word.char_x` holds where each
    character ends in reading order: its right edge, or its left edge on a page read upside down."""
    x0, y0, x1, y1 = box
    tokens: list[tuple[int, int]] = []  # (start, end) char offsets of words
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if _is_cjk(text[i]):
            tokens.append((i, i + 1))
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace() and not _is_cjk(text[j]):
            j += 1
        tokens.append((i, j))
        i = j
    char_box: dict[int, tuple[float, float, float, float]] = {}
    if char_boxes is not None:
        if len(char_boxes) == len(text):
            char_box = dict(enumerate(char_boxes))
        else:
            visible = [k for k, ch in enumerate(text) if not ch.isspace()]
            if len(char_boxes) == len(visible):
                char_box = dict(zip(visible, char_boxes))
    words = []
    n = max(len(text), 1)
    for s, e in tokens:
        char_x = None
        if char_box:
            bs = [char_box[k] for k in range(s, e)]
            wx0, wx1 = min(b[0] for b in bs), max(b[2] for b in bs)
            if e - s > 1:
                char_x = [round(min(max(b[0] if upside_down else b[2], wx0), wx1), 1) for b in bs]
        else:
            wx0 = x0 + (x1 - x0) * s / n
            wx1 = x0 + (x1 - x0) * e / n
        words.append(Word(text=text[s:e], x0=wx0, y0=y0, x1=wx1, y1=y1, line=line, char_x=char_x, ocr=True))
    return words


UPRIGHT_CONFIDENCE = 0.8  # below this mean confidence, the page is read rotated by 180 degrees too


MAX_SIDE = 4000  # RapidOCR shrinks an image whose longest side is above this (its default, 2000, shrank wide pictures)
TILE = 2000  # a taller image is read in tiles of this height
TILE_OVERLAP = 256  # tiles overlap by more than a line is tall, so each line lies whole in one of them


def _read(image) -> tuple[list, float]:
    """OCR lines of an image as (quad, text, score, char_boxes) plus their character-weighted mean
    confidence. The per-line angle classifier is off: on dense printed pages it flips a quarter of
    the lines of an upright page and they read as garbage (NIST SP 800-223, page 3), so orientation is
    decided once per page in `ocr_words` instead. An image taller than TILE (and than it is wide) is read
    in overlapping tiles from top to bottom, cut between lines: RapidOCR would shrink a full-page
    screenshot of 1440 x 12000 px to its MAX_SIDE (to 480 px across), and read none of it. A wide image
    is left whole (up to MAX_SIDE across), as a tile boundary across it would cut its lines."""
    import numpy as np

    h, w = image.shape[:2]
    if h <= TILE or h <= w:
        lines = _read_tile(image)
    else:
        lines = []
        starts = list(range(0, h - TILE, TILE - TILE_OVERLAP)) + [h - TILE]
        for k, top in enumerate(starts):
            lo = 0 if k == 0 else (top + starts[k - 1] + TILE) / 2  # cut mid-overlap: each line is kept once,
            hi = h if k + 1 == len(starts) else (starts[k + 1] + top + TILE) / 2  # from the tile it lies whole in
            for quad, text, score, chars in _read_tile(np.ascontiguousarray(image[top:top + TILE])):
                quad = [[x, y + top] for x, y in quad]
                if lo <= sum(y for _, y in quad) / len(quad) < hi:
                    lines.append((quad, text, score, [[[x, y + top] for x, y in c] for c in chars] if chars else chars))
    chars = sum(len(t) for _, t, _, _ in lines)
    return lines, (sum(s * len(t) for _, t, s, _ in lines) / chars if chars else 0.0)


def _read_tile(image) -> list:
    result, _ = engine()(image, use_cls=False, return_word_box=True)
    return [(item[0], str(item[1]), float(item[2]), item[3] if len(item) > 3 else None) for item in result or []]


def ocr_words(image, line_offset: int = 0, scale: float = 1.0, origin: tuple[float, float] = (0.0, 0.0)) -> list[Word]:
    """OCR an RGB numpy image; words in reading order (columns grouped, see `layout.reading_order`), with boxes (and character edges) in the image's
    pixel coordinates times `scale`, plus `origin` (where a cropped picture lies on its page). A page that reads poorly is also read rotated by 180 degrees, and
    the better reading is kept (boxes mapped back to the image as given). RapidOCR turns tall line crops
    one way, so this also reads pages turned a quarter either way."""
    import numpy as np

    lines, confidence = _read(image)
    flipped = False
    if lines and confidence < UPRIGHT_CONFIDENCE:
        turned, turned_confidence = _read(np.ascontiguousarray(image[::-1, ::-1]))
        if turned_confidence > confidence:
            lines, flipped = turned, True
    h, w = image.shape[:2]

    def bounds(quad) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        if flipped:
            xs, ys = [w - x for x in xs], [h - y for y in ys]
        ox, oy = origin
        return min(xs) * scale + ox, min(ys) * scale + oy, max(xs) * scale + ox, max(ys) * scale + oy

    from pipeline.ingest.layout import reading_order

    words: list[Word] = []
    def as_read(quad) -> tuple[float, float, float, float]:  # in the image as OCR read it (turned or not)
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        return min(xs), min(ys), max(xs), max(ys)

    lines = [lines[k] for k in reading_order([as_read(quad) for quad, _, _, _ in lines])]  # columns, then rows
    for n, (quad, text, _score, char_quads) in enumerate(lines):
        char_boxes = [bounds(q) for q in char_quads] if char_quads else None
        words.extend(line_to_words(text, bounds(quad), line_offset + n, char_boxes, upside_down=flipped))
    return words
