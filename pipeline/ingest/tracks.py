"""What kinds of tracks an MP4 / MOV / 3GP file holds, read from its `moov` box (OpenCV cannot say): so a
file with sound and no pictures fails as what it is, not as a video OpenCV cannot decode."""

from __future__ import annotations

import os

CONTAINERS = (b"moov", b"trak", b"mdia")  # the path to each track's handler: moov/trak/mdia/hdlr
HANDLER_NAMES = {"vide": "video", "soun": "audio", "text": "text", "sbtl": "subtitles", "subt": "subtitles",
                 "meta": "metadata", "hint": "hint", "tmcd": "timecode"}
MAX_BOXES = 10_000


def track_kinds(path: str) -> list[str]:
    """Handler types of the file's tracks ('vide', 'soun', ...), in order; [] when there is no readable
    `moov` box (not an ISO-BMFF file, or one cut before it)."""
    kinds: list[str] = []
    seen = 0
    try:
        with open(path, "rb") as f:

            def walk(start: int, end: int, depth: int) -> None:
                nonlocal seen
                pos = start
                while pos + 8 <= end and seen < MAX_BOXES:
                    seen += 1
                    f.seek(pos)
                    header = f.read(16)
                    if len(header) < 8:
                        return
                    size, kind, head = int.from_bytes(header[:4], "big"), header[4:8], 8
                    if size == 1 and len(header) == 16:  # a 64-bit size follows
                        size, head = int.from_bytes(header[8:16], "big"), 16
                    elif size == 0:  # runs to the end of its parent
                        size = end - pos
                    if size < head:
                        return
                    if depth < len(CONTAINERS) and kind == CONTAINERS[depth]:
                        walk(pos + head, min(pos + size, end), depth + 1)
                    elif depth == len(CONTAINERS) and kind == b"hdlr":
                        f.seek(pos + head + 8)  # version and flags, pre_defined, then the handler type
                        kinds.append(f.read(4).decode("latin-1"))
                    pos += size

            walk(0, os.fstat(f.fileno()).st_size, 0)
    except OSError:
        return []
    return kinds


def without_pictures(path: str) -> str | None:
    """A sentence for a file whose tracks are known and none is video ("only audio"), else None."""
    kinds = track_kinds(path)
    if not kinds or "vide" in kinds:
        return None
    names = sorted({HANDLER_NAMES.get(k, repr(k)) for k in kinds})
    return f"it holds no video track, only {' and '.join(names)}"
