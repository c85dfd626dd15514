"""Animated GIF, PNG (APNG), WebP and AVIF files read like a short video: the frame on screen at each sampling
time (--video-fps), placed by the frames' own display times, as timed frames with OCR words.

A frame shown for 10 ms or less is timed at 100 ms, as browsers play it (GIFs written with no delay)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.frames import FrameKeeper
from pipeline.ingest.lenient import GATE
from pipeline.ingest.result import IngestResult
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, SourceDocument

ANIMATED_FORMATS = {"GIF", "PNG", "WEBP", "AVIF"}  # a multi-frame TIFF is pages; an MPO's extra pictures are no frames
SHORTEST_FRAME_MS, PLAYED_AS_MS = 10.0, 100.0


def is_animation(im) -> bool:
    """Whether an opened Pillow image is an animation (several frames shown one after another). A GIF
    with neither a delay on its first frame nor a loop is a multi-page image (as fax software writes), read
    page by page; one whose second frame cannot even be found is read as a still image."""
    if im.format not in ANIMATED_FORMATS:
        return False
    if im.format == "GIF" and not im.info.get("duration") and "loop" not in im.info:
        return False
    try:
        with GATE.strict():
            return bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - a damaged frame directory
        return False


def frame_seconds(info: dict) -> float:
    """How long the current frame stays on screen, from Pillow's `info["duration"]` (milliseconds)."""
    try:
        ms = float(info.get("duration") or 0.0)
    except (TypeError, ValueError):
        ms = 0.0
    return (ms if ms > SHORTEST_FRAME_MS else PLAYED_AS_MS) / 1000.0


def shown_seconds(im) -> float:
    """How long the frame an animation is at stays on screen (WebP and AVIF state it once the frame is read)."""
    if im.format in ("WEBP", "AVIF"):
        im.load()
    return frame_seconds(im.info)


def first_frame(im) -> int:
    """Index of an animation's first frame: 1 for an APNG whose default image, shown only by viewers that
    cannot animate, is not part of the animation."""
    return 1 if im.format == "PNG" and getattr(im, "default_image", False) else 0


def seek_to_time(im, t: float) -> int:
    """Seek an opened animation to the frame on screen at `t` seconds (the last one if it ends sooner);
    returns that frame's index."""
    index, end = first_frame(im), 0.0
    im.seek(index)
    while (end := end + shown_seconds(im)) <= t:  # the frame at `index` leaves the screen at `end`
        try:
            im.seek(index + 1)
        except EOFError:
            im.seek(index)
            break
        index += 1
    return index


def ingest_animation(doc: SourceDocument, im, options: IngestOptions, spool: Path, deadline: float,
                     decode) -> IngestResult:
    """The frames of an opened animation at --video-fps. `decode(index)` gives the frame at `index` as
    (upright RGB within the page caps, full size, Damage or None), or raises StageError. A frame that
    cannot be read after good ones keeps those, with an error row saying where it broke."""
    import numpy as np

    res = IngestResult()
    keeper = FrameKeeper(doc, options, spool, res)
    err = lambda kind, msg, t: res.errors.append(ErrorRecord(  # noqa: E731
        doc_id=doc.doc_id, path=doc.path, stage="ingest", kind=kind, message=msg, t_seconds=round(t, 3)))
    step, sample, start = 1.0 / options.video_fps, 0, 0.0
    first = first_frame(im)
    for index in itertools.count(first):
        try:
            with GATE.strict():
                if index:
                    im.seek(index)
                shown_for = shown_seconds(im)
        except EOFError:
            break
        except Exception as e:  # noqa: BLE001 - a broken frame (the file ends early, or bad data)
            if index == first:
                raise StageError("ingest", "corrupt", f"cannot decode image: {e}") from e
            err("truncated", f"the animation breaks at frame {index + 1} ({type(e).__name__}: {e}); "
                f"the frames before {start:.1f} s were kept", start)
            break
        if start >= options.max_video_seconds:
            err("limit_duration", f"animation longer than --max-video-seconds {options.max_video_seconds:g}; "
                "rest skipped", options.max_video_seconds)
            break
        if time.monotonic() > deadline:
            err("timeout", f"stopped at {start:.1f} s: over --doc-timeout", start)
            break
        end = start + shown_for
        if sample * step < end:  # this frame is on screen at the next sampling time
            target = sample * step
            while sample * step < end:
                sample += 1
            try:
                shown, size, damage = decode(index)
            except StageError as e:
                if not res.units:
                    raise
                err("corrupt", f"{e.message}; the frames before {start:.1f} s were kept", start)
                break
            if damage is not None:
                err(damage.kind, damage.message, target)
            frame = np.ascontiguousarray(np.asarray(shown)[:, :, ::-1])  # RGB -> BGR, as OpenCV frames are
            if not keeper.duplicate(frame, target):
                keeper.keep(frame, size, size[0] / shown.size[0], target, exact=True)
        start = end
    return res
