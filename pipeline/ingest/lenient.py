"""Reading truncated or damaged image files with Pillow without leaking leniency into other threads.

Pillow decodes what a truncated or damaged file holds only under a process-wide switch,
`ImageFile.LOAD_TRUNCATED_IMAGES`. Ordinary decodes hold this gate shared; a decode of a file already
known to be broken holds it alone with the switch on, so no other file is ever read leniently
without its own warning. A waiting lenient decode goes before new ordinary ones."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass


class _Gate:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharing = 0
        self._waiting_alone = 0
        self._alone = False

    @contextmanager
    def strict(self):
        """Decode with Pillow's defaults: a truncated file raises."""
        with self._cond:
            self._cond.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._sharing += 1
        try:
            yield
        finally:
            with self._cond:
                self._sharing -= 1
                self._cond.notify_all()

    @contextmanager
    def lenient(self):
        """Decode what a truncated file holds (Pillow fills the rest with one flat colour)."""
        from PIL import ImageFile

        with self._cond:
            self._waiting_alone += 1
            self._cond.wait_for(lambda: not self._alone and self._sharing == 0)
            self._waiting_alone -= 1
            self._alone = True
            ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            with self._cond:
                ImageFile.LOAD_TRUNCATED_IMAGES = False
                self._alone = False
                self._cond.notify_all()


GATE = _Gate()


def is_truncation(error: BaseException) -> bool:
    """Whether Pillow gave up because the file ends early (as opposed to data that is wrong)."""
    return isinstance(error, OSError) and "truncated" in str(error).lower()


def decoded_rows(frame) -> int:
    """Rows of a leniently decoded frame that hold data: Pillow fills the rows a sequential decoder never
    reached with one flat colour, so the uniform band at the bottom that matches the last row is cut off
    (a progressive JPEG has no such band: all its rows are there, at lower detail)."""
    import numpy as np

    grey = np.asarray(frame.convert("L"))
    bottom = grey[-1]
    if bottom.min() != bottom.max():
        return grey.shape[0]
    flat = (grey == bottom[0]).all(axis=1)
    data_rows = np.flatnonzero(~flat)
    return int(data_rows[-1]) + 1 if data_rows.size else 0


@dataclass(frozen=True)
class Damage:
    """How much of a broken frame was decoded leniently, and why Pillow refused it at first."""

    rows: int
    height: int
    ends_early: bool
    refused: str

    @classmethod
    def of(cls, frame, refused: BaseException) -> "Damage":
        return cls(decoded_rows(frame), frame.size[1], is_truncation(refused), str(refused))

    @property
    def kind(self) -> str:
        return "truncated" if self.ends_early else "corrupt"

    @property
    def message(self) -> str:
        what = "the image file ends early" if self.ends_early else f"the image data is damaged ({self.refused})"
        if self.rows < self.height:
            return f"{what}: {self.rows} of {self.height} pixel rows were decoded before it, the rest is blank"
        if self.ends_early:
            return f"{what}: every row was decoded, at the detail the data before the break allows"
        return f"{what}: every row was decoded, and some may show the damage"
