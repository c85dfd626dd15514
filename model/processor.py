"""Gemma 4 processor that also works where torchvision cannot be imported (CPU torch wheels).

Gemma4Processor insists on a Gemma4VideoProcessor, which needs torchvision. gemmadoc sends video as
1-fps frames (images with timestamp labels), so without torchvision a serialisable stand-in takes the
video processor's place; the files on disk stay those of the stock processor."""

from __future__ import annotations

from transformers import Gemma4Processor
from transformers.utils import PushToHubMixin

VIDEO_PROCESSOR_DEFAULTS = {
    "video_processor_type": "Gemma4VideoProcessor",
    "patch_size": 16,
    "max_soft_tokens": 70,
    "pooling_kernel_size": 3,
    "num_frames": 32,
    "do_sample_frames": True,
    "do_resize": True,
    "do_rescale": True,
    "rescale_factor": 1 / 255,
    "do_normalize": True,
    "image_mean": [0.0, 0.0, 0.0],
    "image_std": [1.0, 1.0, 1.0],
    "do_convert_rgb": True,
    "return_metadata": False,
}


class FramesOnlyVideoProcessor(PushToHubMixin):
    """Stand-in for Gemma4VideoProcessor: serialises like it, refuses video input."""

    _auto_class = None
    model_input_names = ["pixel_values_videos", "video_position_ids", "num_frames_per_video"]

    def __init__(self, **cfg):
        self.cfg = {**VIDEO_PROCESSOR_DEFAULTS, **cfg}
        for k in ("patch_size", "max_soft_tokens", "pooling_kernel_size"):
            setattr(self, k, self.cfg[k])

    def to_dict(self):
        return dict(self.cfg)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("video input needs torchvision; gemmadoc passes sampled frames as images")


class FramesOnlyGemma4Processor(Gemma4Processor):
    """Gemma4Processor with FramesOnlyVideoProcessor when torchvision is unavailable."""

    def check_argument_for_proper_class(self, argument_name, argument):
        if argument_name == "video_processor" and isinstance(argument, FramesOnlyVideoProcessor):
            return FramesOnlyVideoProcessor
        return super().check_argument_for_proper_class(argument_name, argument)

    @classmethod
    def _get_arguments_from_pretrained(cls, path, processor_dict=None, **kwargs):
        from transformers import AutoFeatureExtractor, AutoImageProcessor, AutoTokenizer

        kwargs.pop("subfolder", None)
        video_cfg = dict((processor_dict or {}).get("video_processor", {}))
        return [
            AutoFeatureExtractor.from_pretrained(path, **kwargs),
            AutoImageProcessor.from_pretrained(path, **kwargs),
            AutoTokenizer.from_pretrained(path, **kwargs),
            FramesOnlyVideoProcessor(**video_cfg),
        ]


def torchvision_available() -> bool:
    try:
        import torchvision  # noqa: F401

        return True
    except Exception:  # noqa: BLE001 - ImportError, or RuntimeError from a CUDA-only wheel
        return False


def load_processor(path: str, **kwargs):
    """AutoProcessor where torchvision works, else the frames-only processor (same files on disk)."""
    from transformers import AutoProcessor

    if torchvision_available():
        return AutoProcessor.from_pretrained(path, **kwargs)
    return FramesOnlyGemma4Processor.from_pretrained(path, **kwargs)
