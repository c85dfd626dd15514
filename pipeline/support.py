"""Does the text a quote was matched to support the extracted value? Numbers are compared as numbers
(any of the usual decimal and thousands separators), dates as dates, identifiers digit for digit, short
strings as normalised text. `None` means the value cannot be checked against words (booleans, nulls,
lists, long free text that paraphrases its evidence)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rapidfuzz import fuzz

from pipeline.textnorm import digits_key, fold_confusables, has_digit, normalise

SHORT_STRING_WORDS = 8  # strings up to this many words must appear in the matched words
LONG_STRING_MIN_SCORE = 90.0  # a longer string that aligns this well counts as supported

_NUMBER = re.compile(r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,'’]\d+)*")
_MONTHS = {m: i + 1 for i, ms in enumerate((
    "jan january janvier januar enero", "feb february fevrier février februar febrero", "mar march mars märz marzo",
    "apr april avril abril", "may mai mayo", "jun june juin juni junio", "jul july juillet juli julio",
    "aug august aout août agosto", "sep sept september septembre septiembre", "oct october octobre oktober octubre",
    "nov november novembre noviembre", "dec december decembre décembre dezember diciembre")) for m in ms.split()}
_NUMERIC_DATE = re.compile(r"(\d{1,4})[./\-](\d{1,2})[./\-](\d{1,4})")
_WORD_DATE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\.?\s+([a-zéû]+)\.?,?\s+(\d{4})|([a-zéû]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def number_values(text: str) -> set[float]:
    """Every reading of every number in `text`: "1,234" is 1234 or 1.234, "6 783,00" is 6783.0."""
    out: set[float] = set()
    for m in _NUMBER.finditer(text.replace("\u2009", " ")):
        out |= _readings(m.group())
    return out


def _readings(raw: str) -> set[float]:
    s = re.sub(r"[ \u00a0\u202f'’]", "", raw)
    seps = [c for c in s if c in ".,"]
    if not seps:
        return {float(s)}
    last = s.rfind(seps[-1])
    decimals = len(s) - last - 1
    readings = set()
    if len(set(seps)) == 2 or seps.count(seps[-1]) == 1:  # the last separator may be the decimal point
        readings.add(float(s[:last].replace(",", "").replace(".", "") + "." + s[last + 1:]))
    if (len(set(seps)) == 1 and decimals == 3) or not readings:  # or every separator groups thousands
        if all(len(g) == 3 for g in re.split(r"[.,]", s)[1:]):
            readings.add(float(s.replace(",", "").replace(".", "")))
    return readings or {float(s.replace(",", "").replace(".", ""))}


def date_values(text: str) -> set[dt.date]:
    """Dates written in `text`: ISO, day-first and month-first numeric forms, and month names."""
    out: set[dt.date] = set()
    low = text.casefold()
    for a, b, c in _NUMERIC_DATE.findall(low):
        x, y, z = int(a), int(b), int(c)
        orders = [(x, y, z)] if len(a) == 4 else [(z, y, x), (z, x, y)]  # y-m-d, or d-m-y and m-d-y
        for year, month, day in orders:
            _add_date(out, year + (2000 if year < 100 and len(c) == 2 else 0), month, day)
    for d1, mon1, y1, mon2, d2, y2 in _WORD_DATE.findall(low):
        month = _MONTHS.get(mon1 or mon2)
        if month:
            _add_date(out, int(y1 or y2), month, int(d1 or d2))
    return out


def _add_date(out: set[dt.date], year: int, month: int, day: int) -> None:
    try:
        out.add(dt.date(year, month, day))
    except ValueError:
        pass


def value_supported(value: Any, matched_text: str) -> bool | None:
    """Whether `matched_text` (the words a quote was located on) supports `value`; None when the value
    is not checkable against words."""
    if value is None or isinstance(value, (bool, list, dict)):
        return None
    if isinstance(value, (int, float)):
        return any(abs(v - float(value)) <= 0.005 + 1e-9 * abs(v) for v in number_values(matched_text))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    dates = date_values(text)
    if dates and date_values(matched_text) & dates:
        return True
    nv, nm = normalise(text), normalise(matched_text)
    if nv and nv in nm:
        return True
    if has_digit(text):  # identifiers, amounts, phone numbers: every number of the value, digit for digit
        wanted = _NUMBER.findall(text)
        have = number_values(matched_text)
        numbers_ok = all(_readings(n) & have for n in wanted)
        return numbers_ok and (digits_key(text) in digits_key(matched_text) or bool(dates) or _amount_like(text))
    if len(text.split()) <= SHORT_STRING_WORDS:
        return fold_confusables(nv) in fold_confusables(nm)
    return True if fuzz.partial_ratio(nv, nm) >= LONG_STRING_MIN_SCORE else None


def _amount_like(text: str) -> bool:
    """One number with at most a currency or unit around it ("EUR 6,783.00", "12 %")."""
    return len(_NUMBER.findall(text)) == 1
