"""Resolve `--model` and keep one loaded backend per process (never one per document)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from model.backend import Backend, ModelUnavailable
from schemas.options import DEFAULT_MODEL_ID
from schemas.options import TINY_MODEL as TINY

AUTO = "auto"

_lock = threading.Lock()
_loaded: dict[tuple, Backend] = {}


def weights_available(model_id: str) -> bool:
    """True when `model_id` is a local folder with a config, or its config is in the local HF cache."""
    if Path(model_id).is_dir():
        return (Path(model_id) / "config.json").exists()
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(model_id, "config.json")
        return isinstance(hit, str)
    except Exception:  # noqa: BLE001
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint accepts a TCP connection (a quick check before a long download try)."""
    import socket
    from urllib.parse import urlparse

    try:
        from huggingface_hub import constants

        url = urlparse(constants.ENDPOINT)
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except Exception:  # noqa: BLE001 - DNS failure, refused, timeout
        return False


def resolve(spec: str) -> tuple[str, str, bool]:
    """(path_or_id to load, model_id to record, is_random) for a --model value.

    `auto` picks the default checkpoint when its weights are on this machine, else the tiny random model."""
    if spec == AUTO:
        spec = DEFAULT_MODEL_ID if weights_available(DEFAULT_MODEL_ID) else TINY
    if spec == TINY:
        from model.tiny import TINY_VERSION, ensure_tiny

        return str(ensure_tiny()), f"tiny-random-gemma4-v{TINY_VERSION}", True
    if Path(spec).exists():
        if not (Path(spec) / "config.json").exists():
            raise ModelUnavailable(f"--model {spec}: folder has no config.json (expected a saved Gemma 4 checkpoint)")
        return spec, spec, False
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    if not weights_available(spec) and (offline or not hub_reachable()):
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached"
        raise ModelUnavailable(
            f"weights for {spec} are not on this machine and {why}.\n"
            f"Download them where the hub is reachable (`huggingface-cli download {spec}`), then pass --model PATH, "
            "or use --model tiny-random for an offline demo (random weights: values are meaningless).")
    return spec, spec, False


def get_backend(spec: str, **load_kwargs) -> Backend:
    """The process-wide backend for `spec`, loaded on first use."""
    if spec.startswith("fake:"):
        from model.fake import ScriptedBackend

        return ScriptedBackend.from_spec(spec)
    path, model_id, is_random = resolve(spec)
    key = (path, tuple(sorted(load_kwargs.items())))
    with _lock:
        backend = _loaded.get(key)
        if backend is None:
            from model.hf import TransformersBackend

            backend = _loaded[key] = TransformersBackend(path, model_id, is_random=is_random, **load_kwargs)
        return backend
