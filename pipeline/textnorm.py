"""Text forms used to compare quotes and values with page words: a normalised form, a folded form for
OCR confusions, and number runs whose digits must agree exactly. Shared by grounding and value support.
Also the storable form of text parsed from JSON."""

from __future__ import annotations

import re
import unicodedata

_TRANSLATE = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "﹣": "-", "－": "-",
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    "\u200e": None, "\u200f": None, "\u061c": None, "\u202a": None, "\u202b": None, "\u202c": None,
    "\u202d": None, "\u202e": None, "\u2066": None, "\u2067": None, "\u2068": None, "\u2069": None,
    "\u0640": None,  # Arabic tatweel
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه",
    # Persian letter forms -> Arabic ones (ی/ي, ک/ك, ە/ه, ۀ/ه)
    "ی": "ي", "ێ": "ي", "ک": "ك", "ە": "ه", "ۀ": "ه", "ہ": "ه", "ھ": "ه",
    "٫": ".", "٬": ",",  # Arabic decimal and thousands separators
    # Arabic-Indic and Persian digits
    **{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)},
})
# Arabic/Hebrew vowel points and the Devanagari nukta: combining marks dropped for matching
_TRANSLATE.update({o: None for lo, hi in ((0x0591, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670),
                                         (0x093C, 0x093C)) for o in range(lo, hi + 1) if unicodedata.category(chr(o)) == "Mn"})


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value):
    """A parsed JSON value whose strings UTF-8 can store: a surrogate escape without its pair ("\\ud83d",
    as a length-bounded string can end between the halves of an emoji) becomes U+FFFD."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value) if not value.isascii() else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def normalise(text: str) -> str:
    """Canonical form for matching: NFKC (ligatures, full-width forms), casefold, unified quotes and
    dashes, Persian and Arabic letter forms and digits unified, no invisible characters or vowel marks,
    whitespace removed."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).casefold()
    return "".join(text.split())


MARKS = ".,;:'\"·"  # marks OCR and quoting add or lose
_FOLD_KEEP = str.maketrans({"m": "rn", "0": "o", "1": "l", "i": "l", "|": "l"})
# alef dropped: text layers store the lam-alef ligature in either order ("اإل" for "الإ")
_FOLD = str.maketrans({"m": "rn", "0": "o", "1": "l", "i": "l", "|": "l", "ا": None, **{c: None for c in MARKS}})


def fold_confusables(norm: str, drop_marks: bool = True) -> str:
    """Fold what OCR and VLMs confuse in an already normalised string (m/rn, 0/o, 1/l/i/|) and drop
    periods, commas, colons and quote marks. A character-by-character map ("m" becomes "rn", not the
    other way), so a folded page is the concatenation of its folded words."""
    return norm.translate(_FOLD if drop_marks else _FOLD_KEEP)


def has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


_DIGITISH_TOKEN = re.compile(r"[0-9oli|.,'/:\-]+")
_RUN = re.compile(r"[0-9]+(?:[oli|.,'/:\-]*[0-9]+)*")
_RUN_KEY = str.maketrans({"o": "0", "l": "1", "i": "1", "|": "1", ".": None, ",": None, "'": None, "/": None,
                          ":": None, "-": None})


def number_form(token: str) -> str:
    """The form of a word that `number_runs` reads (NFKC, unified digits and marks, casefolded); its
    offsets are in this form."""
    return unicodedata.normalize("NFKC", token).translate(_TRANSLATE).casefold()


def number_runs(token: str) -> list[tuple[int, int, str]]:
    """(start, end, key) of each run of digits in one word (offsets in `number_form`): a word that is
    all digits, separators and digit look-alikes is one run ("2OO4." -> "2004"); otherwise runs are
    digits with separators or look-alikes between them ("1o0falsevalues" -> "100"). The key keeps only
    the digits, so "6,783.00", "6783.00" and "6 783,00" (joined over words) agree, and one changed digit
    never does."""
    token = number_form(token)
    if not has_digit(token):
        return []
    if _DIGITISH_TOKEN.fullmatch(token):
        a, b = 0, len(token)
        while a < b and not token[a].isalnum():
            a += 1
        while b > a and not token[b - 1].isalnum():
            b -= 1
        return [(a, b, token[a:b].translate(_RUN_KEY))]
    out = []
    for m in _RUN.finditer(token):
        a, b = m.start(), m.end()
        before, after = token[a - 1:a], token[b:b + 1]
        if set(m.group()) <= set("01") and (before.isalpha() or after.isalpha()) and (len(m.group()) == 1 or (before.isalpha() and after.isalpha())):
            continue  # "tab1es", "FR0M", "inte11igence": a letter OCR or a model read as a digit
        while a > 0 and token[a - 1] in "oli|" and not token[a - 2:a - 1].isalpha():
            a -= 1  # "(l28)": a look-alike that opens the number
        out.append((a, b, token[a:b].translate(_RUN_KEY)))
    return out


def digits_key(text: str) -> str:
    """The digits of every number in a text, in order (see `number_runs`); words are split on spaces."""
    return "".join(k for word in text.split() for _, _, k in number_runs(word))


_NO_SPACE_SCRIPTS = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3000, 0x9FFF), (0xAC00, 0xD7AF),
                     (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x2FFFF))


def unspaced(ch: str) -> bool:
    """A character of a script written without spaces between words (CJK, Thai, ...)."""
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _NO_SPACE_SCRIPTS)


def word_char(ch: str) -> bool:
    """A character that continues a word: a letter or digit of a spaced script."""
    return ch.isalnum() and not unspaced(ch)


_RTL = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]")


def right_to_left(text: str) -> bool:
    return _RTL.search(text) is not None
