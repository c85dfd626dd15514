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

            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return _engine


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x3000 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF


def line_to_words(text: str, box: tuple[float, float, float, float], line: int,
                  char_boxes: list[tuple[float, float, float, float]] | None = None) -> list[Word]:
    """Split one OCR line into words. Uses per-character boxes when they line up with the text (RapidOCR
    gives one per character, spaces included, or one per visible character), else shares the line box
    out by character count. CJK characters become one word each."""
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
        if char_box:
            bs = [char_box[k] for k in range(s, e)]
            wx0, wx1 = min(b[0] for b in bs), max(b[2] for b in bs)
        else:
            wx0 = x0 + (x1 - x0) * s / n
            wx1 = x0 + (x1 - x0) * e / n
        words.append(Word(text=text[s:e], x0=wx0, y0=y0, x1=wx1, y1=y1, line=line))
    return words


def ocr_words(image, line_offset: int = 0) -> list[Word]:
    """OCR an RGB numpy image; words with boxes in the image's pixel coordinates, in reading order."""
    result, _ = engine()(image, return_word_box=True)
    words: list[Word] = []
    for n, item in enumerate(result or []):
        quad, text = item[0], item[1]
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        char_boxes = None
        if len(item) > 3 and item[3]:
            char_boxes = [(min(p[0] for p in q), min(p[1] for p in q), max(p[0] for p in q), max(p[1] for p in q))
                          for q in item[3]]
        words.extend(line_to_words(str(text), (min(xs), min(ys), max(xs), max(ys)), line_offset + n, char_boxes))
    return words
