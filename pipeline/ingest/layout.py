"""Reading order of OCR lines on a page with columns: lines are grouped into columns before the page
text is built, so a paragraph quote has a contiguous counterpart. A recursive XY cut that prefers
vertical cuts, taken only between real text columns (each side several lines that fill their column),
so table cells keep row order."""

from __future__ import annotations

Box = tuple[float, float, float, float]


def quad_bounds(quad) -> Box:
    """The bounds (x0, y0, x1, y1) of an OCR quad (its corner points)."""
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return min(xs), min(ys), max(xs), max(ys)

MIN_COLUMN_LINES = 3
MIN_FILL = 0.5  # a text column's lines span at least this share of the column's width (median)
MIN_COLUMN_WIDTH = 0.2  # ... and at least this share of the page's text width: table cells are narrower
STACKED = 0.5  # lines of one row sharing this share of the narrower's width lie above one another


def shared_area(a: Box, b: Box) -> float:
    """The area two boxes (x0, y0, x1, y1) share."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def reading_order(boxes: list[Box], page_width: float | None = None) -> list[int]:
    """Indexes of line boxes (x0, y0, x1, y1) in reading order: columns left to right, top to bottom
    inside each, full-width lines (titles, footers) between the column blocks they separate.
    `page_width`: the width of the page's text, where `boxes` are part of it (text columns are at least
    MIN_COLUMN_WIDTH of it); else that of `boxes`."""
    if not boxes:
        return []
    if page_width is None:
        page_width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    return _Layout(boxes, page_width).order(list(range(len(boxes))))


class _Layout:
    def __init__(self, boxes: list[Box], page_width: float):
        self.boxes = boxes
        self.page_width = page_width

    def order(self, ids: list[int]) -> list[int]:
        columns = self.columns(ids)
        if columns:
            return [i for col in columns for i in self.order(col)]
        bands = self.bands(ids)
        # consecutive bands laid out in columns (paragraphs side by side) form one column block;
        # a band with a full-width line (a title) stands alone
        groups: list[tuple[bool, list[int]]] = []
        for band in bands:
            columnar = self.columns(band, min_lines=1) is not None
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
        return [i for row in rows for i in self.across(row)]

    def across(self, row: list[int]) -> list[int]:
        """A row's lines left to right, and those stacked above one another in it top to bottom: a
        column's lines chained into one row through a figure's labels set between them keep their order,
        not that of a pixel's difference in their indent."""
        b = self.boxes
        stacks: list[list[int]] = []
        for i in sorted(row, key=lambda i: b[i][0]):
            for stack in stacks:
                if any(_shared_width(b[i], b[j]) > STACKED * min(b[i][2] - b[i][0], b[j][2] - b[j][0]) for j in stack):
                    stack.append(i)
                    break
            else:
                stacks.append([i])
        return [i for stack in stacks for i in sorted(stack, key=lambda i: b[i][1] + b[i][3])]

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

    def columns(self, ids: list[int], min_lines: int = MIN_COLUMN_LINES) -> list[list[int]] | None:
        """The lines split at every vertical gap that no line crosses, left to right, when every part
        is a text column; else None."""
        if len(ids) < 2 * min_lines:
            return None
        heights = sorted(self.boxes[i][3] - self.boxes[i][1] for i in ids)
        min_gap = 0.5 * heights[len(heights) // 2]
        parts: list[list[int]] = []
        reach = None
        for i in sorted(ids, key=lambda i: self.boxes[i][0]):
            x0, _, x1, _ = self.boxes[i]
            if reach is None or x0 - reach >= min_gap:
                parts.append([i])
                reach = x1
            else:
                parts[-1].append(i)
                reach = max(reach, x1)
        if len(parts) < 2 or not all(self.is_column(p, min_lines) for p in parts):
            return None
        return parts

    def is_column(self, ids: list[int], min_lines: int) -> bool:
        """Enough lines that mostly fill the part's width, and are wide on the page (not table cells)."""
        side = [self.boxes[i] for i in ids]
        if len(side) < min_lines:
            return False
        width = max(b[2] for b in side) - min(b[0] for b in side)
        widths = sorted(b[2] - b[0] for b in side)
        median = widths[len(widths) // 2]
        return median >= MIN_FILL * width and median >= MIN_COLUMN_WIDTH * self.page_width


def _shared_width(a: Box, b: Box) -> float:
    """How much of their width two boxes share."""
    return min(a[2], b[2]) - max(a[0], b[0])
