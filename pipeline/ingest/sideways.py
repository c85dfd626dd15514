"""Lines lying sideways on a page, each read upright.

A page whose text lies across can hold lines turned a quarter: a landscape table printed sideways on a
portrait page, a chart's axis title, a form's vertical label, a stamp up the margin. OCR reads them as
tall lines, and the recogniser turns a tall line's crop a quarter counter-clockwise: text running down
the page (set turned clockwise) then reads upright, and text running up it (turned counter-clockwise,
the way tables and axis titles are usually set sideways) reads upside down, as garbage, while the
detector misses some of those lines, or whole paragraphs of them. And each word of a tall line was given
a slice of the line's width, a strip as tall as the whole line. A page lying sideways with a few lines
across it (a landscape table page and its running header) had the same trouble the other way round.

So `ocr_page` (pipeline/ingest/ocr.py) reads a page read as tall lines again turned a quarter, where
they lie across, and keeps what it first read across as it was; then it takes the tall lines out of a
page read across (`split_sideways`). Where they hold a few words (or, on a whole page, the detector
left many characters' worth of ink unread: `unread_characters`), the page is read again turned so that
they lie across: clockwise for lines the recogniser read poorly, and counter-clockwise for lines it read
well. The lines lying across there off the page's own lines (`lines_off`) replace the tall lines they
lie over where they read about as confidently or better (`read_better`). Lines of each turn are gathered
into blocks of neighbouring lines (`blocks`); a block's words are made upright, with their characters'
boxes where the turned reading gave them, and read in its own order, and its place among the page's
lines is where the reading order puts its bounds (`merged`)."""

from __future__ import annotations

from collections import defaultdict

from pipeline.ingest.contrast import darkest
from pipeline.ingest.layout import quad_bounds, reading_order, shared_area
from schemas.records import Word

Box = tuple[float, float, float, float]

TALL = 1.5  # a line this many times taller than wide is read turned a quarter (RapidOCR's own rule)
BLOCK_GAP = 2.0  # sideways lines this many line heights apart or nearer form one block
OVER_PAGE_LINES = 0.5  # a line of the turned reading with this share of its area over the page's lines is theirs
READ_UPRIGHT = 0.7  # a line of the turned reading is taken where read at least this confidently (garbage: 0.5-0.6)
SCORE_SLACK = 0.05  # ... and at most this much less confidently than the tall lines it lies over


def is_tall(quad) -> bool:
    """A line box the recogniser reads turned a quarter (RapidOCR turns crops 1.5 times taller than wide)."""
    x0, y0, x1, y1 = quad_bounds(quad)
    return y1 - y0 >= TALL * (x1 - x0)


def split_sideways(lines: list) -> tuple[list, list]:
    """OCR lines `(quad, text, score, chars)` of a page read across, as (lines lying across, tall lines)."""
    across = [line for line in lines if not is_tall(line[0])]
    return across, [line for line in lines if is_tall(line[0])]


def frame_size(size: tuple[int, int], k: int) -> tuple[int, int]:
    """The (h, w) of a picture of `size` turned `k` quarters."""
    return size if k % 2 == 0 else (size[1], size[0])


def turn_quad(quad, size: tuple[int, int], quarters: int = 1) -> list:
    """A quad on a picture of `size` (h, w), on that picture turned `quarters` quarters counter-clockwise
    (np.rot90's (x, y) is (y, w - x))."""
    for _ in range(quarters % 4):
        _, w = size
        quad = [[y, w - x] for x, y in quad]
        size = (size[1], size[0])
    return [list(p) for p in quad]


def turned_lines(lines: list, size: tuple[int, int], quarters: int = 1) -> list:
    """OCR lines `(quad, text, score, chars)` on a picture of `size`, on that picture turned `quarters`
    quarters counter-clockwise (`turn_quad`), their characters' boxes dropped."""
    return [(turn_quad(quad, size, quarters), text, score, None) for quad, text, score, _ in lines]


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def lines_off(turned: list, size: tuple[int, int], quarters: int, page_lines: list) -> list[tuple[tuple, Box]]:
    """The lines of a turned reading (`turned`, on the picture of `size` that turning `quarters` more
    quarters brings back to the page's frame) that lie across there and off `page_lines` (the page's own
    lines, in its frame), each with its box in the page's frame."""
    own = [quad_bounds(q) for q, _, _, _ in page_lines]
    taken = []
    for quad, text, score, chars in turned:
        if is_tall(quad) or not text.strip():
            continue
        box = quad_bounds(turn_quad(quad, size, quarters))
        if sum(shared_area(box, b) for b in own) < OVER_PAGE_LINES * _area(box):
            taken.append(((quad, text, score, chars), box))
    return taken


def length(quad) -> float:
    """A tall line's length in line heights (its box's height over its width): about its characters."""
    x0, y0, x1, y1 = quad_bounds(quad)
    return (y1 - y0) / max(1.0, x1 - x0)


def _over(a: Box, b: Box) -> bool:
    return shared_area(a, b) >= min(_area(a), _area(b)) / 3


def read_better(taken: list[tuple[tuple, Box]], sideways: list) -> list[tuple[tuple, Box]]:
    """Of the lines `lines_off` took, those read at least READ_UPRIGHT confidently and about as confidently
    as the tall lines of the page (`sideways`) they lie over (by a third of the smaller's area), or more."""
    kept = []
    for line, box in taken:
        under = [(score, len(text)) for quad, text, score, _ in sideways if _over(box, quad_bounds(quad))]
        chars = sum(n for _, n in under)
        was = sum(score * n for score, n in under) / chars if chars else 0.0
        if line[2] >= max(READ_UPRIGHT, was - SCORE_SLACK):
            kept.append((line, box))
    return kept


def not_under(sideways: list, boxes: list[Box]) -> list:
    """The tall lines of `sideways` that lie under none of `boxes` (lines read again in their place)."""
    return [line for line in sideways if not any(_over(quad_bounds(line[0]), box) for box in boxes)]


def blocks(boxes: list[Box]) -> list[list[int]]:
    """Indexes of sideways lines' `boxes` (in the page's frame) gathered into blocks: a line joins a block
    with a line at most BLOCK_GAP line heights (its box's width) from it, along either side."""
    group = list(range(len(boxes)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i):
            b = boxes[j]
            reach = BLOCK_GAP * min(a[2] - a[0], b[2] - b[0])
            if max(a[0], b[0]) - min(a[2], b[2]) <= reach and max(a[1], b[1]) - min(a[3], b[3]) <= reach:
                group[root(i)] = root(j)
    found: dict[int, list[int]] = defaultdict(list)
    for i in range(len(boxes)):
        found[root(i)].append(i)
    return list(found.values())


def merged(page_words: list[Word], page_boxes: dict[int, Box], placed: list[tuple[Box, list[Word]]],
           line_offset: int) -> list[Word]:
    """The page's words with each block of sideways words put in its place: `page_boxes` are the bounds
    of the page's lines by line number and `placed` each block's bounds, both in the page's upright
    frame, with its words (in reading order). Lines are numbered again from `line_offset`."""
    keys = sorted(page_boxes)
    boxes = [page_boxes[n] for n in keys]
    before: dict[int | None, list[list[Word]]] = defaultdict(list)  # a page line: the blocks read before it
    for box, words in placed:
        order = reading_order(boxes + [box])
        at = order.index(len(boxes))
        before[keys[order[at + 1]] if at + 1 < len(order) else None].append(words)
    by_line: dict[int, list[Word]] = defaultdict(list)
    for word in page_words:
        by_line[word.line].append(word)
    out: list[Word] = []
    line = line_offset

    def add(words: list[Word]) -> None:
        nonlocal line
        numbers: dict[int, int] = {}
        for word in words:
            numbers.setdefault(word.line, line + len(numbers))
            out.append(word.model_copy(update=dict(line=numbers[word.line])))
        line += len(numbers)

    for n in keys:
        for words in before.get(n, []):
            add(words)
        add(by_line[n])
    for words in before.get(None, []):
        add(words)
    return out


CHAR_SIZE = (0.15, 1.6)  # a character's sides, in the page's line heights (its longer side at least CHAR_TALL)
CHAR_TALL = 0.4


def unread_characters(image, boxes: list[Box], line_height: float) -> int:
    """How many blobs of ink the size of characters (CHAR_SIZE of `line_height`, either way up) lie off the
    lines OCR found (`boxes`, in `image`'s pixels): print the detector did not see, such as text set
    running up the page. A table's rules, a photo's blobs and a screen's dots are not character-sized."""
    import cv2
    import numpy as np

    ink = (darkest(image) < 128).astype(np.uint8)
    pad = max(2, int(line_height / 4))
    for x0, y0, x1, y1 in boxes:
        ink[max(0, int(y0) - pad):max(0, int(y1) + pad), max(0, int(x0) - pad):max(0, int(x1) + pad)] = 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    low, high = CHAR_SIZE[0] * line_height, CHAR_SIZE[1] * line_height
    sized = (w >= low) & (w <= high) & (h >= low) & (h <= high) & (np.maximum(w, h) >= CHAR_TALL * line_height)
    return int(sized.sum())
