"""Encode a batch's page images a few at a time.

transformers' Gemma 4 runs the vision tower over every image of a generate() batch at once, with a dense
boolean attention mask of images x patches x patches: at budget 1120 a page has 10,080 patches, so the
mask alone is 101 MB per page (11 GB for 8 requests of 14 pages). Encoding `group` images at a time
bounds it (0.8 GB at 8) and leaves the features, and so the answers, as they were. Imports torch only:
bench/gpu_throughput.py uses it on the GPU image."""

from __future__ import annotations

VISION_GROUP = 8  # images per vision-tower call


def encode_images_in_groups(model, group: int = VISION_GROUP):
    """Wrap `model`'s image encoder (Gemma4Model.get_image_features, the one its forward calls) so that
    it encodes at most `group` images per call; returns the model."""
    inner = getattr(model, "model", model)
    encode = inner.get_image_features
    if getattr(encode, "vision_group", None) is not None:
        return model

    def grouped(pixel_values, image_position_ids=None, **kwargs):
        if pixel_values.shape[0] <= group:
            return encode(pixel_values, image_position_ids, **kwargs)
        parts = [encode(pixel_values[i:i + group], None if image_position_ids is None else image_position_ids[i:i + group],
                        **kwargs) for i in range(0, pixel_values.shape[0], group)]
        out = parts[-1]
        out.pooler_output = tuple(t for p in parts for t in p.pooler_output)  # one feature tensor per image, in order
        out.last_hidden_state = None  # per group; forward reads only the pooled features
        return out

    grouped.vision_group, grouped.ungrouped = group, encode
    inner.get_image_features = grouped
    return model
