"""Does OCR read the script a picture is written in?

RapidOCR's recogniser reads Latin letters, digits and Chinese. Shown Cyrillic, Greek or Arabic it still
answers, with look-alike letters ('Счёт-фактура' reads 'C4eT-ΦaKTypa', 'марта' 'MapTa'); shown Hangul it
reads the digits and little else. Either text given to the model as the page's words
misleads it (Gemma reads these scripts from the image), and citations would be checked against it. Four
signs, each judged on a whole reading:
- look-alike words: letters of two scripts in one word, a digit alone between letters, or capitals where no
  words run together would put them ('C4eT', 'αptθ', 'IJlplJs'), in words that hold at least ODD_SHARE of
  the letters of words with three letters or more (a brand such as 'GmbH' is one word among many);
- ink without characters: the lines found hold far fewer characters than their length in line heights
  (printed Latin holds about two a line height; Hangul read as digits alone, under READ_SHARE);
- Latin without vowels: Hebrew reads as short runs of consonant look-alikes and digits ('x7nn', 'nny7',
  'v"n.'), too few letters a word to judge as words; its Latin letters hold almost no vowels (a, e, i,
  o, u and their accented forms: 0-9 % on Hebrew scans, 29-41 % on every Latin scan and typeset page of
  bench/unread_scripts.py, receipts and forms full of codes included);
- fragments: Arabic as printed, its letters joined, reads as runs of one or two letters and punctuation
  ('gl', '.p', ':>y', 'jGiU'); half or more of a reading's lettered tokens hold two letters or fewer and
  no digit (a label such as 'B100' or '5m' is no fragment): typeset Arabic 52-63 %, a Persian PDF page
  rendered and read 54 %, Hebrew 46-57 %; the corpus's Latin pages and scans read by OCR 25 % at most,
  receipts 24 %, handwritten German forms 15 %. Shown each line in soft contrast (`contrast.py`), the
  recogniser joins more of Arabic's letters ('glol', 'yGiJgill': 37-43 % fragments), but reads it unsurely
  (0.73-0.75, where Latin print reads 0.87 or more): a reading under FRAGMENT_CONFIDENCE needs only
  UNSURE_FRAGMENT_SHARE fragments. Prose read surely keeps its short words ('of', 'de', 'la', 'y')."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

ODD_SHARE = 0.4  # of the letters in words of three letters or more (Latin scans: 17 % at most; a half-size Arabic scan: 49 %)
MIN_LETTERED = 40  # such letters, at least, to judge the look-alike sign
READ_SHARE = 0.6  # characters (a CJK one counts two) per line height of the lines found, at least
MIN_LINE_HEIGHTS = 30  # line length, in line heights, at least, to judge the ink sign
EDGE_PUNCTUATION = ".,:;!?()[]{}\"'«»“”‘’‚„-–—/\\|*#%&+=<>_~"
VOWELS = set("aeiouyäöüàâéèêëîïôûùáíóúåæøœ")
PLAIN_VOWELS = VOWELS - {"y"}  # y stands for a consonant in many languages, and Hebrew reads as it often
VOWEL_SHARE = 0.15  # of the Latin letters read, at least, in a Latin reading
MIN_VOWEL_LETTERS = 30  # Latin letters, at least, to judge the vowel sign
FRAGMENT_SHARE = 0.5  # of the lettered tokens, at most, with one or two letters in a Latin reading
MIN_FRAGMENT_TOKENS = 16  # lettered tokens, at least, to judge the fragment sign
UNSURE_FRAGMENT_SHARE = 0.33  # ... and the share in a reading less sure than FRAGMENT_CONFIDENCE (Arabic: 37-43 %)
FRAGMENT_CONFIDENCE = 0.8  # a reading's mean confidence (Arabic: 0.73-0.75; Latin scans and print: 0.87 and up)
SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC", "HEBREW")


def is_cjk(ch: str) -> bool:
    """Chinese, Japanese or Korean (ideographs, kana, Hangul, full-width forms)."""
    o = ord(ch)
    return 0x3000 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF


def script(ch: str) -> str:
    """The script of a letter that is not CJK: one of SCRIPTS, or other."""
    name = unicodedata.name(ch, "")
    return next((s for s in SCRIPTS if name.startswith(s)), "other")


def lookalike(word: str) -> bool | None:
    """Whether an OCR'd word looks like another script read as this one; None for a word of fewer than
    three letters (not judged)."""
    cjk = sum(1 for c in word if is_cjk(c))
    word = "".join(c for c in word if not is_cjk(c)).strip(EDGE_PUNCTUATION)
    letters = [c for c in word if c.isalpha()]
    if len(letters) < 3 or cjk >= len(letters):  # Chinese runs into Latin without spaces ('北京ABC科技'): not judged
        return None
    if len({script(c) for c in letters}) > 1:
        return True
    if re.search(r"[^\W\d_]\d[^\W\d_]", word):  # one digit between letters: '4' for 'ч', '0' for 'о' (words run
        return True                                    # together around a number hold more: 'number1542dated')
    return any(_odd_case(run) for run in re.findall(r"[^\W\d_]+", word))


def _odd_case(run: str) -> bool:
    """Capitals where no words run together would put them: OCR runs words together ('TotalAmount',
    'McDonald', 'iPhone' are words), but each capital after the first part then starts a part of three
    letters or more with a vowel; 'PomaWka', 'MapTa', 'ocTaB' have none such."""
    if run.islower() or run.isupper() or run.istitle():
        return False
    starts = [i for i in range(1, len(run)) if run[i].isupper() and (  # where a part starts: 'Total|Amount', 'AB|Cd'
        run[i - 1].islower() or (i + 1 < len(run) and run[i + 1].islower()))]
    parts = [run[a:b] for a, b in zip([0, *starts], [*starts, len(run)])]
    return any(len(p) < 3 or not p[1:].islower() or not any(c in VOWELS for c in p.lower()) for p in parts[1:])


def script_unread(lines: Iterable[tuple[str, float, float]], confidence: float = 1.0) -> bool:
    """Whether OCR's lines, as (text, width, height) in pixels, read with this mean `confidence`, are a
    script the recogniser does not read."""
    lettered = odd = latin = vowels = tokens = fragments = 0
    heights = chars = 0.0
    for text, width, height in lines:
        for c in text:
            if c.isalpha() and script(c) == "LATIN":
                latin += 1
                vowels += c.lower() in PLAIN_VOWELS
        for word in text.split():
            letters = sum(c.isalpha() and not is_cjk(c) for c in word)
            if letters and not any(is_cjk(c) for c in word):
                tokens += 1
                fragments += letters <= 2 and not any(c.isdigit() for c in word)  # 'B100', '5m' are labels, not fragments
            judged = lookalike(word)
            if judged is not None:  # weighed by letters: OCR runs words together into long ones
                lettered += letters
                odd += letters * judged
        if height > 0 and width >= height:  # lines along the page (CJK in columns is read, and not judged)
            heights += width / height
            chars += sum(2 if is_cjk(c) else 1 for c in text if not c.isspace())
    if lettered >= MIN_LETTERED and odd >= ODD_SHARE * lettered:
        return True
    if latin >= MIN_VOWEL_LETTERS and vowels < VOWEL_SHARE * latin:
        return True
    share = FRAGMENT_SHARE if confidence >= FRAGMENT_CONFIDENCE else UNSURE_FRAGMENT_SHARE
    if tokens >= MIN_FRAGMENT_TOKENS and fragments >= share * tokens:
        return True
    return heights >= MIN_LINE_HEIGHTS and chars < READ_SHARE * heights


def unread_message(where: str, sample: str) -> str:
    """The warning for pictures whose script OCR does not read: `where` names them, `sample` is what OCR
    made of the first."""
    from pipeline.ingest.tesseract import install_hint

    return (f"OCR does not read the script of {where} (it read {sample!r}): those OCR words were left out, the model "
            f"reads the text from the image, and citations there stay unverified; {install_hint()}")
