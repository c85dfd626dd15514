"""The OpenAI-compatible backend against a scripted server on loopback (tests/openai_double.py): the
request it sends, retries, refusals, timeouts, dropped connections, and an unreachable server.
The same backend against a real vLLM server is in tests/test_vllm.py."""


import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app
from model.backend import ModelUnavailable
from model.openai_server import OpenAIBackend
from schemas.options import RunOptions
from tests.conftest import SAMPLES, free_port
from tests.openai_double import OpenAIDouble, Reply
from tests.test_extract import run


def test_request_carries_images_schema_budget_and_thinking():
    with OpenAIDouble() as server:
        backend = OpenAIBackend(f"openai:{server.url}", concurrency=2, request_retries=0)
        assert backend.model_id == "double"
        results, ex = run([SAMPLES / "contract_and_invoice.pdf", SAMPLES / "scanned_receipt.png"],
                          RunOptions(ocr="off", image_tokens_min=140, image_tokens_max=280, thinking=True),
                          backend=backend)
    assert [r.status for r in results] == ["ok", "ok"] and all(r.extractions for r in results)
    assert any(c.located for r in results for e in r.extractions for c in e.citations)
    body = server.bodies[0]
    parts = body["messages"][1]["content"]
    assert any(p["type"] == "image_url" and p["image_url"]["url"].startswith("data:image/") for p in parts)
    assert body["response_format"]["type"] == "json_schema" and body["response_format"]["json_schema"]["strict"]
    assert all(b["mm_processor_kwargs"]["max_soft_tokens"] in (140, 280) for b in server.bodies)
    assert body["chat_template_kwargs"] == {"enable_thinking": True} and body["temperature"] == 0.0
    assert ex.stats.requests == len(server.bodies)


def test_5xx_and_dropped_connections_are_retried_and_a_refusal_fails_only_its_document():
    with OpenAIDouble() as server:
        backend = OpenAIBackend(f"openai:{server.url}", concurrency=1, request_retries=2)
        server.replies.extend([Reply(status=503), Reply(drop=True)])  # first request: two failures, then an answer
        (first,), _ = run([SAMPLES / "contract_and_invoice.pdf"], RunOptions(ocr="off"), backend=backend)
        assert first.status == "ok" and len(server.bodies) == 3

        server.replies.extend([Reply(status=400, body='{"error": "Unsupported max_soft_tokens value"}')])
        results, _ = run([SAMPLES / "contract_and_invoice.pdf", SAMPLES / "scanned_receipt.png"],
                         RunOptions(ocr="off"), backend=backend)
    refused, fine = results
    assert refused.status == "failed" and fine.status == "ok"
    (err,) = [e for e in refused.errors if e.kind == "generation_failed"]
    assert "refused" in err.message and "400" in err.message and "Unsupported max_soft_tokens" in err.message


def test_a_hung_request_times_out_into_an_error_row_after_its_retries():
    with OpenAIDouble() as server:
        backend = OpenAIBackend(f"openai:{server.url}", concurrency=1, request_retries=1, request_timeout_s=0.5)
        server.replies.extend([Reply(hang_s=2.0), Reply(hang_s=2.0)])
        (result,), _ = run([SAMPLES / "scanned_receipt.png"], RunOptions(ocr="off"), backend=backend)
    assert result.status == "failed"
    (err,) = [e for e in result.errors if e.stage == "model"]
    assert "2 tries failed" in err.message and "Timeout" in err.message


def test_overlapping_calls_share_the_concurrency_and_count_busy_time_once(tiny_backend):
    """Two threads' generate() calls (the flow overlapping chunks) share one pool: never more than
    `concurrency` requests at the server, each call gets its own answers in order, and busy time counts
    the wall time with any request out once."""
    import threading
    import time

    with OpenAIDouble(default_hang_s=0.3) as server:
        backend = OpenAIBackend(f"openai:{server.url}", concurrency=2, request_retries=0)
        reqs = [r.model_copy(update={"request_id": f"r{i}"}) for i, r in enumerate(_two_requests(tiny_backend) * 3)]
        got: dict[str, list] = {}
        t0 = time.monotonic()
        threads = [threading.Thread(target=lambda k, part: got.__setitem__(k, backend.generate(part)), args=(k, part))
                   for k, part in (("a", reqs[:3]), ("b", reqs[3:]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    assert server.most_in_flight == 2 and len(server.bodies) == 6
    assert [g.request_id for g in got["a"]] == ["r0", "r1", "r2"] and [g.request_id for g in got["b"]] == ["r3", "r4", "r5"]
    assert all(g.finish_reason == "stop" and g.text for g in got["a"] + got["b"])
    assert 0.85 <= backend.busy_seconds <= wall  # 6 answers of 0.3 s, 2 at a time: 0.9 s with requests out


def _two_requests(tiny_backend):
    """One request per sample (a scanned receipt, a born-digital PDF), planned by the real planner."""
    import tempfile
    from pathlib import Path

    from pipeline.discover import discover
    from pipeline.ingest import ingest_document
    from pipeline.packing import Planner
    from pipeline.prepare import Prepared
    from schemas.catalog import load_schema

    opts = RunOptions(ocr="off")
    found = discover([SAMPLES / "scanned_receipt.png", SAMPLES / "contract_and_invoice.pdf"])
    items = [Prepared(d, ingest_document(d, opts.ingest, Path(tempfile.mkdtemp())).units) for d in found.documents]
    planner = Planner(tiny_backend, opts.plan, load_schema("receipt"))
    return [planner.build([item], 0, None, 70, f"x{k}", False) for k, item in enumerate(items)]


def test_unreachable_server_exits_3_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelUnavailable, match="cannot be reached"):
        OpenAIBackend(f"openai:{url}", request_retries=0)
    r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model", f"openai:{url}",
                                 "--request-retries", "0"])
    assert r.exit_code == 3, r.output
    assert url in r.output and "GET" in r.output
    with OpenAIDouble(served="gemma") as server:
        with pytest.raises(ModelUnavailable, match="serves gemma, not 'other'"):
            OpenAIBackend(f"openai:{server.url}#other", request_retries=0)


@pytest.mark.slow
def test_cli_run_through_an_openai_server(tmp_path, prefect_harness):
    """`gemmadoc run --model openai:URL` end to end through the Prefect flow: tables with citations."""
    with OpenAIDouble() as server:
        r = CliRunner().invoke(app, ["run", str(SAMPLES), "--out", str(tmp_path / "o"), "--model",
                                     f"openai:{server.url}#double", "--ocr", "off", "--chunk-docs", "1"])
    assert r.exit_code == 0, r.output
    runs = pd.read_parquet(tmp_path / "o" / "tables" / "runs")  # chunks overlapped: idle share from busy time
    assert 0.0 <= runs.loc[0, "gpu_idle_share"] < 1.0
    docs = pd.read_parquet(tmp_path / "o" / "tables" / "documents")
    assert set(docs["status"]) == {"ok"} and set(docs["model_id"]) == {"double"}
    cites = pd.read_parquet(tmp_path / "o" / "tables" / "citations")
    assert len(cites) and cites["match"].isin(["exact", "normalised"]).any()
