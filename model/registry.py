"""Resolve `--model` and keep one loaded backend per process (never one per document).

Other backends plug in by URI scheme (`--model SCHEME:...`): `register_backend(scheme, factory)` from a
module named in the `gemmadoc.backends` entry-point group of an installed package, or in
`$GEMMADOC_BACKEND_PLUGINS` (comma-separated module names, imported on first use). The test suite and the
benchmarks register their scripted double this way (`tests/doubles.py`); production code knows none."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

from model.backend import Backend, ModelUnavailable
from schemas.options import DEFAULT_MODEL_ID, BackendOptions
from schemas.options import TINY_MODEL as TINY

AUTO = "auto"

_lock = threading.Lock()
_loaded: dict[str, Backend] = {}
_factories: dict[str, Callable[[str], Backend]] = {}
_plugins_loaded = False


def register_backend(scheme: str, factory: Callable[[str], Backend]) -> None:
    """Make `--model SCHEME:ARGS` build its backend with `factory("SCHEME:ARGS")`."""
    _factories[scheme] = factory


def _plugin_factory(spec: str) -> Callable[[str], Backend] | None:
    """The registered factory for `spec`'s scheme, loading the plugins on first use."""
    global _plugins_loaded
    scheme, sep, _ = spec.partition(":")
    if not sep or len(scheme) < 2 or "/" in scheme:  # a hub id or a path, not a scheme (C:\... is a path)
        return None
    if not _plugins_loaded:
        import importlib
        from importlib.metadata import entry_points

        for ep in entry_points(group="gemmadoc.backends"):
            try:
                ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin: one clear line, exit 3
                raise ModelUnavailable(f"backend plugin {ep.value!r} (entry point {ep.name!r} of gemmadoc.backends) "
                                       f"failed to load: {type(e).__name__}: {e}") from e
        for name in filter(None, (n.strip() for n in os.environ.get("GEMMADOC_BACKEND_PLUGINS", "").split(","))):
            try:
                importlib.import_module(name)
            except ImportError as e:
                raise ModelUnavailable(
                    f"backend plugin module {name!r} named in GEMMADOC_BACKEND_PLUGINS cannot be imported: {e}. "
                    "It must be installed in this environment or on PYTHONPATH (a checkout's tests.doubles: "
                    "run from the checkout with PYTHONPATH=.)") from e
        _plugins_loaded = True
    return _factories.get(scheme)


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


def choose_backend(model: str) -> str:
    """`--backend auto`: openai for an `openai:` model, vllm when it is installed and a CUDA GPU is
    present, transformers otherwise."""
    if model.startswith("openai:"):
        return "openai"
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        import torch

        if torch.cuda.is_available():
            return "vllm"
    return "transformers"


def model_id_of(options: BackendOptions) -> str:
    """The model id a run with these backend options records (without loading weights where it can)."""
    factory = _plugin_factory(options.model)
    if factory:
        return factory(options.model).model_id
    if options.backend == "openai":
        return get_backend(options).model_id
    return resolve(options.model)[1]


def get_backend(options: BackendOptions) -> Backend:
    """The process-wide backend for these options, loaded on first use. A plugin scheme's factory is
    called each time instead: a plugin whose backend is costly to build keeps its own instance."""
    factory = _plugin_factory(options.model)
    if factory is not None:
        return factory(options.model)
    with _lock:
        key = options.model_dump_json()
        backend = _loaded.get(key)
        if backend is None:
            backend = _loaded[key] = _build(options)
        return backend


def _build(options: BackendOptions) -> Backend:
    if options.backend == "openai":
        from model.openai_server import OpenAIBackend

        return OpenAIBackend(options.model, **options.load_kwargs())
    path, model_id, is_random = resolve(options.model)
    if options.backend == "vllm":
        from model.vllm_engine import VLLMBackend

        return VLLMBackend(path, model_id, is_random=is_random, **options.load_kwargs())
    from model.hf import TransformersBackend

    return TransformersBackend(path, model_id, is_random=is_random, **options.load_kwargs())
