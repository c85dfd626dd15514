"""The Ray model stage on one local Ray instance with two simulated GPUs (logical `num_gpus`): actor
placement, identity naming, reuse of a detached actor across runs, fail-over when an actor dies
mid-chunk, and the clear errors (exit 3) for a cluster that cannot serve."""

from __future__ import annotations

import os
import re
import signal
import time

import pandas as pd
import pytest

from tests import ray_env  # noqa: F401 - before Ray starts
from tests.conftest import SAMPLES, free_port

ray = pytest.importorskip("ray")

from flows.ray_stage import (  # noqa: E402
    ClusterUnavailable,
    RayModelStage,
    actor_prefix,
    check_nodes,
    list_models,
    stop_models,
)
from schemas.options import RunOptions, TransformersOptions, VLLMOptions  # noqa: E402

pytestmark = pytest.mark.slow


def test_unreachable_address_is_exit_3(tmp_path, monkeypatch):
    """Before Ray runs in this process (the first test here): nothing listens at the address, exit 3 at once."""
    assert not ray.is_initialized()
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")  # read like --ray
    t0 = time.monotonic()
    result = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "out"), "--model", "scripted:"])
    assert result.exit_code == 3, result.output
    assert "no Ray cluster answers at 127.0.0.1:" in " ".join(result.output.split()) and time.monotonic() - t0 < 30
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_local():
    """One Ray instance, 2 CPUs and 2 logical GPUs; its GCS address names it as a standing cluster."""
    ray.init(address="local", num_cpus=2, num_gpus=2, object_store_memory=ray_env.STORE, **ray_env.QUIET)
    address = ray.get_runtime_context().gcs_address
    yield address
    stop_models(address)
    ray.shutdown()
    assert not ray_env.wait_no_ray_processes(30), "Ray processes left behind"


@pytest.fixture(autouse=True)
def _release_models(request):
    """Each test starts with every GPU free: the models a test loaded are stopped after it."""
    yield
    if "ray_local" in request.fixturenames:
        address = request.getfixturevalue("ray_local")
        stop_models(address)
        _wait_for_free_gpus(2)


def _wait_for_free_gpus(n: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while ray.available_resources().get("GPU", 0) < n and time.monotonic() < deadline:
        time.sleep(0.2)  # a killed actor's GPU comes back to the cluster shortly after


def _pdfs(folder, n: int, words: int = 3) -> list[str]:
    import pymupdf

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        doc = pymupdf.open()
        page = doc.new_page(width=300, height=200)
        page.insert_text((20, 40), f"Invoice INV-{i:04d} " + " ".join(f"item{k}" for k in range(words)))
        page.insert_text((20, 70), f"Total due EUR {i}.00")
        doc.save(folder / f"d{i:03d}.pdf")
    return [str(folder)]


def _documents(inputs: list[str]):
    from pipeline.discover import discover

    return discover(inputs, 100.0).documents


def test_actor_names_follow_the_model_identity():
    base = actor_prefix(TransformersOptions(model="google/gemma-4-26B-A4B-it"))
    assert base.startswith("gemmadoc-gemma-4-26B-A4B-it-")
    assert actor_prefix(TransformersOptions(model="google/gemma-4-26B-A4B-it")) == base
    for other in (TransformersOptions(model="google/gemma-4-26B-A4B-it", dtype="float16"),
                  TransformersOptions(model="google/gemma-4-26B-A4B-it", revision="abc123"),
                  TransformersOptions(model="google/gemma-4-31B-it"),
                  VLLMOptions(model="google/gemma-4-26B-A4B-it"),
                  VLLMOptions(model="google/gemma-4-26B-A4B-it", max_num_seqs=8)):
        assert actor_prefix(other) != base, other


def test_one_actor_per_gpu_reused_by_the_next_run(ray_local):
    options = RunOptions(model="scripted:", ray=ray_local)
    first = RayModelStage.connect(options)
    models = {m.name: m for m in list_models(ray_local)}
    assert first.size == 2 and set(models) == set(first.handles)
    assert sorted(g for m in models.values() for g in m.gpus) == ["0", "1"]  # one GPU each
    again = RayModelStage.connect(options)  # the next run: same detached actors, no second load
    models_again = {m.name: m for m in list_models(ray_local)}
    assert set(again.handles) == set(first.handles)
    assert {n: (m.pid, m.loaded_at) for n, m in models_again.items()} == {n: (m.pid, m.loaded_at) for n, m in models.items()}
    with pytest.raises(ClusterUnavailable, match="every GPU .* taken, by 2 gemmadoc model.*other settings.*stop-models"):
        RayModelStage.connect(RunOptions(model="scripted:delay=0.01", ray=ray_local))  # other settings: other actors
    from typer.testing import CliRunner

    from flows.cli import app

    listed = CliRunner().invoke(app, ["ray", "models", "--ray", ray_local])
    assert listed.exit_code == 0 and all(f"{n}  ready  node 127.0.0.1" in listed.output for n in first.handles)
    stopped = CliRunner().invoke(app, ["ray", "stop-models", "--ray", ray_local])
    assert stopped.exit_code == 0 and "stopped 2 model actor(s)" in stopped.output and list_models(ray_local) == []
    _wait_for_free_gpus(2)
    other = RayModelStage.connect(RunOptions(model="scripted:delay=0.01", ray=ray_local))
    assert other.size == 2 and not set(other.handles) & set(first.handles)


def test_local_ray_keeps_its_models_for_the_next_run_in_this_process(ray_local):
    """`--ray local`: actors are not detached (they end with this process), yet a second run in the same
    process reuses them: the creating handles are kept, a handle got by name would not keep them alive."""
    options = RunOptions(model="scripted:", ray="local")
    first = RayModelStage.connect(options)
    assert not first.detached
    loaded = {m.name: (m.pid, m.loaded_at) for m in list_models(ray_local)}
    again = RayModelStage.connect(options)
    del first, again
    import gc

    gc.collect()
    assert {m.name: (m.pid, m.loaded_at, m.state) for m in list_models(ray_local)} == {n: (*v, "ready") for n, v in loaded.items()}


def test_a_chunk_whose_actor_dies_is_sent_again(ray_local, tmp_path):
    """An actor's process is killed mid-chunk (a CUDA fault, an OOM kill): every chunk still comes back
    exactly once, the chunk counts as retried, and Ray's restarted actor serves again."""
    options = RunOptions(model="scripted:delay=0.4", ray=ray_local, keep_page_images=False)
    stage = RayModelStage.connect(options)
    docs = _documents(_pdfs(tmp_path / "in", 8))
    keys = {d.doc_id: f"key-{d.doc_id[:8]}" for d in docs}
    chunks = [docs[i:i + 2] for i in range(0, len(docs), 2)]
    seen, killed, killed_pid = [], None, 0
    for index, outcome in stage.outcomes(chunks, options, keys, "scripted"):
        seen.append(index)
        assert [r.status for r in outcome.results] == ["ok"] * len(chunks[index])
        if killed is None and stage.busy():
            killed = stage.busy()[0]
            killed_pid = stage.info[killed].pid
            os.kill(killed_pid, signal.SIGKILL)
    assert sorted(seen) == list(range(len(chunks)))
    assert stage.chunk_retries >= 1 and stage.usage_by_actor[killed].lost_chunks >= 1
    restarted = {m.name: m for m in list_models(ray_local)}[killed]
    assert restarted.state == "ready" and restarted.pid != killed_pid


def test_a_file_the_ingesting_node_cannot_read_is_tried_on_the_flows_node(ray_local, tmp_path):
    """A node without the file (no shared mount) hands it back; the flow's node ingests it, and a file
    gone everywhere fails alone with its ingest error while the rest of its chunk completes."""
    options = RunOptions(model="scripted:", ray=ray_local, keep_page_images=False)
    stage = RayModelStage.connect(options)
    docs = _documents(_pdfs(tmp_path / "in", 4))
    os.unlink(docs[1].path)
    keys = {d.doc_id: f"key-{d.doc_id[:8]}" for d in docs}
    results = {r.doc_id: r for _, outcome in stage.outcomes([docs], options, keys, "scripted") for r in outcome.results}
    assert len(results) == 4 and results[docs[1].doc_id].status == "failed"
    assert results[docs[1].doc_id].errors[0].stage == "ingest"
    assert all(results[d.doc_id].status == "ok" for d in docs if d is not docs[1])


def test_runs_through_the_flow_and_records_the_actors(ray_local, tmp_path, prefect_harness):
    from flows.batch import run_batch

    out = tmp_path / "out"
    options = RunOptions(model="scripted:", ray=ray_local)
    record = run_batch([str(SAMPLES)], str(out), options)
    assert record.documents == 3 and record.ok == 3 and record.cluster == f"ray {ray_local}"
    assert sum(w.chunks for w in record.workers) >= 2 and {w.node for w in record.workers} == {"127.0.0.1"}
    runs = pd.read_parquet(out / "tables" / "runs")
    assert runs.loc[0, "cluster"] == f"ray {ray_local}" and "gemmadoc-scripted-" in runs.loc[0, "workers_json"]
    assert sorted(os.listdir(out / "pages"))  # review copies made on the actors, written here
    from typer.testing import CliRunner

    from flows.cli import app

    status = CliRunner().invoke(app, ["status", str(out)])
    assert status.exit_code == 0 and "model actor(s)" in status.output and "requests" in status.output


def test_a_model_that_cannot_load_stops_the_run_with_exit_3(ray_local, tmp_path, prefect_harness):
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "out"), "--ray", ray_local,
                                      "--model", str(tmp_path / "no-such-checkpoint")])
    assert result.exit_code == 3, result.output
    assert "could not load its model: (on node 127.0.0.1) weights for" in " ".join(result.output.split())
    assert not [m for m in list_models(ray_local) if "no-such-checkpoint" in m.name]  # the failed actor is gone


def test_a_cluster_without_enough_gpus_is_refused(ray_local):
    with pytest.raises(ClusterUnavailable, match="has no GPUs.*--ray-cpu-actors"):
        RayModelStage.connect(RunOptions(model="scripted:", backend="vllm", tensor_parallel_size=4, ray=ray_local))


def test_a_node_with_another_version_is_named(ray_local):
    with pytest.raises(ClusterUnavailable, match=r"127\.0\.0\.1 \(.*\): gemmadoc"):
        check_nodes("gemmadoc 0.0.0-other, pipeline 0")


def test_a_node_that_reads_other_scripts_is_named(ray_local):
    """Ingest runs on every node and work keys name the Tesseract models that read scans there: a node
    whose models differ from this machine's is refused, naming what it has."""
    from flows.ray_stage import installed_version
    from pipeline.ingest.tesseract import signature

    check_nodes(installed_version())  # the same machine: the same models
    here = signature() or "none"
    with pytest.raises(ClusterUnavailable, match=r"Tesseract script models as this machine \(tesseract 0\.0: cyrl\).*"
                                                  rf"127\.0\.0\.1 \(.*\): {re.escape(here)}.*ensure_tesseract"):
        check_nodes(installed_version(), "tesseract 0.0: cyrl")
