"""Weight quantization for the transformers backend (`--quantization none|int8|nf4|fp8`), applied while
loading any bf16 checkpoint, the MoE experts included.

Gemma 4 26B A4B keeps ~95% of its parameters in fused 3D expert tensors (`experts.gate_up_proj`,
`experts.down_proj`), not in `nn.Linear` layers, so a method that quantizes only Linear layers leaves
the model nearly as large as in bf16. Each method here reaches the experts:

* int8: torchao `Int8WeightOnlyConfig` (per-row scales) through transformers' `TorchAoConfig`, with an
  `FqnToConfig` entry for the expert parameters (torchao's Int8Tensor is 2D or 3D); `Int8Experts` runs
  few routed experts with the eager loop (the int8 tensor has no grouped matmul) and many (a prefill,
  large batches) with the layer dequantized through transformers' grouped_mm. CPU and GPU.
* nf4: bitsandbytes NF4 (blocks of 64, double-quantized absmax in 8 bits would save a little more; not
  used): every Linear of the language model becomes `Nf4Linear` and every experts module `Nf4Experts`,
  which dequantizes only the experts a batch routes to. The bf16 weights load on the CPU first and move
  to the GPU quantized, so the GPU never holds them in bf16. CPU and GPU.
* fp8: transformers' fine-grained FP8 (`FineGrainedFP8Config`, 128x128 blocks), which replaces the
  experts with `FP8Experts`; needs a GPU of compute capability 8.9+ (Ada, Hopper).

The vision tower stays in bf16 (0.5 GB; it reads every page). `parameter_bytes` counts what every part
holds after loading (quantized data and scales included); the runs table records it."""

from __future__ import annotations

import importlib.util
import warnings

import torch
from torch import nn

QUANTIZATIONS = ("none", "int8", "nf4", "fp8")
EXPERT_PARAMS = r"re:.*\.experts\.(gate_up_proj|down_proj)"
# left in bf16 by every method: the vision tower, its projection and the output head (transformers matches
# these regexes from the start of a module name, so a bare "vision_tower" would match nothing)
KEEP_BF16 = [r".*vision_tower", r".*embed_vision", "lm_head"]
NF4_BLOCK = 64
EXPERT_GROUP = 32  # experts dequantized at once by a whole-layer forward (a quarter of the real model's 128)


class QuantizationUnsupported(ValueError):
    """This machine cannot run the asked quantization (the message names what is missing)."""


def check_supported(method: str) -> None:
    """Raise QuantizationUnsupported when `method` cannot run here, naming what is missing and the alternatives."""
    if method not in QUANTIZATIONS:
        raise QuantizationUnsupported(f"--quantization must be one of {', '.join(QUANTIZATIONS)}, not {method!r}")
    if method == "int8" and importlib.util.find_spec("torchao") is None:
        raise QuantizationUnsupported("--quantization int8 needs torchao (`pip install 'gemmadoc[quant]'`); "
                                      "alternatives: nf4 (bitsandbytes), fp8 (GPUs of compute capability 8.9+)")
    if method == "nf4" and importlib.util.find_spec("bitsandbytes") is None:
        raise QuantizationUnsupported("--quantization nf4 needs bitsandbytes (`pip install 'gemmadoc[quant]'`); "
                                      "alternatives: int8 (torchao), fp8 (GPUs of compute capability 8.9+)")
    if method == "fp8":
        if not torch.cuda.is_available():
            raise QuantizationUnsupported("--quantization fp8 needs a CUDA GPU of compute capability 8.9+ (Ada, Hopper, "
                                          "Blackwell); none is visible here. Alternatives: int8 or nf4 (also on CPU)")
        major, minor = torch.cuda.get_device_capability()
        if (major, minor) < (8, 9):
            raise QuantizationUnsupported(f"--quantization fp8 needs compute capability 8.9+; "
                                          f"{torch.cuda.get_device_name(0)} has {major}.{minor}. Alternatives: int8, nf4")


def prequantized(config) -> str | None:
    """The quantization method a checkpoint's config says its weights already carry, else None."""
    qc = getattr(config, "quantization_config", None)
    if qc is None:
        return None
    method = qc.get("quant_method") if isinstance(qc, dict) else getattr(qc, "quant_method", None)
    return str(getattr(method, "value", method) or "unknown")


def load_kwargs(method: str) -> dict:
    """`from_pretrained` keyword arguments that quantize while loading (nf4 quantizes after: `quantize_nf4`)."""
    if method == "int8":
        from torchao.quantization import FqnToConfig, Int8WeightOnlyConfig
        from transformers import TorchAoConfig

        with warnings.catch_warnings():  # "_default" (every Linear) is deprecated in torchao 0.18, not yet replaced
            warnings.simplefilter("ignore", UserWarning)
            config = FqnToConfig({EXPERT_PARAMS: Int8WeightOnlyConfig(), "_default": Int8WeightOnlyConfig()})
        return {"quantization_config": TorchAoConfig(quant_type=config, modules_to_not_convert=KEEP_BF16),
                "experts_implementation": "eager"}
    if method == "fp8":
        from transformers import FineGrainedFP8Config

        return {"quantization_config": FineGrainedFP8Config(modules_to_not_convert=KEEP_BF16)}
    return {}


class _Nf4Weights(nn.Module):
    """Holds tensors as NF4: `<name>_packed` and `<name>_absmax` buffers (moved by `.to()` like any buffer)
    and their bitsandbytes QuantState, kept pointing at the moved buffers."""

    def __init__(self):
        super().__init__()
        self.states: dict = {}
        self.shapes: dict[str, tuple[int, ...]] = {}

    def _quantize(self, name: str, w: torch.Tensor) -> None:
        import bitsandbytes.functional as F

        packed, state = F.quantize_4bit(w.reshape(-1, w.shape[-1]).contiguous(), quant_type="nf4", blocksize=NF4_BLOCK)
        self.register_buffer(f"{name}_packed", packed)
        self.register_buffer(f"{name}_absmax", state.absmax)
        self.shapes[name], self.states[name] = tuple(w.shape), state

    def _apply(self, fn, recurse=True):  # .to(device) moves each quantization state with its buffers
        super()._apply(fn, recurse)
        for name, state in self.states.items():
            state.absmax = getattr(self, f"{name}_absmax")
            state.code = fn(state.code)
        return self


class Nf4Linear(_Nf4Weights):
    """A Linear layer whose weight is stored as bitsandbytes NF4 (4 bits per weight plus a scale per block)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self._quantize("weight", linear.weight.data)
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import bitsandbytes as bnb

        state = self.states["weight"]
        y = bnb.matmul_4bit(x.to(state.dtype), self.weight_packed.t(), quant_state=state).to(x.dtype)
        return y + self.bias if self.bias is not None else y


class _WithWeights:
    """A stock experts module seen with other weight tensors (dequantized for one call), for transformers'
    experts kernels, which read `self.gate_up_proj`/`self.down_proj` and the module's other settings."""

    def __init__(self, stock: nn.Module, **weights: torch.Tensor):
        self._stock = stock
        self.__dict__.update(weights)

    def __getattr__(self, name: str):
        return getattr(self._stock, name)


class _QuantizedExperts(nn.Module):
    """Fused experts (E x out x in) kept quantized. A forward that routes to few experts (small decode
    batches) runs them from their quantized form (`few`); one that routes to more than a quarter of them
    (a prefill, large batches) dequantizes the whole layer and runs transformers' grouped_mm kernel on it,
    a few launches instead of ~10 per expert, EXPERT_GROUP experts at a time (their bf16 copy: 0.38 GB on
    the real model, `model/fit.py`). Subclasses give `stock` (the original module), `dequantized(name,
    first, last)` and `few`."""

    stock: nn.Module

    def forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor) -> torch.Tensor:
        used = torch.unique(top_k_index)
        used = used[used < self.stock.num_experts].tolist()
        if len(used) > self.stock.num_experts // 4:
            return self.whole_layer(hidden_states, top_k_index, top_k_weights)
        return self.few(hidden_states, top_k_index, top_k_weights, used)

    def whole_layer(self, hidden_states, top_k_index, top_k_weights) -> torch.Tensor:
        """transformers' grouped_mm experts forward, EXPERT_GROUP experts dequantized at a time: the other
        experts' (token, expert) pairs go in as expert-parallel sentinels, which the kernel skips and zeroes."""
        from transformers.integrations.moe import grouped_mm_experts_forward

        out = None
        for first in range(0, self.num_experts, EXPERT_GROUP):
            last = min(self.num_experts, first + EXPERT_GROUP)
            mine = (top_k_index >= first) & (top_k_index < last)
            if not bool(mine.any()):
                continue
            index = torch.where(mine, top_k_index - first, last - first)  # last - first: the sentinel
            weights = {n: self.dequantized(n, first, last).to(hidden_states.dtype) for n in ("gate_up_proj", "down_proj")}
            view = _WithWeights(self.stock, num_experts=last - first, _is_expert_parallel=True, **weights)
            part = grouped_mm_experts_forward(view, hidden_states, index, top_k_weights)
            out = part if out is None else out + part
        return out

    @property
    def num_experts(self) -> int:
        return self.stock.num_experts


class Nf4Experts(_QuantizedExperts, _Nf4Weights):
    """Experts stored as bitsandbytes NF4; few routed experts are dequantized one by one."""

    def __init__(self, experts: nn.Module):
        _Nf4Weights.__init__(self)
        for name in ("gate_up_proj", "down_proj"):
            self._quantize(name, getattr(experts, name).data)
            delattr(experts, name)
        self.__dict__["stock"] = experts  # weightless; not a submodule, so nothing of it is saved, moved or counted

    def dequantized(self, name: str, first: int, last: int) -> torch.Tensor:
        """Experts first..last-1 of a weight ((last - first) x out x in), dequantized in one call."""
        import bitsandbytes.functional as F

        _, out, inp = self.shapes[name]
        rows = out * inp // 2  # packed bytes of one expert (two weights per byte)
        blocks = out * inp // NF4_BLOCK
        state = self.states[name]
        sub = F.QuantState(absmax=getattr(self, f"{name}_absmax")[first * blocks:last * blocks],
                           shape=torch.Size(((last - first) * out, inp)), code=state.code, blocksize=NF4_BLOCK,
                           quant_type="nf4", dtype=state.dtype)
        return F.dequantize_4bit(getattr(self, f"{name}_packed")[first * rows:last * rows], sub).reshape(last - first, out, inp)

    def few(self, hidden_states, top_k_index, top_k_weights, used: list[int]) -> torch.Tensor:
        """Each routed expert dequantized and run on its tokens."""
        out = torch.zeros_like(hidden_states)
        for e in used:
            token_idx, k_pos = torch.where(top_k_index == e)
            x = hidden_states[token_idx]
            gate, up = nn.functional.linear(x, self.dequantized("gate_up_proj", e, e + 1)[0].to(x.dtype)).chunk(2, dim=-1)
            y = nn.functional.linear(self.stock.act_fn(gate) * up, self.dequantized("down_proj", e, e + 1)[0].to(x.dtype))
            out.index_add_(0, token_idx, (y * top_k_weights[token_idx, k_pos, None]).to(out.dtype))
        return out


class Int8Experts(_QuantizedExperts):
    """torchao int8 experts (3D Int8Tensor, per-row scales) kept in the stock module, whose eager loop runs
    few routed experts from their int8 slices (torchao has no grouped kernel for them)."""

    def __init__(self, stock: nn.Module):
        super().__init__()
        self.stock = stock  # a submodule: its int8 weights are saved, moved and counted as before

    def dequantized(self, name: str, first: int, last: int) -> torch.Tensor:
        return getattr(self.stock, name)[first:last].dequantize()

    def few(self, hidden_states, top_k_index, top_k_weights, used: list[int]) -> torch.Tensor:
        return self.stock(hidden_states, top_k_index, top_k_weights)


def wrap_int8_experts(model: nn.Module) -> nn.Module:
    """Put every experts module whose weights torchao quantized into an `Int8Experts`, in place."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if child_name == "experts" and hasattr(getattr(child, "gate_up_proj", None), "dequantize"):
                setattr(module, child_name, Int8Experts(child))
    return model


def quantize_nf4(model: nn.Module) -> nn.Module:
    """Replace the language model's Linear layers and experts with their NF4 forms, in place (the vision
    tower, embeddings, the router and the output head stay as they are)."""
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if "vision" in full or "lm_head" in full or "router" in full or "embed" in full:
                continue
            if child_name == "experts" and hasattr(child, "gate_up_proj"):
                setattr(module, child_name, Nf4Experts(child))
            elif isinstance(child, nn.Linear) and child.in_features % NF4_BLOCK == 0:
                setattr(module, child_name, Nf4Linear(child))
    return model


def no_grad_for(method: str):
    """The no-grad context generation runs under: inference_mode, except for int8, whose torchao tensors
    cannot be indexed there (an expert's slice fails with "Cannot set version_counter for inference tensor")."""
    return torch.no_grad() if method == "int8" or method == "checkpoint:torchao" else torch.inference_mode()


def part_of(name: str) -> str:
    """The part of Gemma 4 a parameter or buffer belongs to, for the bytes-per-part table."""
    if ".experts." in name:
        return "experts"
    if "vision" in name:
        return "vision"
    if "embed" in name or "lm_head" in name:
        return "embeddings"
    return "text"


def _tensor_bytes(t: torch.Tensor) -> int:
    """Bytes a tensor holds, through tensor subclasses (torchao keeps qdata and scales inside)."""
    inner = getattr(t, "__tensor_flatten__", None)
    if inner is not None and type(t) is not torch.Tensor and type(t) is not nn.Parameter:
        names, _ = t.__tensor_flatten__()
        return sum(_tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


def parameter_bytes(model: nn.Module) -> dict[str, int]:
    """Bytes per part (experts, text, embeddings, vision) of every parameter and buffer, after quantization."""
    parts: dict[str, int] = {}
    seen: set[int] = set()
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if id(t) in seen or "rotary" in name or "inv_freq" in name:
            continue
        seen.add(id(t))
        part = part_of(name)
        parts[part] = parts.get(part, 0) + _tensor_bytes(t.data if isinstance(t, nn.Parameter) else t)
    return dict(sorted(parts.items()))
