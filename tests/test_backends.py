"""Backend choice and the GPU-side configuration, checked on CPU: `--backend auto`, vLLM's engine
arguments, a missing vLLM, and which weight precision fits which card."""

import importlib.util

import pytest
from typer.testing import CliRunner

from flows.cli import app
from model.fit import advice, estimate, fits
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


def test_memory_estimate_per_card():
    assert advice(141).startswith("no --quantization (bf16 weights) fits")  # H200
    assert advice(80).startswith("no --quantization (bf16 weights) fits")  # H100, 16k x 8
    assert advice(48, (8, 9)).startswith("--quantization fp8 fits")  # L40S
    assert advice(48, (8, 0)).startswith("--quantization int8 fits")  # A6000: no fp8 kernels
    assert advice(32, (12, 0)).startswith("--quantization nf4 fits")  # RTX 5090
    assert advice(24, (8, 9), context=8192, batch=4).startswith("--quantization nf4 fits")  # RTX 4090, shorter work
    assert "nothing fits 16 GB" in advice(16, (8, 9))
    assert "--quantization nf4 --prefill-tokens 4096 fits" in advice(24, (8, 9))  # smaller prefill passes first
    assert "--quantization nf4 --prefill-tokens 2048 --batch-tokens 81920 (5 x 16384 per batch) fits" in advice(22, (8, 9))
    one_pass = estimate("nf4", prefill_tokens=0)  # generate() alone: 131k tokens' activations and masks at once
    assert one_pass.activations_gb > 8 * estimate("nf4").activations_gb and one_pass.total_gb > 50
    by = {e.quantization: e for e in fits(80)}
    assert (by["none"].weights_gb, by["fp8"].weights_gb, by["int8"].weights_gb, by["nf4"].weights_gb) == (51.6, 27.1, 27.1, 16.4)
    longer = fits(80, context=32768)[3].kv_cache_gb
    assert by["nf4"].kv_cache_gb < longer < 2 * by["nf4"].kv_cache_gb  # sliding layers keep only their window
    assert not fits(48, (8, 0))[1].supported  # fp8 on Ampere


def test_doctor_reports_backend_and_packages():
    r = CliRunner().invoke(app, ["doctor"])
    assert r.exit_code == 0 and "--backend auto picks" in r.output and "vllm" in r.output
    assert "image decoders" in r.output and "HEIC all decode" in r.output
    (tesseract,) = [line for line in r.output.splitlines() if line.startswith("tesseract (scripts RapidOCR does not read)")]
    from pipeline.ingest.tesseract import installed

    found = installed()  # the scripts it reads, or what to install
    assert f"reads {', '.join(found.scripts)} " in tesseract if found and found.scripts else "apt-get install tesseract-ocr" in tesseract
    nf4 = [line for line in r.output.splitlines() if line.startswith("--quantization nf4 at 32768 x 8")]
    r = CliRunner().invoke(app, ["doctor", "--prefill-tokens", "0"])  # the whole batch in one pass: far more
    one_pass = [line for line in r.output.splitlines() if line.startswith("--quantization nf4 at 32768 x 8")]
    assert len(nf4) == len(one_pass) == 1 and float(one_pass[0].split()[6]) > 2 * float(nf4[0].split()[6])
