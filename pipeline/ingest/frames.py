"""Keeping the sampled frames of a video or an animated image: near-duplicates skipped (--dedup-threshold),
each kept frame spooled as JPEG and read by OCR, a frame that shows the same picture as the last one read
reusing its words."""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.ocr import finer_or_first, ocr_page
from pipeline.ingest.render import spool_path
from pipeline.ingest.result import OCR_FINER, IngestResult, fit_scale, ocr_fit_scale, page_list, reread_scale, tiled, word_density
from pipeline.ingest.scripts import unread_message
from pipeline.legibility import tile_side
from schemas.options import IngestOptions
from schemas.records import ErrorRecord, FrameUnit, ImageRef, SourceDocument, format_timestamp

OCR_SAME_PICTURE = 0.001  # share of changed pixels (256-px grey thumbnail) under which a frame reuses the last OCR


def frame_signature(frame):
    """16x16 greyscale thumbnail: a cheap perceptual fingerprint for near-duplicate detection."""
    import cv2

    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (16, 16), interpolation=cv2.INTER_AREA).astype("float32")


def frame_difference(a, b) -> float:
    """Mean absolute difference of two signatures, 0 (same) .. 1."""
    return float(abs(a - b).mean() / 255.0)


def text_signature(frame):
    """256-px-wide greyscale thumbnail: fine enough that a changed line of text shows."""
    import cv2

    h, w = frame.shape[:2]
    size = (256, max(1, round(256 * h / w)))
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA).astype("int16")


def changed_share(a, b) -> float:
    """Share of thumbnail pixels that changed by more than compression noise (24 grey levels)."""
    if a.shape != b.shape:
        return 1.0
    return float((abs(a - b) > 24).mean())


def _scaled(frame, factor: float):
    """`frame` resized by `factor` (area averaging), or itself at a factor of 1 or more."""
    import cv2

    if factor >= 1.0:
        return frame
    h, w = frame.shape[:2]
    return cv2.resize(frame, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)


class FrameKeeper:
    """Turns sampled frames (BGR arrays) into the FrameUnits of one document's IngestResult."""

    def __init__(self, doc: SourceDocument, options: IngestOptions, spool: Path, result: IngestResult,
                 ocr: bool = True) -> None:
        self.doc, self.options, self.spool, self.result = doc, options, spool, result
        self.ocr = ocr and options.ocr != "off"
        self._last_sig = None
        self._ocr_sig, self._ocr_words = None, []  # the last frame that was OCR'd, and its words
        self._unread_at: list[float] = []  # times of frames in a script OCR does not read
        self._unread_row = 0  # their warning's index in result.errors
        self._unread_sample = ""  # what OCR made of the first

    def duplicate(self, frame, target: float) -> bool:
        """Whether `frame` differs from the last kept one by less than --dedup-threshold (then recorded
        as skipped at `target`)."""
        sig = frame_signature(frame)
        if (self.options.dedup_threshold > 0 and self._last_sig is not None
                and frame_difference(sig, self._last_sig) < self.options.dedup_threshold):
            self.result.skipped_frames.append(round(target, 3))
            return True
        self._last_sig = sig
        return False

    def keep(self, frame, size: tuple[int, int], to_full: float, target: float, exact: bool) -> None:
        """Spool and read one frame: `frame` is the BGR frame as decoded (a video's at full size, an
        animation's within the page caps), `size` the full (width, height) its words are given in,
        `to_full` the factor from `frame` to it, `target` the sampling time it stands for. The model is
        shown it within the page caps; OCR reads it finer where the source has the pixels (`ocr_fit_scale`),
        and again finer where the letters of its small print were read under OCR_PITCH_PX, less surely than
        OCR_SURE (`reread_scale`:
        where they come out OCR_PITCH_GOAL_PX wide, up to full size); a frame whose small print one image shows too small is kept for tiles
        (pipeline/legibility.py: `tile_side`)."""
        import cv2

        index = len(self.result.units)
        out = spool_path(self.spool, self.doc.doc_id, f"f{index:05d}.jpg")
        w, h = size
        source = 1.0 / to_full  # scale of `frame` against full size
        shown = _scaled(frame, min(source, fit_scale(w, h, self.options)) * to_full)
        words, reused = [], False
        if self.ocr:
            sig = text_signature(shown)
            if self._ocr_sig is not None and changed_share(sig, self._ocr_sig) < OCR_SAME_PICTURE:
                words, reused = [w.model_copy() for w in self._ocr_words], True  # same picture: same text
            else:
                words = self._read(frame, w, h, source, shown, target)
                self._ocr_sig, self._ocr_words = sig, words
            if (side := tile_side(words, w, h)) > 1:
                bigger = _scaled(frame, min(source, fit_scale(w, h, tiled(self.options, side))) * to_full)
                if bigger.shape[0] * bigger.shape[1] > 1.1 * shown.shape[0] * shown.shape[1]:
                    shown = bigger  # small print one image shows too small: kept for tiles
        cv2.imwrite(out, shown, [cv2.IMWRITE_JPEG_QUALITY, 90])
        self.result.units.append(FrameUnit(
            doc_id=self.doc.doc_id, index=index, t_seconds=round(target, 3), image=ImageRef(kind="file", path=out),
            image_width=shown.shape[1], image_height=shown.shape[0], width=float(w), height=float(h),
            words=words, text_source="ocr" if words else "none", exact=exact, density=word_density(words, w, h),
            ocr_reused=reused))

    def _read(self, frame, w: int, h: int, source: float, shown, target: float) -> list:
        """OCR words of a frame (`frame` at `source` of full size, `shown` as the model sees it), in
        full-size units: read at `ocr_fit_scale`, and again finer where its small print was too small."""
        import cv2

        at = min(source, ocr_fit_scale(w, h, self.options))
        picture = _scaled(frame, at / source) if at > OCR_FINER * shown.shape[1] / w else shown
        at = picture.shape[1] / w
        reading = ocr_page(cv2.cvtColor(picture, cv2.COLOR_BGR2RGB), scale=1 / at)
        if (finer := reread_scale(reading.print_words, w, h, at, source, reading.confidence)) is not None:
            picture = _scaled(frame, finer / source)
            reading = finer_or_first(reading, ocr_page(cv2.cvtColor(picture, cv2.COLOR_BGR2RGB), scale=w / picture.shape[1],
                                                       quarter_turns=reading.turn % 2 == 1))
        if reading.unread:
            self._unread(target, reading.unread)
        return reading.words

    def _unread(self, target: float, sample: str) -> None:
        """One warning for the frames whose script OCR does not read, kept up to date as they come (it
        quotes what OCR made of the first)."""
        if not self._unread_at:
            self._unread_sample, self._unread_row = sample, len(self.result.errors)
        self._unread_at.append(round(target, 3))
        times = [format_timestamp(t) for t in self._unread_at]
        where = f"the frame{'s' if len(times) > 1 else ''} at {page_list(times)}"
        row = ErrorRecord(doc_id=self.doc.doc_id, path=self.doc.path, stage="ingest", kind="unread_script", severity="warning",
                          message=unread_message(where, self._unread_sample),
                          t_seconds=self._unread_at[0])
        if len(self._unread_at) == 1:
            self.result.errors.append(row)
        else:
            self.result.errors[self._unread_row] = row
