"""Lines shown to RapidOCR's recogniser in soft contrast.

RapidOCR's recogniser (PP-OCRv4) drops the spaces between words set tight far more often on crisp, full
contrast print than on the same print a little faded: black 10-pt text rendered at 150 dpi reads
`typingwill beexactly as theywereduringrecording`, the same line at a third of the contrast `typing will
be exactly as they were during recording`, from the same line box. So each line's crop is brought to
INK_CONTRAST grey levels about its own ground (its median: light paper, a dark screen, a coloured band or
the shaded side of a photo alike) before it is recognised; a crop that soft already is read as it is.
Detection sees the picture as given, and word spaces left out are still measured there (`wordgaps`)."""

from __future__ import annotations

INK_CONTRAST = 77.0  # grey levels from a line's ground to the print furthest from it, as the recogniser is shown it
SAMPLE_PIXELS = 250_000  # ground and print are measured on about this many pixels of a larger picture
PRINT_PERCENTILES = (1.0, 99.0)  # the darkest and lightest print (a speck of noise is no print)


def darkest(image):
    """A grey picture of `image` (RGB or grey uint8) where dark in any channel is ink: the least of its
    channels at each pixel (a pass per channel, far faster than numpy's reduction across them)."""
    import numpy as np

    if image.ndim != 3:
        return image
    grey = image[..., 0]
    for c in range(1, image.shape[-1]):
        grey = np.minimum(grey, image[..., c])
    return grey


def softened(image):
    """`image` (RGB or grey uint8) with its contrast about its ground scaled down to INK_CONTRAST grey
    levels, each channel about its own median; the image itself when it is that soft already."""
    import cv2
    import numpy as np

    step = max(1, int((image.shape[0] * image.shape[1] / SAMPLE_PIXELS) ** 0.5))
    sample = image[::step, ::step]
    if sample.size == 0:
        return image
    channels = [sample[..., c] for c in range(sample.shape[-1])] if sample.ndim == 3 else [sample]
    dark, ground, light = levels(darkest(sample), (PRINT_PERCENTILES[0], 50.0, PRINT_PERCENTILES[1]))
    spread = max(ground - dark, light - ground)
    if spread <= INK_CONTRAST:
        return image
    centres = [levels(channel, (50.0,))[0] for channel in channels] if len(channels) > 1 else [ground]
    scale = np.arange(256, dtype=np.float32)
    tables = [np.clip((scale - centre) * (INK_CONTRAST / spread) + centre, 0, 255).round().astype(np.uint8)
              for centre in centres]
    table = np.stack(tables, axis=-1)[None] if image.ndim == 3 else tables[0]
    return cv2.LUT(np.ascontiguousarray(image), table)


class SoftRecogniser:
    """RapidOCR's recogniser (`RapidOCR.text_rec`) shown each crop `softened`; called as it is."""

    def __init__(self, recognise):
        self.recognise = recognise

    def __call__(self, crops, return_word_box: bool = False):
        if not isinstance(crops, list):  # one crop, as RapidOCR also takes it
            crops = [crops]
        return self.recognise([softened(crop) for crop in crops], return_word_box)


def levels(values, percentiles: tuple[float, ...]) -> list[int]:
    """The levels at `percentiles` of uint8 `values`, from their histogram (crops are many and small:
    a sort per crop cost a tenth of OCR's time)."""
    import numpy as np

    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return [int(np.searchsorted(counts, share / 100 * values.size)) for share in percentiles]
