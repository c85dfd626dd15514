"""Offline OCR with RapidOCR (PP-OCRv4 ONNX models shipped inside the wheel; Chinese + English).

Chosen over Tesseract because it installs from PyPI with the project (no system package, so CI and a
fresh clone get it from `pip`), reads Chinese and English with one model, and returns per-character
boxes that we group into words for grounding (with the word spaces it left out put back from the pixels:
`pipeline/ingest/wordgaps.py`). A reading in a script the recogniser does not read
(Cyrillic, Greek, Arabic, Hangul: `pipeline/ingest/scripts.py`) is read again by Tesseract where it has
a model of that script (`pipeline/ingest/tesseract.py`), and is otherwise left without words."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pipeline.ingest.contrast import SoftRecogniser, darkest
from pipeline.ingest.deblur import BLURRED, picture_blur, sharpened
from pipeline.ingest.deskew import Straightened, straighten
from pipeline.ingest.layout import quad_bounds
from pipeline.ingest.scripts import is_cjk, script_unread
from pipeline.ingest.sideways import (blocks, frame_size, is_tall, length, lines_off, merged, not_under, read_better,
                                     split_sideways, turned_lines, unread_characters)
from pipeline.ingest.wordgaps import restore_spaces
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
            _engine.text_rec = SoftRecogniser(_engine.text_rec)  # each line read in soft contrast: pipeline/ingest/contrast.py
            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return _engine


def line_to_words(text: str, box: tuple[float, float, float, float], line: int,
                  char_boxes: list[tuple[float, float, float, float]] | None = None, slanted=None) -> list[Word]:
    """Split one OCR line into words. Uses per-character boxes when they line up with the text (RapidOCR
    gives one per character, spaces included, or one per visible character), else shares the line box
    out by character count. CJK characters become one word each. On a `slanted` line (its quad, given
    where laying the page level left it slanted: a photo taken at an angle), a word's box is the part of
    the slanted line over the word, not the line's bounds. `Word.char_x` holds where each
    character ends in reading order (its right edge; `ocr_page` makes it the left edge on a page read
    upside down)."""
    x0, y0, x1, y1 = box
    tokens: list[tuple[int, int]] = []  # (start, end) char offsets of words
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if is_cjk(text[i]):
            tokens.append((i, i + 1))
            i += 1
            continue
        j = i
        while j < len(text) and not text[j].isspace() and not is_cjk(text[j]):
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
                char_x = [round(min(max(b[2], wx0), wx1), 1) for b in bs]
        else:
            wx0 = x0 + (x1 - x0) * s / n
            wx1 = x0 + (x1 - x0) * e / n
        wy0, wy1 = _band(slanted, wx0, wx1, y0, y1) if slanted is not None else (y0, y1)
        words.append(Word(text=text[s:e], x0=wx0, y0=wy0, x1=wx1, y1=wy1, line=line, char_x=char_x, ocr=True))
    return words


def _band(quad, x0: float, x1: float, y0: float, y1: float) -> tuple[float, float]:
    """The top and bottom of a slanted line's quad (top left, top right, bottom right, bottom left) over
    x0..x1, within its bounds y0..y1."""
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = quad[:4]

    def at(x: float, left: tuple[float, float], right: tuple[float, float]) -> float:
        (lx, ly), (rx, ry) = left, right
        return ly if rx == lx else ly + (ry - ly) * (x - lx) / (rx - lx)

    top = min(at(x0, (ax, ay), (bx, by)), at(x1, (ax, ay), (bx, by)))
    bottom = max(at(x0, (dx, dy), (cx, cy)), at(x1, (dx, dy), (cx, cy)))
    top, bottom = max(y0, top), min(y1, bottom)
    return (top, bottom) if bottom > top else (y0, y1)


SLANT_SHARE = 0.5  # a line whose slant across it is this share of its height or more is `slanted`


def _slanted(quad) -> bool:
    """Whether a line's bounds are much taller than the line: its slant across it (a photo at an angle)
    is at least SLANT_SHARE of its height. Lines nearly level keep their bounds."""
    if len(quad) < 4:
        return False
    (ax, ay), (bx, by), _, (dx, dy) = quad[:4]
    return abs(by - ay) >= SLANT_SHARE * max(1.0, ((dx - ax) ** 2 + (dy - ay) ** 2) ** 0.5)


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
    return lines, _mean_confidence(lines)


def recognize(crops: list) -> list[tuple[str, float]]:
    """(text, confidence) of each crop (RGB arrays, one line of text each) by the recogniser alone: no
    detection, one batched call (about 20 ms a short stretch of text)."""
    if not crops:
        return []
    results, _ = engine().text_rec(crops)
    return [(str(text), float(score)) for text, score in results]


def _read_tile(image) -> list:
    result, _ = engine()(image, use_cls=False, return_word_box=True)
    return [(item[0], str(item[1]), float(item[2]), item[3] if len(item) > 3 else None) for item in result or []]


@dataclass(frozen=True)
class Reading:
    """OCR of one picture: its words (boxes in the picture as given) and `turn`, the quarter turns
    counter-clockwise that show the picture upright, where OCR read it confidently so (0: upright, or
    OCR cannot tell)."""

    words: list[Word]
    turn: int = 0
    unread: str = ""  # what the recogniser made of a script it does not read (its words are then left out)
    reader: str = ""  # the Tesseract model that read a script RapidOCR does not ('' for RapidOCR)
    confidence: float = 0.0  # the recogniser's mean confidence over the characters read (0..1)
    measured: list[Word] = field(default_factory=list)  # an unread script's words as RapidOCR made them: never shown

    @property
    def print_words(self) -> list[Word]:
        """The words its print is measured by (`legibility.letter_pitch`): its own, or, where it was left
        without them as an unread script, what RapidOCR made of it (print too small to read makes the same
        fragments, and read again finer may read)."""
        return self.words or self.measured

    @property
    def confident_chars(self) -> float:
        """How much it read: its characters times their mean confidence."""
        return self.confidence * sum(len(w.text) for w in self.words)


FINER_KEEPS = 0.5  # a finer reading that reads under this share of the first's confident characters lost its text


def finer_or_first(first: Reading, finer: Reading) -> Reading:
    """The reading of a picture read again finer, unless it reads under FINER_KEEPS of the characters the
    first read confidently (text lying sideways that the detector finds at one size and not at another):
    a second read never loses what the first found. A finer reading that reads a little less is kept
    (it reads 1 % fewer characters at a higher confidence on a 2-up scan). Read it again with
    `quarter_turns` where `first.turn` is odd."""
    return finer if finer.confident_chars >= FINER_KEEPS * first.confident_chars else first


def ocr_words(image, line_offset: int = 0, scale: float = 1.0, origin: tuple[float, float] = (0.0, 0.0)) -> list[Word]:
    """OCR an RGB numpy image (a picture on a page, a video frame): `ocr_page`'s words, without quarter turns."""
    return ocr_page(image, line_offset, scale, origin).words


def ocr_page(image, line_offset: int = 0, scale: float = 1.0, origin: tuple[float, float] = (0.0, 0.0),
             quarter_turns: bool = False) -> Reading:
    """OCR an RGB numpy image; words in reading order (columns grouped, see `layout.reading_order`), with
    boxes (and character edges) in the image's pixel coordinates times `scale`, plus `origin` (where a
    cropped picture lies on its page).

    The text detector finds little on upside-down text, and none on some sideways pages; the recogniser
    turns tall line crops a quarter counter-clockwise, so sideways text one way reads well as it lies. So
    a page that reads poorly is read turned by 180 degrees too, and with `quarter_turns` (whole pages and
    photos, not pictures or video frames), where neither reading is good and the text does not lie across
    the page, the other turns are tried on the page shrunk (`_probe_turn`) and the best one read; the
    reading with the most confidently read characters is kept. Its lines are laid out upright (a reading
    of tall lines is a quarter turn short of upright, so CJK written in columns reads right to left) for
    reading order and words, whose boxes are then mapped back to the image as given. `turn` says how to
    show the picture upright; CJK read in columns is upright as it lies (it may be a sideways page of
    horizontal CJK too: then it is shown as it lies, as before). A blurred picture (its lines' edges
    wider than `deblur.BLURRED`) is read again sharpened, and read on so where that reads more confidently.
    A page read as tall lines is read again lying across; lines set sideways on a page that lies across
    are read upright on their own (`pipeline/ingest/sideways.py`; with `quarter_turns`, ink the detector
    left unread too)."""
    import numpy as np

    readings: dict[int, tuple[list, float]] = {}

    def read(k: int) -> tuple[list, float]:
        if k not in readings:
            readings[k] = _read(np.ascontiguousarray(np.rot90(image, k)) if k else image)
        return readings[k]

    def best() -> tuple[int, tuple[list, float]]:
        return max(readings.items(), key=lambda kv: (_confident_chars(*kv[1]), -kv[0]))

    lines, confidence = read(0)
    blur = picture_blur(image, [quad_bounds(q) for q, _, _, _ in lines])
    if blur > BLURRED:  # out of focus: read again sharpened, from detection on (`deblur`)
        sharp = np.ascontiguousarray(sharpened(image, blur))
        sharp_read = _read(sharp)
        if _confident_chars(*sharp_read) > _confident_chars(lines, confidence):
            image, readings[0] = sharp, sharp_read
            lines, confidence = sharp_read
    if lines and confidence < UPRIGHT_CONFIDENCE:
        read(2)
    k, (lines, confidence) = best()
    if quarter_turns and confidence < UPRIGHT_CONFIDENCE and not _mostly_wide(lines) and _page_like(image):
        probe = _probe_turn(image, [k for k in (2, 1, 3) if k not in readings])  # not a poor scan lying upright
        if probe is not None:
            read(probe)
    k, (lines, confidence) = best()
    if not lines:
        return Reading([])
    k, lines, confidence, carried = _read_lying_across(read, k, lines, confidence)
    size = frame_size(image.shape[:2], k)  # of the image as read
    held = turned_lines(carried[1], frame_size(image.shape[:2], carried[0]), (k - carried[0]) % 4)  # those, here
    upright_k, lines = k, [(q, t, c, None if is_tall(q) else chars) for q, t, c, chars in lines]
    vertical = False
    if _mostly_tall(lines):  # read as tall lines: one more quarter turn
        upright_k, lines, size = (k + 1) % 4, turned_lines(lines, size), (size[1], size[0])
        vertical = _in_columns(lines)  # CJK written in columns: upright as it lies
    if script_unread(((t, x1 - x0, y1 - y0) for q, t, _, _ in lines for x0, y0, x1, y1 in [quad_bounds(q)]), confidence):
        second = _read_script(image, upright_k, lines, line_offset, scale, origin)
        if second is None:
            measured = [_given(word, upright_k, image.shape[:2], scale, origin) for word in _words(lines, size, line_offset)]
            return Reading([], unread=" ".join(t.strip() for _, t, _, _ in lines)[:UNREAD_SAMPLE], confidence=confidence,
                           measured=measured)
        if second.words:
            return second  # else a Latin page after all (Tesseract's arbiter): RapidOCR's words stand
    straight, sideways = None, []
    if upright_k == k:  # lines lie across the picture as read: laid level, and the spaces the recogniser left out put back
        read_as = np.rot90(image, k) if k else image
        lines, sideways = split_sideways(lines)  # tall lines: each read upright on its own (`sideways`)
        if held:  # what the page's first reading read upright stands: its lines here are left out
            kept = [quad_bounds(q) for q, _, _, _ in held]
            lines, sideways = not_under(lines, kept), not_under(sideways, kept)
        across = lines
        straight, lines = straighten(read_as, lines)
        lines = restore_spaces(straight.image if straight else read_as, lines)
    words = _words(lines, size, line_offset)
    if straight is not None:
        words = [_turned_back(word, straight) for word in words]
    if upright_k == k:  # and lines lying sideways on it, each read upright
        words = _with_sideways(image, k, words, across, sideways, read, line_offset, scale, origin, carried, held,
                               unread_ink=quarter_turns)
    else:
        words = [_given(word, upright_k, image.shape[:2], scale, origin) for word in words]
    sure = confidence >= UPRIGHT_CONFIDENCE and sum(len(t.strip()) for _, t, _, _ in lines) >= MIN_TURN_CHARS
    turn = (k if vertical else upright_k) if sure else 0
    return Reading(words, turn, confidence=confidence)


SIDEWAYS_LENGTH = 8  # tall lines this many line heights long, in all, are read again on the page turned to lie across


def _with_sideways(image, k: int, page_words: list[Word], across: list, sideways: list, read, line_offset: int,
                   scale: float, origin: tuple[float, float], carried: tuple[int, list], held: list,
                   unread_ink: bool) -> list[Word]:
    """The words of a page read across (`page_words`, in the frame of `np.rot90(image, k)`, and its lines
    `across` there) and of its tall lines (`sideways`), each block of them read upright and put in its
    place, all in the image as given (`pipeline/ingest/sideways.py`). Where `_sideways_turn` finds text
    lying sideways, the page is read again turned so that it lies across (`read(turn)` giving OCR's lines
    of the page turned `turn` quarters), and what reads well there is taken. `carried`: (quarter turns,
    lines read upright on the page turned so) of a page read again turned, `held` those lines here. `unread_ink`: look for text in
    the ink the detector left unread too (whole pages and photos, not pictures on a page or video frames)."""
    import numpy as np

    shape = image.shape[:2]
    groups: list[tuple[int, list]] = [carried] if carried[1] else []  # (quarter turns that show lines upright, them there)
    turn = _sideways_turn(image, k, across, sideways, unread_ink)
    if turn is not None:
        taken = read_better(lines_off(read(turn)[0], frame_size(shape, turn), (k - turn) % 4, across + held), sideways)
        if taken:
            sideways = not_under(sideways, [box for _, box in taken])
            groups.append((turn, restore_spaces(np.rot90(image, turn), [line for line, _ in taken])))
    if sideways:  # read turned a quarter counter-clockwise by the recogniser: upright there
        groups.append(((k + 1) % 4, turned_lines(sideways, frame_size(shape, k))))
    placed = []
    for turn, lines in groups:
        on_page = [quad_bounds(q) for q, _, _, _ in turned_lines(lines, frame_size(shape, turn), (k - turn) % 4)]
        for block in blocks(on_page):
            words = _words([lines[i] for i in block], frame_size(shape, turn), 0)
            box = (min(on_page[i][0] for i in block), min(on_page[i][1] for i in block),
                   max(on_page[i][2] for i in block), max(on_page[i][3] for i in block))
            placed.append((box, [_given(word, turn, shape, scale, origin) for word in words]))
    given = [_given(word, k, shape, scale, origin) for word in page_words]
    if not placed:
        return given
    page_boxes: dict[int, tuple[float, float, float, float]] = {}
    for word in page_words:
        x0, y0, x1, y1 = page_boxes.get(word.line, (word.x0, word.y0, word.x1, word.y1))
        page_boxes[word.line] = (min(x0, word.x0), min(y0, word.y0), max(x1, word.x1), max(y1, word.y1))
    return merged(given, page_boxes, placed, line_offset)


def _read_chars(lines: list) -> float:
    """The characters of OCR lines times their mean confidence (`_confident_chars`)."""
    return _confident_chars(lines, _mean_confidence(lines))


UNREAD_CHARS = 80  # character-sized blobs of ink off the lines found that are read again on the page turned clockwise


def _sideways_turn(image, k: int, across: list, sideways: list, unread_ink: bool) -> int | None:
    """The quarter turns of `image` on which text lying sideways on the page read turned `k` lies across,
    where there is enough of it to read again (None where there is not). Tall lines read poorly run up the
    page (set turned counter-clockwise: the recogniser turned them the wrong way), and lie across the page
    turned clockwise; read well, they run down it, and lie across the page turned counter-clockwise.
    Where the detector found no such lines but left many characters' worth of ink unread, that ink is
    taken for text running up the page, which the detector misses whole paragraphs of."""
    import statistics

    import numpy as np

    if sum(length(q) for q, _, _, _ in sideways) >= SIDEWAYS_LENGTH:
        return (k + 3) % 4 if _mean_confidence(sideways) < UPRIGHT_CONFIDENCE else (k + 1) % 4
    if not (unread_ink and across):
        return None
    boxes = [quad_bounds(q) for q, _, _, _ in across + sideways]
    line_height = statistics.median(y1 - y0 for _, y0, _, y1 in boxes[:len(across)])
    read_as = np.rot90(image, k) if k else image
    return (k + 3) % 4 if unread_characters(read_as, boxes, line_height) >= UNREAD_CHARS else None


def _mean_confidence(lines: list) -> float:
    """The character-weighted mean confidence of OCR lines (0 for none)."""
    chars = sum(len(t) for _, t, _, _ in lines)
    return sum(s * len(t) for _, t, s, _ in lines) / chars if chars else 0.0


TURN_CONF = 70.0  # Tesseract's mean confidence (0..100) at which a picture it read is shown upright


def _read_script(image, upright_k: int, lines: list, line_offset: int, scale: float, origin: tuple[float, float]) -> Reading | None:
    """Tesseract's reading of a picture in a script RapidOCR does not read (`tesseract.read_script`), on the
    picture turned upright as RapidOCR's lines lie: its words in the picture as given; a Reading without
    words when the picture is Latin after all (`ScriptReading.latin`); None when Tesseract cannot read it."""
    import numpy as np

    from pipeline.ingest.layout import reading_order
    from pipeline.ingest.tesseract import read_script

    upright = np.ascontiguousarray(np.rot90(image, upright_k)) if upright_k else image
    boxes = [quad_bounds(q) for q, _, _, _ in lines]
    second = read_script(upright, [boxes[k] for k in reading_order(boxes)], line_offset)
    if second is None:
        return None
    words = [_given(word, upright_k, image.shape[:2], scale, origin) for word in second.words]
    return Reading(words, upright_k if second.confidence >= TURN_CONF else 0, reader=second.model, confidence=second.confidence / 100)


def _confident_chars(lines: list, confidence: float) -> float:
    """How much a reading read: its characters times their mean confidence (a turn that reads one stray
    mark sharply does not beat the page read as it lies)."""
    return confidence * sum(len(text) for _, text, _, _ in lines)


UNREAD_SAMPLE = 60  # characters of an unread script's reading quoted in the warning
MIN_TURN_CHARS = 20  # a picture is shown turned only when OCR read this many characters confidently so
MIN_INK = 0.001  # a page with fewer dark pixels than this share holds no text to turn for


MAX_PROBED_ASPECT = 3.0  # a picture longer than this many times its width is no page lying sideways


def _page_like(image) -> bool:
    """A picture that may be a page of text lying sideways: some ink, and not a long strip (the text
    detector reads a strip at 736 px across however small it is given, so probing one costs seconds)."""
    h, w = image.shape[:2]
    if max(h, w) > MAX_PROBED_ASPECT * min(h, w):
        return False
    return float((darkest(image[::4, ::4]) < 128).mean()) >= MIN_INK


PROBE_SIDE = 1024  # turns are tried on the page shrunk to this longest side: a third of the reading's time


def _probe_turn(image, turns: list[int]) -> int | None:
    """Of `turns` (quarter turns counter-clockwise), the one whose reading of the page shrunk to PROBE_SIDE
    reads most (the first that reads well), or None when none reads anything."""
    import cv2
    import numpy as np

    h, w = image.shape[:2]
    f = min(1.0, PROBE_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA) if f < 1 else image
    found, most = None, 0.0
    for k in turns:
        lines, confidence = _read(np.ascontiguousarray(np.rot90(small, k)))
        read = _confident_chars(lines, confidence)
        if lines and read > most:
            found, most = k, read
            if confidence >= UPRIGHT_CONFIDENCE:
                break
    return found


ACROSS_KEEPS = 0.9  # a sideways page is read lying across where its lines lying so read this share of its tall lines' characters


def _read_lying_across(read, k: int, lines: list, confidence: float) -> tuple[int, list, float, tuple[int, list]]:
    """A page read on `np.rot90(image, k)` mostly as tall lines (a page lying sideways, not CJK in columns),
    read again turned a quarter on (`read(turn)`), where they lie across (their characters' boxes, spaces
    and skew), where its lines lying so read ACROSS_KEEPS of the tall lines' characters: the reading kept
    as (quarter turns, lines, confidence), and (quarter turns, lines) of the first reading's few lines
    lying across, which stand as first read (none where the first reading stands)."""
    if _mostly_tall(lines) and not _in_columns(lines):
        lying_k = (k + 1) % 4
        turned, turned_confidence = read(lying_k)
        lying = [line for line in turned if not is_tall(line[0])]  # the page's own lines, there
        if _read_chars(lying) >= ACROSS_KEEPS * _read_chars([line for line in lines if is_tall(line[0])]):
            return lying_k, turned, turned_confidence, (k, [line for line in lines if not is_tall(line[0])])
    return k, lines, confidence, (k, [])


def _mostly_tall(lines: list) -> bool:
    """Most characters lie in lines the recogniser reads turned a quarter."""
    return 2 * sum(len(text) for quad, text, _, _ in lines if is_tall(quad)) > sum(len(text) for _, text, _, _ in lines)


def _in_columns(lines: list) -> bool:
    """Most characters read are CJK: tall lines of them are CJK written in columns, upright as they lie."""
    text = "".join(t for _, t, _, _ in lines if not t.isspace())
    return 2 * sum(is_cjk(ch) for ch in text) > len(text)


def _mostly_wide(lines: list) -> bool:
    """Most characters lie in lines at least twice as wide as tall: the text lies across the picture (a
    page turned a quarter shows tall lines, or none the detector finds)."""
    def wide(quad) -> bool:
        x0, y0, x1, y1 = quad_bounds(quad)
        return x1 - x0 >= 2 * (y1 - y0)

    return 2 * sum(len(text) for quad, text, _, _ in lines if wide(quad)) > sum(len(text) for _, text, _, _ in lines)


def _given(word: Word, k: int, size: tuple[int, int], scale: float, origin: tuple[float, float]) -> Word:
    """A word read on `np.rot90(image, k)`, in the image as given (`size`: its h, w), times `scale` plus
    `origin`. The turned image's (x, y) is the given one's (y, w - x) for k=1, (w - x, h - y) for k=2 and
    (h - y, x) for k=3. Character edges stay for k=2 (they become left edges, in reading order) and
    are dropped for quarter turns (they would run along y)."""
    h, w = size
    x0, y0, x1, y1, char_x = word.x0, word.y0, word.x1, word.y1, word.char_x
    if k == 1:
        x0, x1, y0, y1, char_x = w - y1, w - y0, x0, x1, None
    elif k == 2:
        x0, x1, y0, y1 = w - x1, w - x0, h - y1, h - y0
        char_x = [w - x for x in char_x] if char_x else char_x
    elif k == 3:
        x0, x1, y0, y1, char_x = y0, y1, h - x1, h - x0, None
    ox, oy = origin
    return word.model_copy(update=dict(x0=x0 * scale + ox, x1=x1 * scale + ox, y0=y0 * scale + oy, y1=y1 * scale + oy,
                                       char_x=[round(x * scale + ox, 1) for x in char_x] if char_x else char_x))


def _turned_back(word: Word, straight: Straightened) -> Word:
    """A word read on a skewed picture laid level (`deskew.straighten`), on the picture as read: the bounds
    of its box turned back, and its character edges where they cross the word's middle."""
    x0, y0, x1, y1 = straight.box_back(word.x0, word.y0, word.x1, word.y1)
    middle = (word.y0 + word.y1) / 2
    char_x = [round(min(max(straight.point_back(x, middle)[0], x0), x1), 1) for x in word.char_x] if word.char_x else word.char_x
    return word.model_copy(update=dict(x0=x0, y0=y0, x1=x1, y1=y1, char_x=char_x))


def _words(lines: list, size: tuple[int, int], line_offset: int) -> list[Word]:
    """Words of upright OCR lines in reading order, in the pixels of the image as read."""
    from pipeline.ingest.layout import reading_order

    words: list[Word] = []
    lines = [lines[k] for k in reading_order([quad_bounds(quad) for quad, _, _, _ in lines])]  # columns, then rows
    for n, (quad, text, _score, char_quads) in enumerate(lines):
        char_boxes = [quad_bounds(q) for q in char_quads] if char_quads else None
        words.extend(line_to_words(text, quad_bounds(quad), line_offset + n, char_boxes, quad if _slanted(quad) else None))
    return words
