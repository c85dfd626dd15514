"""`--quantization` with the tiny random Gemma 4 on CPU: int8 (torchao) and nf4 (bitsandbytes) load through
the real backend, shrink every part that they claim to, the MoE experts included (counted byte by byte
after loading), and generate end to end through the flow; fp8 and missing libraries are refused (exit 2)."""

from __future__ import annotations

import importlib.util
import json

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from flows.cli import app
from model.quantize import QuantizationUnsupported, check_supported, parameter_bytes, prequantized
from model.vllm_engine import engine_kwargs
from schemas.options import RunOptions, TransformersOptions, VLLMOptions
from tests.conftest import SAMPLES

needs = {"int8": "torchao", "nf4": "bitsandbytes"}


@pytest.fixture(scope="module")
def bf16_bytes():
    from transformers import AutoModelForImageTextToText

    from model.tiny import ensure_tiny

    return parameter_bytes(AutoModelForImageTextToText.from_pretrained(ensure_tiny(), dtype=torch.bfloat16))


@pytest.mark.parametrize("method,experts_ratio", [("int8", 0.6), ("nf4", 0.3)])
def test_quantized_load_shrinks_the_experts(method, experts_ratio, bf16_bytes):
    pytest.importorskip(needs[method])
    from model.hf import TransformersBackend
    from model.tiny import ensure_tiny

    backend = TransformersBackend(str(ensure_tiny()), quantization=method)
    got = backend.parameter_bytes
    assert backend.quantization == method
    assert got["experts"] <= experts_ratio * bf16_bytes["experts"], (got, bf16_bytes)  # the 3D expert tensors too
    assert got["text"] <= (experts_ratio + 0.05) * bf16_bytes["text"]
    assert got["embeddings"] == bf16_bytes["embeddings"]  # kept in bf16
    assert got["vision"] == bf16_bytes["vision"]  # the vision tower too
    assert sum(got.values()) < sum(bf16_bytes.values())


def test_nf4_experts_whole_layer_equals_one_by_one(monkeypatch):
    """The two NF4 expert paths agree: the layer dequantized a group of experts at a time through
    transformers' grouped_mm (prefill, large batches) and each routed expert on its own (small decode
    batches); groups smaller than the layer give what one group gives."""
    pytest.importorskip("bitsandbytes")
    from model.hf import TransformersBackend
    from model.quantize import Nf4Experts
    from model.tiny import ensure_tiny

    backend = TransformersBackend(str(ensure_tiny()), quantization="nf4")
    layers = [m for m in backend.model.modules() if isinstance(m, Nf4Experts)]
    assert layers and not any(p.numel() for m in layers for p in m.stock.parameters())  # weightless stock modules
    experts = layers[0]
    torch.manual_seed(0)
    hidden = torch.randn(12, backend.model.config.get_text_config().hidden_size, dtype=torch.bfloat16)
    index = torch.stack([torch.randperm(experts.num_experts)[:2] for _ in range(12)])
    weights = torch.rand(12, 2, dtype=torch.bfloat16)
    used = torch.unique(index).tolist()
    assert len(used) > experts.num_experts // 4  # forward takes the whole-layer path here
    whole = experts(hidden, index, weights)
    single = experts.few(hidden, index, weights, used)
    assert torch.allclose(whole.float(), single.float(), atol=2e-2, rtol=2e-2), (whole - single).abs().max()
    monkeypatch.setattr("model.quantize.EXPERT_GROUP", 3)  # 8 experts: groups of 3, 3 and 2
    assert torch.allclose(experts(hidden, index, weights).float(), whole.float(), atol=1e-2, rtol=1e-2)
    assert not hasattr(experts.stock, "gate_up_proj")  # the dequantized copy is gone after the call


def test_int8_experts_whole_layer_equals_the_eager_loop(monkeypatch):
    """int8 experts: the layer dequantized through transformers' grouped_mm (many routed experts), in
    groups of experts or at once, gives what the stock eager loop over torchao's int8 slices gives."""
    pytest.importorskip("torchao")
    from model.hf import TransformersBackend
    from model.quantize import Int8Experts
    from model.tiny import ensure_tiny

    backend = TransformersBackend(str(ensure_tiny()), quantization="int8")
    layers = [m for m in backend.model.modules() if isinstance(m, Int8Experts)]
    assert len(layers) == backend.model.config.get_text_config().num_hidden_layers
    experts = layers[0]
    torch.manual_seed(0)
    hidden = torch.randn(12, backend.model.config.get_text_config().hidden_size, dtype=torch.bfloat16)
    index = torch.stack([torch.randperm(experts.num_experts)[:2] for _ in range(12)])
    weights = torch.rand(12, 2, dtype=torch.bfloat16)
    assert len(torch.unique(index)) > experts.num_experts // 4  # forward takes the whole-layer path here
    with torch.no_grad():
        whole = experts.whole_layer(hidden, index, weights)
        eager = experts.stock(hidden, index, weights)
        assert torch.equal(experts(hidden, index, weights), whole)
        monkeypatch.setattr("model.quantize.EXPERT_GROUP", 3)  # 8 experts: groups of 3, 3 and 2
        grouped = experts.whole_layer(hidden, index, weights)
    assert torch.allclose(whole.float(), eager.float(), atol=2e-2, rtol=2e-2), (whole - eager).abs().max()
    assert torch.allclose(grouped.float(), whole.float(), atol=1e-2, rtol=1e-2), (grouped - whole).abs().max()


@pytest.mark.parametrize("method", ["nf4", "int8"])
def test_quantized_run_generates_and_records_the_method_and_bytes_per_part(method, tmp_path, prefect_harness):
    pytest.importorskip(needs[method])
    from flows.batch import run_batch

    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "invoice.pdf").write_bytes(next(p for p in SAMPLES.iterdir() if p.suffix == ".pdf").read_bytes())
    one_field = tmp_path / "one_field.json"  # a short answer: the random model's tokens cost ~35 ms each in nf4
    one_field.write_text(json.dumps({"title": "one_field", "type": "object", "required": ["invoice_number"],
                                     "properties": {"invoice_number": {"type": "string", "maxLength": 40}}}))
    record = run_batch([str(inputs)], str(tmp_path / "out"),
                       RunOptions(model="tiny-random", quantization=method, keep_page_images=False, ocr="off",
                                  schema_name=str(one_field), image_tokens_max=140))
    assert record.documents == 1 and record.ok + record.partial == 1 and record.tokens_out > 0
    runs = pd.read_parquet(tmp_path / "out" / "tables" / "runs")
    assert runs.loc[0, "quantization"] == method
    assert set(json.loads(runs.loc[0, "parameter_bytes_json"])) == {"embeddings", "experts", "text", "vision"}


def test_quantized_results_have_their_own_work_keys():
    from pipeline.keys import work_key
    from schemas.catalog import load_schema

    schema = load_schema("key_facts")
    plain = work_key("d" * 64, schema, "m", RunOptions())
    assert work_key("d" * 64, schema, "m", RunOptions(quantization="nf4")) != plain
    assert work_key("d" * 64, schema, "m", RunOptions(quantization="none")) == plain


def test_fp8_conversion_keeps_the_vision_tower_and_head_in_bf16():
    """What from_pretrained does with the fp8 config, on the meta device: experts and the text layers become
    FP8, the vision tower (a 4304-wide MLP, no multiple of the 128 block) and the output head do not."""
    from transformers import AutoConfig, AutoModelForImageTextToText
    from transformers.integrations.finegrained_fp8 import replace_with_fp8_linear

    from model.quantize import KEEP_BF16, load_kwargs
    from model.tiny import ensure_tiny

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(ensure_tiny()))
        model = replace_with_fp8_linear(model, modules_to_not_convert=KEEP_BF16,
                                        quantization_config=load_kwargs("fp8")["quantization_config"])
    fp8 = {name for name, m in model.named_modules() if type(m).__name__.startswith("FP8")}
    assert any(".experts" in n for n in fp8) and any("self_attn" in n for n in fp8)
    assert not [n for n in fp8 if "vision" in n or "lm_head" in n]


def test_fp8_without_a_fitting_gpu_is_exit_2(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "out"), "--model", "tiny-random",
                                 "--backend", "transformers", "--quantization", "fp8"])
    assert r.exit_code == 2, r.output
    text = " ".join(r.output.split())
    assert "needs a CUDA GPU of compute capability 8.9+" in text and "Alternatives: int8 or nf4" in text


def test_a_missing_library_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torchao", "bitsandbytes") else real(name, *a))
    with pytest.raises(QuantizationUnsupported, match=r"int8 needs torchao .*pip install 'gemmadoc\[quant\]'"):
        check_supported("int8")
    with pytest.raises(QuantizationUnsupported, match="nf4 needs bitsandbytes"):
        check_supported("nf4")
    with pytest.raises(QuantizationUnsupported, match="must be one of"):
        check_supported("awq")


def test_prequantized_checkpoints_are_recognised():
    from transformers import PretrainedConfig

    assert prequantized(PretrainedConfig()) is None
    assert prequantized(PretrainedConfig(quantization_config={"quant_method": "fp8", "weight_block_size": [128, 128]})) == "fp8"


def test_vllm_takes_its_own_names_for_the_methods():
    base = dict(revision=None, dtype="auto", gpu_memory_utilization=0.9, max_num_seqs=8, tensor_parallel_size=1,
                enforce_eager=False, max_model_len=4096)
    assert engine_kwargs("/m", quantization="nf4", **base)["quantization"] == "bitsandbytes"
    assert engine_kwargs("/m", quantization="int8", **base)["quantization"] == "experts_int8"
    assert engine_kwargs("/m", quantization="fp8", **base)["quantization"] == "fp8"
    assert "quantization" not in engine_kwargs("/m", quantization="none", **base)
    assert VLLMOptions(model="m", quantization="bitsandbytes").quantization == "nf4"  # the 0.3 name still works
    assert TransformersOptions().quantization == "none"
