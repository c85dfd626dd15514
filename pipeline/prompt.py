"""Prompt construction: system turn with task, schema and citation rules; user turn interleaving
`Document: name`, unit labels, images and (optionally) the text layer. Document text is data: every
special or added token of the loaded tokenizer, and anything shaped like one, is defused before it
reaches the tokenizer."""

from __future__ import annotations

import json
import re
from typing import Sequence

from pipeline.parts import upright_size
from pipeline.slices import slice_boxes, slice_note
from schemas.options import PIXELS_PER_IMAGE_TOKEN
from schemas.records import FrameUnit, ImageSegment, PageUnit, Segment, TextSegment

SHAPED = r"<\|[^<>\s]{0,24}>|<[^<>\s]{0,24}\|>|<(?:bos|eos|pad|unk|mask|start_of_turn|end_of_turn)>"
CONTROL = re.compile(SHAPED)
MAX_TEXT_LAYER_CHARS = 6000
WORD_JOINER = "\u2060"


def control_pattern(tokens: Sequence[str] = ()) -> re.Pattern:
    """One pattern for the tokenizer's own control tokens (longest first) and the generic shapes."""
    words = sorted({t for t in tokens if t.strip() and len(t) > 1}, key=len, reverse=True)
    return re.compile("|".join([re.escape(t) for t in words] + [SHAPED])) if words else CONTROL


def _defuse(token: str) -> str:
    if "<" in token or ">" in token:
        return token.replace("<", "‹").replace(">", "›")
    return token[0] + WORD_JOINER + token[1:]  # e.g. [multimodal]: a joiner breaks the token, the text reads the same


def sanitize(text: str, pattern: re.Pattern = CONTROL) -> str:
    """Defuse control tokens in document text (`pattern` from `control_pattern(tokenizer tokens)`) and
    drop control characters other than newline and tab."""
    text = pattern.sub(lambda m: _defuse(m.group(0)), text)
    return "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)


def system_prompt(schema: dict, schema_name: str, video: bool, collection: bool) -> str:
    where = "the timestamp label `t` (mm:ss) of the frame" if video else "the page number"
    doc_rule = " and the document name `doc`" if collection else ""
    return (
        f"You extract structured data ({schema_name}) from documents shown as page images with labels "
        "like [page 3] or [00:12], each optionally followed by its text layer.\n"
        "Answer with one JSON object only. Every field is either null (not in the documents) or "
        '{"value": ..., "citations": [{...}]}. Each citation gives ' + where + doc_rule +
        " and a short quote copied verbatim from that page or frame (at most 160 characters). "
        "Never invent values or quotes.\n"
        "Fields:\n" + json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    )


def unit_segments(unit: PageUnit | FrameUnit, budget: int, include_text: bool, pattern: re.Pattern = CONTROL) -> list[Segment]:
    """Label, image (a long page's slices, each at `budget`) and text layer of one unit (or of a band
    of it, `pipeline/parts.py`: its picture already cut, `ImageRef.crop`)."""
    boxes = slice_boxes(unit.image_width, unit.image_height, budget * PIXELS_PER_IMAGE_TOKEN)
    segs: list[Segment] = [TextSegment(text=unit.label + band_note(unit) + slice_note(boxes))]
    dx, dy = unit.image.crop[:2] if unit.image.crop else (0, 0)
    for box in boxes:
        crop = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        image = unit.image if len(boxes) == 1 else unit.image.model_copy(update={"crop": crop})
        segs.append(ImageSegment(image=image, width=box[2] - box[0], height=box[3] - box[1], budget=budget))
    if include_text and unit.words:
        text = sanitize(layer_text(unit), pattern)[:MAX_TEXT_LAYER_CHARS]
        segs.append(TextSegment(text=f"Text layer: {text}"))
    return segs


def band_note(unit: PageUnit | FrameUnit) -> str:
    """What the prompt says after a band's label: which part of the page it shows ('' for a whole unit)."""
    crop = unit.image.crop
    if crop is None:
        return ""
    wide, tall = upright_size(unit)
    full = tall * unit.image_width / max(wide, 1e-9)  # the whole upright picture's height, in pixels
    what = "frame" if isinstance(unit, FrameUnit) else "page"
    return f" (a band across the {what}, from {100 * crop[1] / full:.0f}% to {100 * crop[3] / full:.0f}% of its height)"


def layer_text(unit: PageUnit | FrameUnit) -> str:
    """The unit's words in reading order, one line per text line."""
    lines: list[str] = []
    last = None
    for w in unit.words:
        if w.line != last:
            lines.append(w.text)
            last = w.line
        else:
            lines[-1] += " " + w.text
    return "\n".join(lines)


def document_header(name: str, pattern: re.Pattern = CONTROL) -> TextSegment:
    return TextSegment(text=f"Document: {sanitize(name, pattern)}")
