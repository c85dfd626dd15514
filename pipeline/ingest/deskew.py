"""OCR lines of a scan or photo that lies a few degrees askew, laid out straight.

A page fed crooked or photographed by hand lies 1-5 degrees askew. The text detector finds its lines as
turned boxes and the recogniser reads them well, but everything built on the lines' upright bounds goes
wrong: at 3 degrees a 600-px line's bounds are twice as tall as its print, so a word's box covers the
lines above and below it, the print is measured twice its size (lower image budgets, no finer read),
lines of two columns fall into one row of the reading order, and the blank columns between words hold
the ink of the neighbouring lines, so the word spaces the recogniser left out are not put back. Here
the lines (and their characters) are turned straight by the page's skew, the picture with them for the
word spaces, and each word's box is turned back onto the picture as given: the bounds of its turned box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SKEW_DEG = 0.4  # a page less askew than this is read as it lies (a 1,100-px line drifts 8 px)
MAX_SKEW_DEG = 20.0  # ... and one more askew than this is no page fed crooked (text set at an angle)
MIN_LINES = 3  # the skew is measured on at least this many long lines
MIN_LINE_CHARS = 5  # of this many characters at least
LONG_LINE = 4.0  # ... at least this many times as long as they are tall
AGREE_DEG = 1.0  # lines within this of the median skew agree with it
MIN_AGREEING = 0.6  # and at least this share of their characters must, or the page has no one skew


@dataclass(frozen=True)
class Straightened:
    """A picture turned straight by `angle` degrees (its lines then lie level), `image` holding its pixels
    on a canvas that keeps every corner, and `back`, the 2 x 3 affine map from that canvas to the picture
    as given."""

    angle: float
    image: object
    back: tuple[tuple[float, float, float], tuple[float, float, float]]

    def box_back(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        """The bounds, on the picture as given, of a box on the straight canvas."""
        xs, ys = zip(*(self.point_back(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))))
        return min(xs), min(ys), max(xs), max(ys)

    def point_back(self, x: float, y: float) -> tuple[float, float]:
        (a, b, c), (d, e, f) = self.back
        return a * x + b * y + c, d * x + e * y + f


def line_angle(quad) -> float:
    """The angle, in degrees, of an OCR line's quad (top left, top right, bottom right, bottom left) against
    the level: positive where it runs down to the right (image rows grow downward)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad[:4]
    return math.degrees(math.atan2((y1 - y0) + (y2 - y3), (x1 - x0) + (x2 - x3)))


def skew_angle(lines: list) -> float | None:
    """The page's skew in degrees, from the angles of its long lines `(quad, text, score, chars)` weighted
    by their characters; None where it is under MIN_SKEW_DEG, over MAX_SKEW_DEG, measured on too few
    lines, or where the lines do not agree on one (two photos pasted at different angles)."""
    measured = []
    for quad, text, _score, _chars in lines:
        if len(quad) < 4 or len(text.strip()) < MIN_LINE_CHARS:
            continue
        (x0, y0), (x1, y1), _, (x3, y3) = quad[:4]
        length, height = math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)
        if length >= LONG_LINE * max(height, 1.0):
            measured.append((line_angle(quad), len(text.strip())))
    if len(measured) < MIN_LINES:
        return None
    angle = _weighted_median(measured)
    agreeing = sum(n for a, n in measured if abs(a - angle) <= AGREE_DEG)
    if agreeing < MIN_AGREEING * sum(n for _, n in measured) or not MIN_SKEW_DEG <= abs(angle) <= MAX_SKEW_DEG:
        return None
    return angle


def turning(width: int, height: int, angle: float):
    """The 2 x 3 affine map (a numpy array) that turns a width x height picture `angle` degrees
    counter-clockwise about its centre onto a canvas that keeps every corner, and that canvas's size."""
    import cv2

    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (int(math.ceil(width * cos + height * sin)), int(math.ceil(width * sin + height * cos)))
    turn[0, 2] += size[0] / 2 - width / 2
    turn[1, 2] += size[1] / 2 - height / 2
    return turn, size


def straighten(image, lines: list) -> tuple[Straightened | None, list]:
    """The picture (an RGB or grey array) turned straight by its skew and its lines `(quad, text, score,
    chars)` on it; (None, lines) where it lies straight enough (`skew_angle`)."""
    angle = skew_angle(lines)
    if angle is None:
        return None, lines
    import cv2
    import numpy as np

    h, w = image.shape[:2]
    turn, size = turning(w, h, angle)  # turns the picture by -angle: its lines level
    fill = (255,) * (image.shape[2] if image.ndim == 3 else 1)
    turned = cv2.warpAffine(np.ascontiguousarray(image), turn, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    back = cv2.invertAffineTransform(turn)

    def moved(quad) -> list:
        return [[float(turn[0, 0] * x + turn[0, 1] * y + turn[0, 2]), float(turn[1, 0] * x + turn[1, 1] * y + turn[1, 2])]
                for x, y in quad]

    straight = [(moved(q), t, s, [moved(c) for c in chars] if chars else chars) for q, t, s, chars in lines]
    return Straightened(angle, turned, (tuple(map(float, back[0])), tuple(map(float, back[1])))), straight


def _weighted_median(values: list[tuple[float, int]]) -> float:
    """The median of (value, weight) pairs."""
    ordered = sorted(values)
    half, run = sum(n for _, n in ordered) / 2, 0
    for value, n in ordered:
        run += n
        if run >= half:
            return value
    return ordered[-1][0]
