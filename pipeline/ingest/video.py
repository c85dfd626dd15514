"""Video ingest with OpenCV: frames sampled by timestamp (not frame index), so variable frame rates
get the right times; optional near-duplicate skipping; a broken tail keeps what decoded before it.

Sampling time t is represented by the first decoded frame whose timestamp is at or after t (minus 20 ms);
the unit keeps t and says whether that frame was exactly at t (within 20 ms) or later (a VFR gap)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.errors import StageError
from pipeline.ingest.frames import FrameKeeper
from pipeline.ingest.result import IngestResult
from pipeline.ingest.tracks import without_pictures
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, SourceDocument

EXACT_TOLERANCE_S = 0.02  # a frame within 20 ms of its sampling time counts as decoded exactly there
PLAUSIBLE_FPS = (1.0, 240.0)  # a stated frame rate outside this range is a container artefact

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def stated_seconds(cap) -> float | None:
    """Duration an opened capture's container states (frame count / frame rate), or None."""
    import cv2

    fps, count = cap.get(cv2.CAP_PROP_FPS) or 0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
    return count / fps if fps > 0 and 0 < count < 1e9 else None


def ingest_video(doc: SourceDocument, options: IngestOptions, spool: Path, deadline: float,
                 ocr_frames: bool = True) -> IngestResult:
    import cv2

    res = IngestResult()
    cap = cv2.VideoCapture(doc.path)
    if not cap.isOpened():
        raise _no_pictures(doc) or StageError(
            "ingest", "unreadable_video", "OpenCV cannot open this video (unsupported codec, or header/moov atom missing)")
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        duration = stated_seconds(cap)
        plausible = PLAUSIBLE_FPS[0] <= fps <= PLAUSIBLE_FPS[1]
        src_interval = 1.0 / fps if plausible else 1.0 / 30
        step = 1.0 / options.video_fps
        next_t, last_ts = 0.0, -1.0
        keeper = FrameKeeper(doc, options, spool, res, ocr=ocr_frames)
        decoded = stalled = 0
        while True:
            if time.monotonic() > deadline:
                res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="timeout",
                                              message=f"stopped at {last_ts:.1f} s: over --doc-timeout", t_seconds=round(max(last_ts, 0.0), 3)))
                break
            if not cap.grab():
                break
            decoded += 1
            ts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if ts <= last_ts:  # no usable timestamp (zero-duration frames): derived from the frame rate, and said
                ts = last_ts + src_interval
                stalled += 1
            last_ts = ts
            if ts > options.max_video_seconds:
                res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="limit_duration",
                                              message=f"video longer than --max-video-seconds {options.max_video_seconds:g}; rest skipped",
                                              t_seconds=options.max_video_seconds))
                break
            if ts < next_t - EXACT_TOLERANCE_S:
                continue
            target = next_t  # the first frame at or after the sampling time represents it
            while next_t <= ts + EXACT_TOLERANCE_S:
                next_t += step
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                continue
            if keeper.duplicate(frame, target):
                continue
            h, w = frame.shape[:2]
            keeper.keep(frame, (w, h), 1.0, target, exact=abs(ts - target) <= EXACT_TOLERANCE_S and not stalled)
        if stalled or not plausible:
            why = (f"{stalled} of {decoded} decoded frames carry no advancing timestamp (zero-duration frames)" if stalled
                   else f"the container states {fps:g} fps")
            res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="unreliable_timestamps",
                                          severity="warning",
                                          message=f"{why}; frame times were derived at {1 / src_interval:g} fps, so cited "
                                                  "seconds may be off (remux the file to repair its timestamps)"))
        if duration is not None and last_ts + 2 * src_interval < duration - step and res.units:
            res.errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="truncated",
                                          message=f"decoding stopped at {last_ts:.1f} s of {duration:.1f} s; frames before it kept",
                                          t_seconds=round(last_ts, 3)))
        if not res.units:
            raise _no_pictures(doc) or StageError("ingest", "unreadable_video", f"no frame could be decoded ({decoded} read)")
    finally:
        cap.release()
    return res


def _no_pictures(doc: SourceDocument) -> StageError | None:
    """The error for a file with tracks but no video track (a sound recording in an MP4), else None."""
    why = without_pictures(doc.path)
    if why is None:
        return None
    return StageError("ingest", "unsupported_type", f"{doc.name} has no pictures to read: {why} (a sound recording?); "
                      "gemmadoc reads documents, images and videos, not sound")
