"""Which weight precision of Gemma 4 26B A4B fits a GPU: what `gemmadoc doctor` advises for
`--quantization`. Parameter count from the real config built on the meta device
(`python bench/gpu_throughput.py --meta`: 26.54 B with the vision tower)."""

from __future__ import annotations

from dataclasses import dataclass

TOTAL_PARAMS_B = 26.54
HEADROOM_GB = 6.0  # activations, CUDA graphs and a useful KV cache beside the weights
PRECISIONS = (("bf16", None, 16), ("fp8", "fp8", 8), ("4-bit", "bitsandbytes", 4.5))  # 4-bit: NF4 plus scales


@dataclass(frozen=True)
class Fit:
    precision: str
    quantization: str | None  # the --quantization value (None: full bf16 weights)
    weights_gb: float
    fits: bool


def weights_gb(bits: float, params_b: float = TOTAL_PARAMS_B) -> float:
    return params_b * bits / 8


def fits(gpu_gb: float, compute_capability: tuple[int, int] = (9, 0), memory_utilization: float = 0.9) -> list[Fit]:
    """Each precision's weight size and whether it fits `gpu_gb` at `memory_utilization` with headroom.
    fp8 needs compute capability 8.9 or newer (Ada, Hopper, Blackwell)."""
    room = gpu_gb * memory_utilization - HEADROOM_GB
    out = []
    for name, quant, bits in PRECISIONS:
        size = weights_gb(bits)
        supported = quant != "fp8" or compute_capability >= (8, 9)
        out.append(Fit(name, quant, round(size, 1), supported and size <= room))
    return out


def advice(gpu_gb: float, compute_capability: tuple[int, int] = (9, 0)) -> str:
    """One line: the best-quality precision that fits, as the flag to pass."""
    for f in fits(gpu_gb, compute_capability):
        if f.fits:
            flag = f"--quantization {f.quantization}" if f.quantization else "no --quantization (bf16 weights)"
            return f"{f.precision} fits ({f.weights_gb} GB of weights in {gpu_gb:.0f} GB): {flag}"
    return (f"no precision fits {gpu_gb:.0f} GB (4-bit weights alone are {weights_gb(4.5):.1f} GB): "
            "use --tensor-parallel-size over several GPUs or a bigger card")
