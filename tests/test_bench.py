"""Smoke tests of the benchmark scripts (small settings); the figures come from running them in bench/."""

import os
import subprocess
import sys

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
    """The GPU path's model construction (transformers 5's no_init_weights), on the meta device."""
    r = run_bench("bench/gpu_throughput.py", "--meta", timeout=300)
    assert r["device"] == "meta" and 26.0 < float(r["total_params_b"]) < 27.0
    assert abs(float(r["lm_params_b"]) - 25.2) < 0.1 and abs(float(r["active_params_b"]) - 3.8) < 0.1
