"""RunOptions as a tree: flat names route to their group, backends are discriminated, errors name the flags."""

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from flows.cli import app
from schemas.options import (
    GroundingOptions,
    IngestOptions,
    OpenAIOptions,
    RunOptions,
    TransformersOptions,
    VLLMOptions,
    leaf_owner,
)
from tests.conftest import SAMPLES


def test_flat_names_route_to_their_group_and_nested_groups_work_too():
    o = RunOptions(dpi=200, thinking=True, force=True, relocate=False, model="tiny-random")
    assert o.ingest.dpi == 200 and o.plan.thinking and o.output.force and o.grounding.relocate is False
    assert isinstance(o.backend, TransformersOptions) and o.backend.model == "tiny-random"
    assert RunOptions(ingest={"dpi": 200}, plan=dict(thinking=True)) == RunOptions(dpi=200, thinking=True)
    assert o.replace(dpi=300).ingest.dpi == 300 and o.replace(dpi=300).plan.thinking
    assert RunOptions.model_validate(o.model_dump(mode="json")) == o  # a deployment's parameters round-trip


def test_every_leaf_name_is_unique_across_groups():
    from schemas.options import BACKEND_MODELS, GROUPS

    seen: dict[str, str] = {}
    for group, cls in GROUPS.items():
        for name in cls.model_fields:
            assert name not in seen, f"{name} in {group} and {seen[name]}"
            seen[name] = group
    backend_leaves = {n for cls in BACKEND_MODELS.values() for n in cls.model_fields}
    assert not backend_leaves & set(seen), backend_leaves & set(seen)
    assert set(leaf_owner()) == set(seen) | backend_leaves


def test_backends_are_discriminated_and_forbid_foreign_options():
    assert isinstance(RunOptions(backend="vllm", gpu_memory_utilization=0.5).backend, VLLMOptions)
    assert isinstance(RunOptions(model="openai:http://127.0.0.1:9/v1").backend, OpenAIOptions)
    with pytest.raises(ValidationError, match="gpu_memory_utilization"):
        RunOptions(gpu_memory_utilization=0.5)  # transformers takes no vLLM option
    with pytest.raises(ValidationError):
        RunOptions(backend="vllm", attn_implementation="eager")
    with pytest.raises(ValidationError):
        IngestOptions(dpi=10)


def test_chunk_size_keeps_the_backend_fed():
    assert RunOptions().chunk_size() == 16 and RunOptions(chunk_docs=5, backend="vllm").chunk_size() == 5
    assert RunOptions(backend="vllm", max_num_seqs=128).chunk_size() == 256
    assert RunOptions(model="openai:http://127.0.0.1:9/v1", concurrency=8).chunk_size() == 32


def test_output_key_ignores_runtime_knobs_and_keeps_keys_of_earlier_runs():
    base = RunOptions()
    # pinned: a refactor of the options must not change the key of the defaults (0.3.0-0.3.4 gave
    # 94d8e60ad0dde42f; 0.3.5 changed the default render caps, so its output, and the key, changed, to
    # 96db5c6ef0155b2a; 0.3.10 raised --max-side to 16384 for pages shown in slices)
    assert base.output_key() == "054877323b1e4f07"
    assert base.replace(max_workers=8, chunk_docs=4, force=True, batch_tokens=2048).output_key() == base.output_key()
    assert base.replace(dpi=200).output_key() != base.output_key()
    assert base.replace(relocate=False).output_key() != base.output_key()
    assert GroundingOptions() == base.grounding


def test_cli_names_the_flag_that_does_not_fit_the_backend(tmp_path):
    r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", "tiny-random",
                                 "--backend", "transformers", "--gpu-memory-utilization", "0.5"])
    assert r.exit_code == 2 and "--gpu-memory-utilization does not apply to --backend transformers" in r.output
    r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--dpi", "5"])
    assert r.exit_code == 2 and "--dpi" in r.output
