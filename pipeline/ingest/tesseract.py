"""Tesseract reads the scripts RapidOCR does not.

RapidOCR's recogniser reads Latin letters, digits and Chinese; a picture in Cyrillic, Greek, Arabic, Hebrew,
Hangul, Georgian or Armenian comes out as look-alikes (`scripts.script_unread`). Where the Tesseract binary
and a model of that script are installed (Debian: `tesseract-ocr` and `tesseract-ocr-script-cyrl`, `-grek`,
`-arab`, `-hebr`, `-hang`, ...; `tools/ensure_tesseract.sh`), such a picture is read again by Tesseract:

- the model is picked by reading a sample of the picture's lines (the longest RapidOCR's detector found,
  stacked) with each installed model and keeping the one that reads it most confidently (Tesseract's own
  script guess, `--psm 0`, took Russian for Latin and Korean for Cyrillic on bench/unread_scripts.py's
  pages); the last winner is tried first, and kept at once when it reads the sample well;
- a Latin model (`eng`, or the `Latin` script model) takes part as the arbiter: when it wins, or when the
  winner's reading is mostly Latin letters (script models read Latin too), the picture was Latin after
  all and RapidOCR's words stand;
- the winner reads every line the detector found, cut out and stacked in gemmadoc's reading order (columns
  found as for any OCR'd page), as one block; its words, moved back onto the picture, with their boxes,
  in Tesseract's order within a line (right to left on a right-to-left line), are the picture's words,
  unless it read them too poorly. On bench/unread_scripts.py's pages the stack verified more quotes than
  Tesseract's own page layout (`--psm 3`) did on the whole picture.

Nothing here runs when the binary is missing: the picture is then left without words, as before."""

from __future__ import annotations

import bisect
import csv
import functools
import io
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

from schemas.records import Word

LATIN = ("Latin", "eng")  # the arbiter, the first of these installed
NOT_SCRIPTS = {"osd", "equ"}  # orientation and equation models read no script
READ_BY_RAPIDOCR = {"chi_sim", "chi_tra", "HanS", "HanT", "HanS_vert", "HanT_vert"}  # RapidOCR reads Chinese itself
SAMPLE_LINES = 8  # the longest lines RapidOCR found, stacked, are the sample each model reads
SAMPLE_GAP = 12  # white pixels between them
PAD = 0.15  # of its height, around each line cut from the picture
SURE_CONF = 85.0  # the last winner reading the sample this well is kept without trying the others
MIN_CONF = 50.0  # a reading whose characters' mean confidence (0..100) is below this is no reading
TIMEOUT_S = 60.0  # one Tesseract call; a page that takes longer keeps no words
_last_winner: str | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class Installed:
    """The Tesseract on this machine: its version and the models it has."""

    binary: str
    version: str
    models: tuple[str, ...]

    @property
    def latin(self) -> str | None:
        return next((m for m in LATIN if m in self.models), None)

    @property
    def scripts(self) -> tuple[str, ...]:
        """The models that may read a script RapidOCR does not."""
        return tuple(m for m in self.models if m not in NOT_SCRIPTS | READ_BY_RAPIDOCR | set(LATIN))


@functools.lru_cache(maxsize=1)
def installed() -> Installed | None:
    """The installed Tesseract, or None when there is no `tesseract` on PATH (or it does not answer)."""
    binary = shutil.which("tesseract")
    if binary is None:
        return None
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
        listed = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    models = tuple(sorted(line.strip().rsplit("/", 1)[-1] for line in listed.splitlines()[1:] if line.strip()))
    return Installed(binary, version.strip(), models)


def signature() -> str:
    """What the second reader can read, for cache and work keys ('' when it reads nothing): installing a
    model changes what a scan in its script yields."""
    found = installed()
    return f"{found.version}: {','.join(found.scripts)}" if found and found.scripts else ""


def install_hint() -> str:
    """What to install so that scripts RapidOCR does not read are read."""
    found = installed()
    if found is None:
        return ("install Tesseract and its script models to have them read (Debian/Ubuntu: apt-get install tesseract-ocr "
                "tesseract-ocr-script-cyrl tesseract-ocr-script-grek tesseract-ocr-script-arab tesseract-ocr-script-hebr "
                "tesseract-ocr-script-hang; or sh tools/ensure_tesseract.sh)")
    if not found.scripts:
        return "Tesseract has no model of another script: install one (Debian/Ubuntu: tesseract-ocr-script-cyrl, -grek, -arab, ...)"
    return f"none of Tesseract's models ({', '.join(found.scripts)}) read it either: install the model of its script"


def describe() -> str:
    """One line for `gemmadoc doctor`: the Tesseract found and the scripts it reads, or what to install."""
    found = installed()
    if found is None or not found.scripts:
        return f"{found.version + ': ' if found else 'not installed: '}{install_hint()}"
    return f"{found.version}, reads {', '.join(found.scripts)} where RapidOCR does not"


@dataclass(frozen=True)
class ScriptReading:
    """Tesseract's reading of a picture: `model` read it; `words` in the picture's pixels, none when `latin`
    (the picture is Latin after all: RapidOCR's words stand); `confidence` is the characters' mean, 0..100."""

    model: str
    words: list[Word]
    confidence: float
    latin: bool = False


def read_script(image, line_boxes: list[tuple[float, float, float, float]], line_offset: int = 0) -> ScriptReading | None:
    """Read an upright RGB picture in a script RapidOCR does not read. `line_boxes` are the (x0, y0, x1, y1)
    of the lines RapidOCR's detector found on it, in reading order. None when Tesseract or a model of another
    script is missing, or when no model reads the picture well enough."""
    global _last_winner
    found = installed()
    if found is None or not found.scripts or not line_boxes:
        return None
    longest = sorted(range(len(line_boxes)), key=lambda i: line_boxes[i][2] - line_boxes[i][0], reverse=True)[:SAMPLE_LINES]
    sample, _ = _stacked(image, [line_boxes[i] for i in sorted(longest)])
    with _lock:
        last = _last_winner
    best: tuple[float, str, list] | None = None
    for model in dict.fromkeys(m for m in [last, *found.scripts, found.latin] if m):
        read = tesseract_tsv(sample, model)
        score = _confidence(read)
        if best is None or score > best[0]:
            best = (score, model, read)
        if model == last and score >= SURE_CONF:
            break
    if best is None or best[0] < MIN_CONF:
        return None
    score, model, read = best
    if model in LATIN or _mostly_latin(read):  # script models read Latin too: what counts is what they read
        return ScriptReading(model, [], score, latin=True)
    with _lock:
        _last_winner = model
    stacked, rows = _stacked(image, line_boxes)
    read = tesseract_tsv(stacked, model) if rows else []
    confidence = _confidence(read)
    if confidence < MIN_CONF:
        return None
    tops = [top for top, _, _, _, _ in rows]
    words = []
    for text, (x0, y0, x1, y1), _ in read:  # back from the stack to the picture, by the row a word's middle lies in
        row = max(0, bisect.bisect_right(tops, (y0 + y1) / 2) - 1)
        _, _, dx, dy, (bx0, by0, bx1, by1) = rows[row]
        words.append(Word(text=text, x0=max(bx0, x0 + dx), x1=min(bx1, x1 + dx), y0=max(by0, y0 + dy), y1=min(by1, y1 + dy),
                          line=line_offset + row, ocr=True))
    return ScriptReading(model, words, confidence)


def _stacked(image, boxes):
    """The lines at `boxes` (x0, y0, x1, y1) cut from the picture, a little padded, and stacked in order on
    white, SAMPLE_GAP apart: Tesseract reads them as one block (`--psm 6`), in gemmadoc's reading order
    (columns as `layout.reading_order` finds them). Returns the stack and, for each line, (top, bottom) in
    the stack, the (dx, dy) that move the stack's pixels back onto the picture, and the cut's bounds there."""
    import numpy as np

    h, w = image.shape[:2]
    cuts = []
    for x0, y0, x1, y1 in boxes:
        pad = max(2, round((y1 - y0) * PAD))
        bx0, by0, bx1, by1 = max(0, int(x0) - pad), max(0, int(y0) - pad), min(w, int(x1) + pad + 1), min(h, int(y1) + pad + 1)
        if bx1 > bx0 and by1 > by0:
            cuts.append((bx0, by0, bx1, by1))
    width = max((b[2] - b[0] for b in cuts), default=1) + 2 * SAMPLE_GAP
    parts, rows, top = [np.full((SAMPLE_GAP, width, 3), 255, np.uint8)], [], SAMPLE_GAP
    for bx0, by0, bx1, by1 in cuts:
        part = np.full((by1 - by0, width, 3), 255, np.uint8)
        part[:, SAMPLE_GAP:SAMPLE_GAP + bx1 - bx0] = image[by0:by1, bx0:bx1, :3]
        parts += [part, np.full((SAMPLE_GAP, width, 3), 255, np.uint8)]
        rows.append((top, top + by1 - by0, bx0 - SAMPLE_GAP, by0 - top, (bx0, by0, bx1, by1)))
        top += by1 - by0 + SAMPLE_GAP
    return np.concatenate(parts), rows


def _mostly_latin(words) -> bool:
    """Half or more of the letters a reading holds are Latin ones."""
    import unicodedata

    letters = [c for text, _, _ in words for c in text if c.isalpha()]
    return 2 * sum(unicodedata.name(c, "").startswith("LATIN") for c in letters) >= len(letters) > 0


def _confidence(words) -> float:
    """The characters' mean confidence of a reading (0 when it read nothing)."""
    chars = sum(len(text) for text, _, _ in words)
    return sum(len(text) * conf for text, _, conf in words) / chars if chars else 0.0


def tesseract_tsv(image, model: str, psm: int = 6) -> list[tuple[str, tuple[int, int, int, int], float]]:
    """(text, box, confidence) of each word Tesseract reads on an RGB picture, in
    its reading order; [] when it fails or runs out of time. One thread (OMP_THREAD_LIMIT=1): pages are
    read in parallel by gemmadoc's workers."""
    from PIL import Image

    found = installed()
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG", compress_level=1)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run([found.binary, "stdin", "stdout", "-l", model, "--psm", str(psm), "tsv"], input=buf.getvalue(),
                              capture_output=True, timeout=TIMEOUT_S, env=env)
    except (OSError, subprocess.SubprocessError):
        return []
    if done.returncode != 0:
        return []
    words = []
    for row in csv.DictReader(io.StringIO(done.stdout.decode("utf-8", "replace")), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        try:
            if row.get("level") != "5" or not text or float(row["conf"]) < 0:
                continue
            x, y, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
            words.append((text, (x, y, x + w, y + h), float(row["conf"])))
        except (KeyError, ValueError):
            continue
    return words
