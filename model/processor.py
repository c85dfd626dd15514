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


def _load_frames_only(path: str, **kwargs) -> FramesOnlyGemma4Processor:
    """Build the processor from its saved parts through public loaders only.

    `ProcessorMixin.from_pretrained` resolves its sub-processors through private hooks that change between
    transformers releases (5.25 replaced `_get_arguments_from_pretrained` with `_resolve_subprocessors`), so
    each part is loaded with its Auto class and the processor is constructed directly."""
    import inspect

    from transformers import AutoFeatureExtractor, AutoImageProcessor, AutoTokenizer

    settings, _ = Gemma4Processor.get_processor_dict(path, **kwargs)
    video_cfg = settings.get("video_processor")
    parts = {
        "feature_extractor": AutoFeatureExtractor.from_pretrained(path, **kwargs),
        "image_processor": AutoImageProcessor.from_pretrained(path, **kwargs),
        "tokenizer": AutoTokenizer.from_pretrained(path, **kwargs),
        "video_processor": FramesOnlyVideoProcessor(**(video_cfg if isinstance(video_cfg, dict) else {})),
    }
    accepted = inspect.signature(Gemma4Processor.__init__).parameters
    extra = {k: v for k, v in settings.items() if k in accepted and k not in parts and k != "self"}
    return FramesOnlyGemma4Processor(**parts, **extra)


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
    return _load_frames_only(path, **kwargs)
