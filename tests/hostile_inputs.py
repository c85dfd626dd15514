"""Makers of hostile inputs for tests/test_hostile.py: decompression bombs and broken videos, built
small and on the fly (nothing large is committed)."""

from __future__ import annotations

import fractions
import zlib
from pathlib import Path

import numpy as np


def pdf_stream_bomb(path: Path, inflated_mb: int) -> Path:
    """A one-page PDF whose content stream is one string literal that inflates to `inflated_mb` MB
    (MuPDF buffers a whole token, so reading the page needs several times that in memory)."""
    comp = zlib.compressobj(9)
    block = b"A" * (1 << 20)
    data = comp.compress(b"BT (") + b"".join(comp.compress(block) for _ in range(inflated_mb))
    data += comp.compress(b") Tj ET") + comp.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def palette_png_bomb(path: Path, side: int = 9990) -> Path:
    """A palette PNG of `side` x `side` pixels that compresses to a few KB (a page of text in one corner)."""
    from PIL import Image, ImageDraw

    im = Image.new("P", (side, side), 0)
    im.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    ImageDraw.Draw(im).rectangle((100, 100, side // 3, side // 6), fill=1)
    im.save(path, optimize=True, bits=1)
    return path


def zero_duration_video(path: Path, frames: int = 50) -> Path:
    """A video whose packets all carry timestamp 0 and no duration, as broken muxers write them."""
    import av

    container = av.open(str(path), "w")
    stream = container.add_stream("mpeg4", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.time_base = fractions.Fraction(1, 1000)

    def mux(packets):
        for p in packets:
            p.pts = p.dts = 0
            p.duration = 0
            container.mux(p)

    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 37) % 255, np.uint8), format="rgb24")
        frame.pts, frame.time_base = i * 40, fractions.Fraction(1, 1000)
        mux(stream.encode(frame))
    mux(stream.encode())
    container.close()
    return path


def slide_video(path: Path, slides: list[str], seconds_each: int, fps: int = 5) -> Path:
    """A screen recording: each slide's text held still for `seconds_each` seconds."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 360))
    for text in slides:
        frame = np.full((360, 640, 3), 255, np.uint8)
        cv2.putText(frame, text, (40, 180), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (0, 0, 0), 3)
        for _ in range(seconds_each * fps):
            writer.write(frame)
    writer.release()
    return path


def _to_unicode_cmap(two_byte: bool) -> bytes:
    """A ToUnicode CMap that maps each code to another letter: a one-byte code to the character after
    the one it stands for (`Date` reads `Ebuf`), a two-byte glyph id to a-z by its number."""
    if two_byte:
        space, maps = "<0000> <FFFF>", [f"<{c:04X}> <{c + 25:04X}> <0061>" for c in range(0, 0x2000, 26)]
        kind = "bfrange"
    else:
        space, maps, kind = "<00> <FF>", [f"<{c:02X}> <{c + 1:04X}>" for c in range(0x21, 0x7F)], "bfchar"
    body = []
    for k in range(0, len(maps), 100):
        chunk = maps[k:k + 100]
        body += [f"{len(chunk)} begin{kind}", *chunk, f"end{kind}"]
    return "\n".join(["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
                      "/CMapName /Miscoded def", "/CMapType 2 def", f"1 begincodespacerange {space} endcodespacerange",
                      *body, "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]).encode()


def miscoded_pdf(src: Path, dst: Path) -> int:
    """A copy of `src` whose fonts map to the wrong letters (each font's ToUnicode replaced by
    `_to_unicode_cmap`), as a broken export gives: the page looks the same, its text layer reads other
    letters. Returns the number of fonts changed."""
    import pymupdf

    doc = pymupdf.open(src)
    changed = 0
    for xref in range(1, doc.xref_length()):
        try:
            if doc.xref_get_key(xref, "Type")[1] != "/Font" or doc.xref_get_key(xref, "Subtype")[1] == "/Type3":
                continue
            two_byte = doc.xref_get_key(xref, "Subtype")[1] == "/Type0"
        except Exception:  # noqa: BLE001 - a free or broken object
            continue
        cmap = doc.get_new_xref()
        doc.update_object(cmap, "<<>>")
        doc.update_stream(cmap, _to_unicode_cmap(two_byte))
        doc.xref_set_key(xref, "ToUnicode", f"{cmap} 0 R")
        changed += 1
    doc.save(dst, garbage=1)
    return changed
