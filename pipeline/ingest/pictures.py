"""Pictures on a PDF page that its text layer does not read: a scan under a stamped line of text (a
Bates number, "Page 1 of 5", a fax header), a screenshot or a chart pasted into a report. The page's
text layer is usable, so the page is not OCR'd as a whole, yet the words in these pictures are what the
model reads and cites; `pdf.py` OCRs them and adds their words to the text layer's."""

from __future__ import annotations

from pipeline.ingest.layout import shared_area

Box = tuple[float, float, float, float]

MIN_SHARE = 0.05  # a picture smaller than this share of the page holds a logo or an icon, not text to cite
MAX_LAYER_COVER = 0.1  # text-layer word area inside a picture above this share: the text layer reads it
MIN_PIXELS = 32 * 32  # an image with fewer pixels (a stretched fill, a rule) holds no readable text
JOIN_PT = 2.0  # images this close are one picture: scanners store a page as strips or tiles
MAX_IMAGES = 1000  # the largest images considered on one page (a hostile page draws thousands)


def picture_boxes(page, images: list | None = None) -> list[Box]:
    """Boxes of the page's drawn images in rotated-page points, clipped to the page, with images that
    touch or overlap joined into one box."""
    import pymupdf

    m = page.rotation_matrix
    bounds = page.rect
    boxes: list[Box] = []
    for info in page.get_image_info() if images is None else images:
        if info.get("width", 0) * info.get("height", 0) < MIN_PIXELS:
            continue
        r = (pymupdf.Rect(info["bbox"]) * m) & bounds
        if r.is_valid and not r.is_empty:
            boxes.append((r.x0, r.y0, r.x1, r.y1))
    boxes.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    return join_boxes(boxes[:MAX_IMAGES])


def join_boxes(boxes: list[Box], gap: float = JOIN_PT) -> list[Box]:
    """Bounding boxes of the groups of boxes that overlap or lie within `gap` of each other."""
    out = list(boxes)
    merged = True
    while merged:
        merged = False
        kept: list[Box] = []
        for b in out:
            for k, a in enumerate(kept):
                if b[0] <= a[2] + gap and a[0] <= b[2] + gap and b[1] <= a[3] + gap and a[1] <= b[3] + gap:
                    kept[k] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    merged = True
                    break
            else:
                kept.append(b)
        out = kept
    return out


def pixels_per_point(page, boxes: list[Box], images: list | None = None) -> list[float]:
    """For each box (rotated-page points), the pixels per point of the finest image drawn in it: how
    finely that picture can be read (0 where none is listed). A scan pasted at half its size gives
    twice the pixels --dpi renders it at."""
    import pymupdf

    finest = [0.0] * len(boxes)
    m = page.rotation_matrix
    for info in page.get_image_info() if images is None else images:
        pixels = info.get("width", 0) * info.get("height", 0)
        bbox = pymupdf.Rect(info["bbox"])
        if pixels < MIN_PIXELS or bbox.is_empty or not bbox.is_valid:
            continue
        r = bbox * m
        density = (pixels / (bbox.width * bbox.height)) ** 0.5
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            if r.x0 < x1 and r.x1 > x0 and r.y0 < y1 and r.y1 > y0:
                finest[k] = max(finest[k], density)
    return finest


def unread_pictures(page, words, images: list | None = None) -> list[Box]:
    """Pictures of at least MIN_SHARE of the page whose area the text layer's words barely cover, top
    to bottom: the parts of a page with a usable text layer that only OCR can read."""
    area = page.rect.width * page.rect.height
    if area <= 0:
        return []
    out = []
    for box in picture_boxes(page, images):
        x0, y0, x1, y1 = box
        size = (x1 - x0) * (y1 - y0)
        if size < MIN_SHARE * area:
            continue
        if sum(overlap(box, w) for w in words) <= MAX_LAYER_COVER * size:
            out.append(box)
    return sorted(out, key=lambda b: (b[1], b[0]))


def merge_words(layer: list, found: list[tuple[Box, list]]) -> list:
    """The text layer's words with the OCR words of each picture (`found`: box and words in reading
    order) put in. An OCR word that overlaps a text-layer word by half its area is dropped (the text
    layer's is exact). A picture's words go before the first text-layer line that starts below the
    picture's first OCR line and overlaps it across, else at the end; their line numbers follow the
    text layer's."""
    words = list(layer)
    next_line = 1 + max((w.line for w in layer), default=-1)
    for box, ocr in found:
        kept = [w for w in ocr if not _covered(w, layer)]
        if not kept:
            continue
        lines = {}
        for w in kept:
            lines.setdefault(w.line, next_line + len(lines))
        next_line += len(lines)
        kept = [w.model_copy(update={"line": lines[w.line]}) for w in kept]
        first = kept[0]
        mid = (first.y0 + first.y1) / 2
        at = next((k for k, w in enumerate(words) if not w.ocr and (w.y0 + w.y1) / 2 > mid
                   and w.x0 < box[2] and w.x1 > box[0] and (k == 0 or words[k - 1].line != w.line)), len(words))
        words[at:at] = kept
    return words


def overlap(box: Box, word) -> float:
    """Area that a word's box shares with `box` (x0, y0, x1, y1)."""
    return shared_area(box, (word.x0, word.y0, word.x1, word.y1))


def _covered(word, layer: list) -> bool:
    """Half of the word's box or more lies under one text-layer word."""
    half = 0.5 * (word.x1 - word.x0) * (word.y1 - word.y0)
    return any(overlap((w.x0, w.y0, w.x1, w.y1), word) >= half for w in layer)
