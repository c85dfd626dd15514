"""Smoke tests of the benchmark scripts (small settings); the figures come from running them in bench/."""

import os
import subprocess
import sys

import torch

from tests.conftest import ROOT


def run_bench(*args, timeout=600):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    assert len(result) == 1, out.stdout[-2000:]
    return dict(kv.split("=", 1) for kv in result[0].split()[1:])


def test_gpu_throughput_tiny_smoke():
    r = run_bench("bench/gpu_throughput.py", "--tiny")
    assert set(r) == {"device", "pages_per_s", "speedup_vs_naive", "output_tok_per_s", "padding_share", "peak_gpu_gb"}
    assert float(r["pages_per_s"]) > 0


def test_real_26b_a4b_config_builds_on_meta_device():
    sys.path.insert(0, str(ROOT / "bench"))
    from gpu_throughput import real_config
    from transformers import Gemma4ForConditionalGeneration

    with torch.device("meta"):
        model = Gemma4ForConditionalGeneration(real_config())
    total = sum(p.numel() for p in model.parameters())
    assert 25e9 < total < 27e9  # about 26B parameters
    assert model.config.get_text_config().num_experts == 128
