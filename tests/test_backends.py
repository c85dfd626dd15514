"""Backend choice and the GPU-side configuration, checked on CPU: `--backend auto`, vLLM's engine
arguments, a missing vLLM, and which weight precision fits which card."""

import importlib.util

import pytest
from typer.testing import CliRunner

from flows.cli import app
from model.fit import advice, fits
from model.registry import choose_backend
from model.vllm_engine import engine_kwargs
from tests.conftest import SAMPLES

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_auto_backend_choice():
    assert choose_backend("openai:http://127.0.0.1:8000/v1") == "openai"
    import torch

    expected = "vllm" if HAS_VLLM and torch.cuda.is_available() else "transformers"
    assert choose_backend("google/gemma-4-26B-A4B-it") == expected


def test_vllm_engine_arguments():
    kw = engine_kwargs("/models/gemma", revision=None, dtype="bfloat16", gpu_memory_utilization=0.85, max_num_seqs=128,
                       tensor_parallel_size=2, quantization="fp8", enforce_eager=False, max_model_len=32768)
    assert kw["quantization"] == "fp8" and kw["tensor_parallel_size"] == 2 and kw["max_num_seqs"] == 128
    assert kw["reasoning_parser"] == "gemma4" and kw["structured_outputs_config"] == {"backend": "guidance"}
    assert kw["limit_mm_per_prompt"] == {"image": 32768 // 72, "video": 0} and kw["max_model_len"] == 32768
    assert "quantization" not in engine_kwargs("/m", revision=None, dtype="auto", gpu_memory_utilization=0.9,
                                               max_num_seqs=1, tensor_parallel_size=1, quantization=None,
                                               enforce_eager=True, max_model_len=4096)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_backend_vllm_without_vllm_exits_3_with_the_install_command(tmp_path):
    r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "tiny-random",
                                 "--backend", "vllm", "--max-context", "4096"])
    assert r.exit_code == 3, r.output
    assert "pip install 'gemmadoc[vllm]'" in r.output


def test_precision_advice_per_card():
    assert advice(141).startswith("bf16 fits")  # H200
    assert advice(80).startswith("bf16 fits")  # H100
    assert "--quantization fp8" in advice(48, (8, 9))  # L40S
    assert "--quantization bitsandbytes" in advice(48, (8, 0))  # A6000: no fp8 kernels
    assert "--quantization bitsandbytes" in advice(32, (12, 0))  # RTX 5090
    assert "no precision fits" in advice(16, (8, 9))
    assert [f.weights_gb for f in fits(80)] == [53.1, 26.5, 14.9]


def test_doctor_reports_backend_and_packages():
    r = CliRunner().invoke(app, ["doctor"])
    assert r.exit_code == 0 and "--backend auto picks" in r.output and "vllm" in r.output
