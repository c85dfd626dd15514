"""Reading order of OCR lines on a page with columns: lines are grouped into columns before the page
text is built, so a paragraph quote has a contiguous counterpart. A recursive XY cut that prefers
vertical cuts, taken only between real text columns (each side several lines that fill their column),
so table cells keep row order."""

from __future__ import annotations

Box = tuple[float, float, float, float]

MIN_COLUMN_LINES = 3
MIN_FILL = 0.5  # a text column's lines span at least this share of the column's width (median)
MIN_COLUMN_WIDTH = 0.2  # ... and at least this share of the page's text width: table cells are narrower


def reading_order(boxes: list[Box]) -> list[int]:
    """Indexes of line boxes (x0, y0, x1, y1) in reading order: columns left to right, top to bottom
    inside each, full-width lines (titles, footers) between the column blocks they separate."""
    if not boxes:
        return []
    page_width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    return _Layout(boxes, page_width).order(list(range(len(boxes))))


class _Layout:
    def __init__(self, boxes: list[Box], page_width: float):
        self.boxes = boxes
        self.page_width = page_width

    def order(self, ids: list[int]) -> list[int]:
        cut = self.column_cut(ids)
        if cut is not None:
            return self.order([i for i in ids if self.boxes[i][2] <= cut]) + self.order([i for i in ids if self.boxes[i][0] >= cut])
        bands = self.bands(ids)
        # consecutive bands laid out in columns (paragraphs side by side) form one column block;
        # a band with a full-width line (a title) stands alone
        groups: list[tuple[bool, list[int]]] = []
        for band in bands:
            columnar = self.column_cut(band, min_lines=1) is not None
            if columnar and groups and groups[-1][0]:
                groups[-1][1].extend(band)
            else:
                groups.append((columnar, list(band)))
        if len(groups) < 2:
            return self.rows(ids)
        return [i for columnar, g in groups for i in (self.order(g) if columnar else self.rows(g))]

    def rows(self, ids: list[int]) -> list[int]:
        """Top to bottom, left to right within a row (vertical centres within half a line height)."""
        b = self.boxes
        rows: list[list[int]] = []
        for i in sorted(ids, key=lambda i: (b[i][1] + b[i][3]) / 2):
            cy = (b[i][1] + b[i][3]) / 2
            if rows:
                last = rows[-1][-1]
                if abs(cy - (b[last][1] + b[last][3]) / 2) <= (b[last][3] - b[last][1]) / 2:
                    rows[-1].append(i)
                    continue
            rows.append([i])
        return [i for row in rows for i in sorted(row, key=lambda i: b[i][0])]

    def bands(self, ids: list[int]) -> list[list[int]]:
        """Lines split at every horizontal gap that no line crosses."""
        out: list[list[int]] = []
        bottom = None
        for i in sorted(ids, key=lambda i: self.boxes[i][1]):
            if bottom is None or self.boxes[i][1] > bottom:
                out.append([i])
                bottom = self.boxes[i][3]
            else:
                out[-1].append(i)
                bottom = max(bottom, self.boxes[i][3])
        return out

    def column_cut(self, ids: list[int], min_lines: int = MIN_COLUMN_LINES) -> float | None:
        """x of the widest vertical gap that no line crosses, with a text column on each side, or None."""
        if len(ids) < 2 * min_lines:
            return None
        spans = sorted((self.boxes[i][0], self.boxes[i][2]) for i in ids)
        heights = sorted(self.boxes[i][3] - self.boxes[i][1] for i in ids)
        min_gap = 0.5 * heights[len(heights) // 2]
        best, best_width = None, 0.0
        reach = spans[0][1]
        for x0, x1 in spans[1:]:
            if x0 - reach >= min_gap and x0 - reach > best_width:
                cut = (reach + x0) / 2
                if self.is_column(ids, cut, True, min_lines) and self.is_column(ids, cut, False, min_lines):
                    best, best_width = cut, x0 - reach
            reach = max(reach, x1)
        return best

    def is_column(self, ids: list[int], cut: float, left: bool, min_lines: int) -> bool:
        side = [self.boxes[i] for i in ids if (self.boxes[i][2] <= cut) == left]
        if len(side) < min_lines:
            return False
        width = max(b[2] for b in side) - min(b[0] for b in side)
        widths = sorted(b[2] - b[0] for b in side)
        median = widths[len(widths) // 2]
        return median >= MIN_FILL * width and median >= MIN_COLUMN_WIDTH * self.page_width
