"""The real flow on a 3-node Ray cluster on this machine (`ray.cluster_utils.Cluster`, one simulated GPU
per node): the tables equal those of an in-process run of the same inputs, the detached models are
reused by the next run, and a node removed mid-run still leaves every document exactly once."""

from __future__ import annotations

import shutil
import threading
import time

import pandas as pd
import pytest

from tests import ray_env  # noqa: F401 - before Ray starts
from tests.conftest import CORPUS, SAMPLES, needs_corpus

ray = pytest.importorskip("ray")

from flows.batch import run_batch  # noqa: E402
from flows.ray_stage import list_models, stop_models  # noqa: E402
from schemas.options import RunOptions  # noqa: E402

pytestmark = [pytest.mark.slow, needs_corpus()]

NODE = dict(num_cpus=1, num_gpus=1, object_store_memory=ray_env.STORE)
CORPUS_SLICE = ["docs/invoice2data_coolblue1.pdf", "docs/docling_2305.03393v1-pg9.pdf", "docs/funsd_0000971160.png",
                "docs/sample-files_google-doc-document.pdf", "docs/icdar2013_us-003.pdf"]
VOLATILE = {"run_id", "seconds"}  # differ between any two runs


@pytest.fixture(scope="module")
def cluster3():
    """Head + 2 worker nodes, one GPU slot each; everything stopped at the end, no Ray process left."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args=dict(NODE, include_dashboard=False))
    for _ in range(2):
        c.add_node(**NODE)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    stop_models(c.address)
    ray.shutdown()
    c.shutdown()
    assert not ray_env.wait_no_ray_processes(30), "Ray processes left behind"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in")
    for p in SAMPLES.iterdir():
        shutil.copy(p, folder / p.name)
    for rel in CORPUS_SLICE:
        shutil.copy(CORPUS / rel, folder / rel.split("/")[-1])
    return folder


def _tables(out) -> dict[str, pd.DataFrame]:
    """The result tables without the columns that differ between runs, in a stable row order."""
    tables = {}
    for name in ("documents", "extractions", "citations", "errors"):
        df = pd.read_parquet(out / "tables" / name)
        df = df.drop(columns=[c for c in df.columns if c in VOLATILE])
        tables[name] = df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)
    return tables


def _assert_same_tables(a, b) -> None:
    ta, tb = _tables(a), _tables(b)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_dtype=False, obj=name)
    assert sorted(p.name for p in (a / "pages").rglob("*.jpg")) == sorted(p.name for p in (b / "pages").rglob("*.jpg"))


def test_three_nodes_give_the_tables_of_an_in_process_run(cluster3, inputs, tmp_path, prefect_harness):
    t0 = time.perf_counter()
    local = run_batch([str(inputs)], str(tmp_path / "local"), RunOptions(model="scripted:"))
    t1 = time.perf_counter()
    options = RunOptions(model="scripted:", ray=cluster3.address)
    record = run_batch([str(inputs)], str(tmp_path / "ray"), options)
    print(f"in-process {t1 - t0:.1f}s, on 3 nodes {time.perf_counter() - t1:.1f}s")
    assert record.documents == local.documents == 8 and record.ok == local.ok
    _assert_same_tables(tmp_path / "local", tmp_path / "ray")
    assert len(record.workers) == 3 and sum(w.chunks for w in record.workers) >= 4  # one model per node
    assert sorted(len(w.gpus) for w in record.workers) == [1, 1, 1]

    loaded = {m.name: (m.pid, m.loaded_at) for m in list_models(cluster3.address)}
    again = run_batch([str(inputs)], str(tmp_path / "ray"), options.replace(force=True))  # the next night
    assert again.processed == 8 and {m.name: (m.pid, m.loaded_at) for m in list_models(cluster3.address)} == loaded
    docs = pd.read_parquet(tmp_path / "ray" / "tables" / "documents")
    assert len(docs) == 8 and docs["work_key"].is_unique


def _synthetic(folder, n: int) -> None:
    import pymupdf

    for i in range(n):
        doc = pymupdf.open()
        page = doc.new_page(width=300, height=200)
        page.insert_text((20, 40), f"Invoice INV-{i:04d}")
        page.insert_text((20, 70), f"Total due EUR {i}.00")
        doc.save(folder / f"synthetic-{i:03d}.pdf")


def test_a_node_removed_mid_run_still_gives_every_document_once(cluster3, inputs, tmp_path, prefect_harness):
    stop_models(cluster3.address)  # this test's models have other settings (a delay): free the GPUs for them
    deadline = time.monotonic() + 20
    while ray.available_resources().get("GPU", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    folder = tmp_path / "in"
    shutil.copytree(inputs, folder)
    _synthetic(folder, 16)
    out = tmp_path / "ray"
    removed = threading.Event()

    def remove_a_node_after_the_first_commit():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((out / "tables" / "documents").glob("part-*")):
            time.sleep(0.05)
        cluster3.remove_node(cluster3.list_all_nodes()[-1], allow_graceful=False)
        removed.set()

    killer = threading.Thread(target=remove_a_node_after_the_first_commit, daemon=True)
    killer.start()
    record = run_batch([str(folder)], str(out), RunOptions(model="scripted:delay=0.25", ray=cluster3.address))
    killer.join(timeout=5)
    assert removed.is_set() and record.processed == 24
    print(f"node removed mid-run: {record.chunk_retries} chunk(s) sent again; actors {[(w.name[-1], w.chunks, w.lost_chunks) for w in record.workers]}")
    local = run_batch([str(folder)], str(tmp_path / "local"), RunOptions(model="scripted:"))
    assert local.ok == record.ok
    _assert_same_tables(tmp_path / "local", out)  # every document once, no duplicate rows
