"""Against a real vLLM (the CPU build, `make test-vllm`): the in-process engine backend end to end on
data/samples, and the OpenAI-compatible backend against a `vllm` API server that a fixture starts on
loopback and stops by PID. Skipped where vLLM is not importable (the project venv)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed here: `make test-vllm` runs these in .venv-vllm")
pytestmark = pytest.mark.vllm

from flows.batch import run_batch  # noqa: E402
from model.tiny import ensure_tiny  # noqa: E402
from pipeline.discover import discover  # noqa: E402
from pipeline.packing import Planner  # noqa: E402
from pipeline.prepare import prepare_chunk  # noqa: E402
from schemas.catalog import load_schema  # noqa: E402
from schemas.options import PlanOptions, RunOptions  # noqa: E402
from tests.conftest import SAMPLES, free_port  # noqa: E402

ENGINE = dict(backend="vllm", model="tiny-random", enforce_eager=True, max_num_seqs=4, max_context=4096)


@pytest.fixture(scope="session", autouse=True)
def vllm_env(tmp_path_factory):
    """Offline, one GiB of KV cache, and vLLM's caches kept out of the home folder."""
    os.environ.update(HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1", VLLM_NO_USAGE_STATS="1",
                      VLLM_CACHE_ROOT=str(tmp_path_factory.mktemp("vllm-cache")))


@pytest.fixture(scope="session")
def engine(vllm_env):
    from flows.batch import load_model

    backend = load_model(RunOptions(**ENGINE))[1]
    yield backend
    backend.close()  # while pytest's output is still open (at exit vLLM logs its shutdown into a closed stream)


def receipt_request(backend, budget: int, max_new_tokens: int, spool: Path):
    """The sample receipt as one planned request at one image budget."""
    (prep,) = prepare_chunk(discover([SAMPLES / "scanned_receipt.png"]).documents, RunOptions(ocr="off").ingest, spool)
    plan = PlanOptions(image_tokens_min=budget, image_tokens_max=budget, max_context=4096, max_new_tokens=max_new_tokens)
    (request,) = Planner(backend, plan, load_schema("receipt")).plan([prep])
    return request


def test_engine_counts_match_the_processor_and_budgets_are_honoured(engine, tmp_path):
    """vLLM's own prompt length equals the HF processor's count at every budget (exact packing)."""
    lengths = {}
    for budget in (70, 280):
        request = receipt_request(engine, budget, 256, tmp_path)
        (gen,) = engine.generate([request])
        assert gen.finish_reason in ("stop", "length") and gen.prompt_tokens == request.n_tokens, (budget, gen)
        lengths[budget] = gen.prompt_tokens
        if gen.finish_reason == "stop":
            json.loads(gen.text, strict=False)  # structured outputs: the answer parses
    assert lengths[280] - lengths[70] >= 150  # the budget reached the vision tower


def test_engine_stops_at_the_time_limit_and_goes_on(engine, tmp_path):
    request = receipt_request(engine, 70, 2048, tmp_path)
    (gen,) = engine.generate([request], max_seconds=0.05)
    assert gen.finish_reason == "time" and "--generate-timeout" in gen.error
    (gen,) = engine.generate([request.model_copy(update={"max_new_tokens": 64})])  # the aborted request left no trace
    assert gen.finish_reason in ("stop", "length") and gen.prompt_tokens == request.n_tokens


def test_engine_serves_overlapping_calls_from_two_threads(engine, tmp_path):
    """Two chunks' generate() calls at once share the engine: each gets its own answers, complete."""
    from concurrent.futures import ThreadPoolExecutor

    short = receipt_request(engine, 70, 48, tmp_path)
    longer = receipt_request(engine, 280, 96, tmp_path)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda rs: engine.generate(rs), [[short, short], [longer]])
    assert [g.prompt_tokens for g in a] == [short.n_tokens] * 2 and [g.prompt_tokens for g in b] == [longer.n_tokens]
    assert all(g.finish_reason in ("stop", "length") for g in a + b)
    assert not engine._finished and not engine._internal  # nothing left behind for a later call


def test_engine_end_to_end_on_the_samples_with_and_without_thinking(engine, tmp_path, prefect_harness):
    for thinking in (False, True):
        out = tmp_path / f"out-{thinking}"
        # one document per chunk: the flow hands the engine the next chunk while this one decodes
        record = run_batch([str(SAMPLES)], str(out), RunOptions(**ENGINE, thinking=thinking, max_new_tokens=512, chunk_docs=1))
        assert record.documents == 3 and record.ok + record.partial == 3, record
        docs = pd.read_parquet(out / "tables" / "documents")
        assert set(docs["model_id"]) == {engine.model_id}
        errors = pd.read_parquet(out / "tables" / "errors")
        assert not errors["kind"].isin(["invalid_json"]).any(), errors[["kind", "message"]]
        cites = pd.read_parquet(out / "tables" / "citations")
        assert len(cites) > 0
        for f in (out / "json").glob("*.json"):
            result = json.loads(f.read_text())
            assert isinstance(result["answer"], dict)
        runs = pd.read_parquet(out / "tables" / "runs")
        assert json.loads(runs["options_json"].iloc[0])["backend"]["backend"] == "vllm"
        assert 0.0 < runs["gpu_idle_share"].iloc[0] < 1.0  # time inside the engine, counted once across chunks


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory, vllm_env):
    """`vllm`'s OpenAI-compatible server with the tiny Gemma 4 on 127.0.0.1, stopped by PID."""
    import httpx

    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(ensure_tiny()),
           "--host", "127.0.0.1", "--port", str(port), "--served-model-name", "tiny-gemma4", "--max-model-len", "4096",
           "--max-num-seqs", "4", "--dtype", "float32", "--enforce-eager", "--trust-request-mm-kwargs",
           "--limit-mm-per-prompt", json.dumps({"image": 32, "video": 0}), "--reasoning-parser", "gemma4",
           "--structured-outputs-config", json.dumps({"backend": "guidance"})]
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - t0 > 300:
                pytest.fail(f"vLLM server not healthy after 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url + "/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the API server, its engine core and worker
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_openai_backend_against_a_real_vllm_server(vllm_server, tmp_path, prefect_harness):
    """End to end through the flow; the local processor counts exactly, as the server's usage shows."""
    from model.openai_server import OpenAIBackend

    record = run_batch([str(SAMPLES)], str(tmp_path / "out"),
                       RunOptions(model=f"openai:{vllm_server}#tiny-gemma4", processor=str(ensure_tiny()),
                                  max_context=4096, max_new_tokens=512, image_tokens_min=70, image_tokens_max=280))
    assert record.documents == 3 and record.ok + record.partial == 3, record
    assert record.model_id == "tiny-gemma4"
    cites = pd.read_parquet(tmp_path / "out" / "tables" / "citations")
    assert len(cites) > 0
    backend = OpenAIBackend(f"openai:{vllm_server}", processor=str(ensure_tiny()))
    for budget in (70, 140):
        request = receipt_request(backend, budget, 128, tmp_path)
        (gen,) = backend.generate([request])
        assert gen.finish_reason in ("stop", "length") and gen.prompt_tokens == request.n_tokens, (budget, gen)


def test_vllm_throughput_benchmark_runs_on_cpu():
    out = subprocess.run([sys.executable, "bench/vllm_throughput.py", "--tiny", "--docs", "4", "--naive-pages", "2",
                          "--out-tokens", "8"], cwd=Path(__file__).parents[1], capture_output=True, text=True,
                         timeout=600, env=os.environ)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    (line,) = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    r = dict(kv.split("=", 1) for kv in line.split()[1:])
    assert r["backend"] == "vllm" and float(r["pages_per_s"]) > 0 and set(r) >= {"speedup_vs_naive", "gpu_idle_share"}


def test_engine_that_dies_mid_run_restarts_with_fewer_seqs_and_resends(engine, tmp_path, monkeypatch):
    """The engine's core process killed between two steps (what a GPU out-of-memory does to it): the
    backend starts a new engine at half the max_num_seqs, re-sends the unfinished requests, and every
    answer comes back, marked as re-run. Last in this file: the session's engine is the new one after."""
    import signal as signals

    requests = [receipt_request(engine, 70, 64, tmp_path).model_copy(update={"request_id": f"r{i}"}) for i in range(3)]
    dead_engine = engine.llm.llm_engine
    real_step, steps = dead_engine.step, []

    def step_then_kill():  # a scripted fault: SIGKILL to the engine core after the first step
        steps.append(1)
        if len(steps) == 2:
            for proc in dead_engine.engine_core.resources.engine_manager.processes:
                os.kill(proc.pid, signals.SIGKILL)
                proc.join(10)
        return real_step()

    monkeypatch.setattr(dead_engine, "step", step_then_kill)
    before = engine.max_num_seqs
    gens = engine.generate(requests)
    assert engine.engine_restarts == 1 and engine.max_num_seqs == before // 2 and engine.llm.llm_engine is not dead_engine
    assert [g.request_id for g in gens] == ["r0", "r1", "r2"]
    assert all(g.finish_reason in ("stop", "length") and g.oom_retries == 1 and g.output_tokens for g in gens), gens
    assert not engine._finished and not engine._internal
    (again,) = engine.generate(requests[:1])  # the new engine serves later calls as before
    assert again.finish_reason in ("stop", "length") and again.oom_retries == 0
