"""Compare a predicted value with a gold one, by type: numbers within a tolerance, dates as dates,
strings after normalisation (with a fuzzy similarity next to it), lists by optimal assignment."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from pipeline.support import date_values, number_values

NUMBER_TOLERANCE = 0.005  # absolute, plus 1e-6 relative: amounts to the cent
_PUNCT_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass
class Verdict:
    correct: bool
    similarity: float  # 0..1, string similarity of the normalised forms (1.0 for equal values)
    how: str  # number | date | string | null | missing


def norm_text(value: Any) -> str:
    """Casefolded, accents kept, whitespace collapsed, punctuation trimmed at both ends."""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return _PUNCT_EDGES.sub("", " ".join(text.split()))


def as_number(value: Any) -> set[float]:
    if isinstance(value, bool):
        return set()
    if isinstance(value, (int, float)):
        return {float(value)}
    return number_values(str(value)) if value is not None else set()


def compare(gold: Any, pred: Any, kind: str | None = None) -> Verdict:
    """Whether `pred` matches `gold`. `kind` is the schema type of the field (number, integer, string,
    boolean) when known; a gold string that reads as a date is compared as a date."""
    if gold is None:
        return Verdict(pred is None, 1.0 if pred is None else 0.0, "null")
    if pred is None:
        return Verdict(False, 0.0, "missing")
    sim = fuzz.ratio(norm_text(gold), norm_text(pred)) / 100.0
    if isinstance(gold, bool) or kind == "boolean":
        return Verdict(str(gold).casefold() == str(pred).casefold(), sim, "boolean")
    if kind in ("number", "integer") or isinstance(gold, (int, float)):
        g, p = as_number(gold), as_number(pred)
        ok = any(abs(a - b) <= NUMBER_TOLERANCE + 1e-6 * abs(a) for a in g for b in p)
        return Verdict(ok, sim, "number")
    gd = date_values(str(gold))
    if gd and _date_like(str(gold)):
        return Verdict(bool(gd & date_values(str(pred))) or norm_text(gold) == norm_text(pred), sim, "date")
    return Verdict(norm_text(gold) == norm_text(pred), sim, "string")


def _date_like(text: str) -> bool:
    """A string that is only a date (not an address with numbers that happen to parse)."""
    return len(re.sub(r"[\d\s./\-,]", "", text)) <= 12


def assign(gold_items: list[Any], pred_items: list[Any], score) -> list[tuple[int, int]]:
    """Pairs (gold index, predicted index) maximising the total `score(g, p)` (0..1), by the Hungarian
    algorithm; pairs that score 0 are left unpaired."""
    if not gold_items or not pred_items:
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    m = np.array([[score(g, p) for p in pred_items] for g in gold_items], dtype=float)
    rows, cols = linear_sum_assignment(-m)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if m[r, c] > 0]
