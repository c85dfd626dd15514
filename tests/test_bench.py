"""Smoke tests of the benchmark scripts (small settings); the figures come from running them in bench/.
Those marked `bench` run in `make test-bench` (CI runs it after `make test`), not in `make test`."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, needs_corpus


def run_bench(*args, timeout=600, lines=1):
    out = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    assert len(result) == lines, out.stdout[-2000:]
    found = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in result]
    return found[0] if lines == 1 else found


@needs_corpus()
def test_damaged_files_never_escape_ingest_as_unexpected_errors():
    """bench/ingest_fuzz.py on 60 damaged corpus files: every one becomes pages (maybe with an error row) or
    an explained failure; an unexpected exception would be retried three times and then lose the file."""
    r = run_bench("bench/ingest_fuzz.py", "--files", "60", "--seed", "3", timeout=300)
    assert r["files"] == "60" and r["unexpected"] == "0", r
    assert int(r["kept"]) + int(r["failed"]) + int(r["not_a_document"]) == 60 and int(r["kept_with_loss"]) > 0


@needs_corpus()
def test_long_values_benchmark_reads_every_paragraph_whole():
    """bench/long_values.py (about 10 s): the corpus paragraphs longer than a first answer's 200 characters
    come back whole now, and cut before (0.3.23, patched in the same run)."""
    r = run_bench("bench/long_values.py", timeout=300)
    assert int(r["documents"]) >= 30 and float(r["long_share"]) > 0.3 and r["whole"] == "1.000", r
    assert float(r["whole_before"]) < 0.7 and float(r["verified"]) > float(r["verified_before"]), r


@pytest.mark.bench
def test_gpu_throughput_tiny_smoke():
    """The GPU benchmark's whole path on CPU with the tiny model, its weights quantized to nf4 as on the card:
    first its memory-at-context phase (a page at budget 1120 filling the asked context, a batch of 2),
    prefilled in pieces and in one pass, then the throughput phase (`make test-device-image` runs it at
    two pages a row, under the device image's versions). The two prefills must give the same tokens in
    fp32 (unquantized, as test-device-image checks): nf4's CPU kernels part the random model's rows on
    one CPU (0 of 2 on an EPYC with AVX512-BF16) and not on another (2 of 2), int8 and fp32 agree on both."""
    pieces, one_pass, check, r = run_bench("bench/gpu_throughput.py", "--tiny", "--quantization", "nf4", "--context", "1300",
                                           "--batch", "2", "--prefill-tokens", "1024", lines=4)
    assert set(r) == {"device", "backend", "pages_per_s", "speedup_vs_naive", "output_tok_per_s", "gpu_idle_share",
                      "padding_share", "peak_gpu_gb", "decode_experts", "quantization"}
    assert float(r["pages_per_s"]) > 0 and r["quantization"] == "nf4" and r["decode_experts"] == "grouped_mm"
    for mem, prefill_tokens in ((pieces, "1024"), (one_pass, "0")):
        assert mem["mode"] == "context" and mem["context"] == "1300" and mem["batch"] == "2" and mem["oom"] == "0"
        assert mem["prefill_tokens"] == prefill_tokens
    assert check["mode"] == "prefill_check" and check["rows"] == "2" and check["quantization"] == "nf4"
    *_, fp32, _ = run_bench("bench/gpu_throughput.py", "--tiny", "--quantization", "none", "--context", "1300",
                            "--batch", "2", "--prefill-tokens", "1024", lines=4)
    assert fp32["mode"] == "prefill_check" and fp32["same_rows"] == fp32["rows"] == "2"


@pytest.mark.bench
def test_fp8_weights_of_the_real_model_counted_on_the_meta_device():
    """fp8 needs a GPU to run; its conversion (FP8Linear, FP8Experts) is checked on the meta device."""
    r = run_bench("bench/gpu_throughput.py", "--meta", "--quantization", "fp8", timeout=300)
    assert r["quantization"] == "fp8" and float(r["experts_gb"]) < 23.0 < 45.0  # bf16 experts: 45.7 GB
    assert float(r["weights_gb"]) < 0.55 * 53.1


@pytest.mark.bench
def test_real_26b_a4b_config_builds_on_meta_device():
    """The GPU path's model construction (transformers 5's no_init_weights), on the meta device."""
    r = run_bench("bench/gpu_throughput.py", "--meta", timeout=300)
    assert r["device"] == "meta" and 26.0 < float(r["total_params_b"]) < 27.0
    assert abs(float(r["lm_params_b"]) - 25.2) < 0.1 and abs(float(r["active_params_b"]) - 3.8) < 0.1


@pytest.mark.bench
def test_vllm_dummy_weight_checkpoint_has_the_real_config_and_the_tiny_tokenizer(tiny_backend, tmp_path):
    """bench/vllm_throughput.py's GPU path (load_format=dummy on the real 26B-A4B config), checked on CPU:
    the folder's config is the real architecture and every tiny token id fits its vocabulary."""
    import json
    import sys as _sys

    from model.tiny import ensure_tiny

    _sys.path.insert(0, str(ROOT / "bench"))
    from vllm_throughput import dummy_checkpoint

    folder = dummy_checkpoint(ensure_tiny(), tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    text = cfg["text_config"]
    assert text["num_experts"] == 128 and text["top_k_experts"] == 8 and text["num_hidden_layers"] == 30
    assert cfg["vision_config"]["default_output_length"] == 280 and not list(folder.glob("*.safetensors"))
    tiny_vocab = len(tiny_backend.tokenizer)
    assert max(cfg["image_token_id"], cfg["boi_token_id"], cfg["eoi_token_id"]) < tiny_vocab <= text["vocab_size"]
    assert (folder / "tokenizer_config.json").exists() and (folder / "processor_config.json").exists()


@pytest.mark.bench
def test_gpu_random_model_leaves_no_buffer_uninitialised():
    """The GPU run builds its random model without the default init (slow at 26B); every buffer must
    still hold what a normally initialised model holds (the tiny config, on CPU)."""
    import importlib.util

    import torch
    from transformers import AutoConfig, Gemma4ForConditionalGeneration

    from model.tiny import ensure_tiny

    spec = importlib.util.spec_from_file_location("gpu_throughput", ROOT / "bench" / "gpu_throughput.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = AutoConfig.from_pretrained(ensure_tiny())
    built = dict(bench.random_model(cfg, "cpu").named_buffers())
    for name, expected in Gemma4ForConditionalGeneration(cfg).named_buffers():
        assert torch.equal(built[name], expected), name


@pytest.mark.bench
def test_engine_feeding_benchmark_runs_both_sides():
    """bench/scale.py --engine: the flow feeding a scripted one-call-at-a-time engine, with and without two
    chunks' calls overlapped; both sides report the runs table's idle share (figures in bench/RESULTS.md)."""
    r = run_bench("bench/scale.py", "--engine", "200", "--docs", "24", "--chunk-docs", "8", timeout=300)
    assert r["docs"] == "24" and r["rate"] == "200"
    assert 0.0 <= float(r["engine_idle_share"]) <= 1.0 and 0.0 <= float(r["engine_idle_share_no_overlap"]) <= 1.0
    assert float(r["engine_idle_share_no_overlap"]) < 1.0  # the engine's busy time reached the runs table
