"""The batch flow: one Prefect flow run per batch; per chunk of documents one ingest task (documents
ingested in parallel inside, pages batched inside documents), one model task (requests of several
documents share generate() batches) and one atomic write. Tasks only call pipeline/ functions.

Why chunk tasks and not one task per document: a Prefect task costs ~60-100 ms of API-server CPU,
which at 10,000 documents dominated the run (bench/scale.py: 46 ms of orchestration per document with
per-document tasks); per chunk it is a few ms per document. Failures stay per document (error rows)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from flows.prefect_env import configure

configure()

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.states import Failed  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect.utilities.annotations import quote  # noqa: E402

from flows.progress import reporter  # noqa: E402
from model.backend import ModelUnavailable  # noqa: E402
from model.registry import get_backend, model_id_of  # noqa: E402
from pipeline.changes import PriorState, change_rows  # noqa: E402
from pipeline.discover import discover  # noqa: E402
from pipeline.lock import OutputLock, OutputLocked, describe  # noqa: E402
from pipeline.outputs import (  # noqa: E402
    TableWriter,
    done_keys,
    needs_work,
    remove_stale_temps,
    rows_for,
    run_row,
    text_of,
    write_document_json,
)
from pipeline.chunk import ChunkOutcome, crash_record, extract_chunk, failed_outcome, write_copies  # noqa: E402
from pipeline.extract import ChunkStats  # noqa: E402
from pipeline.keys import work_key  # noqa: E402
from pipeline.prepare import Prepared, prepare_chunk  # noqa: E402
from schemas.catalog import load_schema  # noqa: E402
from schemas.options import RunOptions  # noqa: E402
from schemas.records import DocumentResult, ErrorRecord, RunRecord, SourceDocument  # noqa: E402


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_task(docs: list[SourceDocument], options: RunOptions, spool: str) -> list[Prepared]:
    """Ingest one chunk; transient per-document errors are retried inside, with backoff."""
    return prepare_chunk(docs, options.ingest, Path(spool))


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(prepared: list[Prepared], options: RunOptions, keys: dict[str, str]) -> ChunkOutcome:
    """The model stage of one chunk with this process's backend."""
    return extract_chunk(get_backend(options.backend), prepared, options, keys)


@task(name="write", cache_policy=NO_CACHE, retries=1)
def write_task(results: list[DocumentResult], errors: list[ErrorRecord], out: str, run_id: str, stamp: int) -> None:
    """Write a chunk. `stamp` is chosen by the caller once per chunk, so a retry rewrites the same parts."""
    for r in results:
        write_document_json(Path(out), r, run_id)
    TableWriter(Path(out), run_id).append(rows_for(results, run_id, errors), stamp=stamp)


@flow(name="gemmadoc-batch", log_prints=False, validate_parameters=False,
      task_runner=ThreadPoolTaskRunner(max_workers=4))  # a look-ahead ingest, a background write, two overlapping extracts
def batch_flow(inputs: list[str], out: str, options: RunOptions | dict) -> RunRecord:
    """Lock the output folder (one run at a time), then run the batch."""
    options = RunOptions.model_validate(options)  # deployments pass options as a plain dict
    try:
        with OutputLock(Path(out), options.output.wait_lock_s) as lock:
            if lock.previous:
                reporter().note(f"took over the output folder's lock from a run that ended without releasing it "
                                f"({describe(lock.previous)})")
            return _batch(inputs, out, options, _ray_stage(options) if options.cluster.ray else None)
    except (OutputLocked, ModelUnavailable) as e:  # failed states, not raised errors: Prefect logs no traceback,
        return Failed(message=str(e), data=e)          # the caller gets the error
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        return Failed(message=f"disk full writing to {out}: {e.strerror}", data=DiskFull(out, e.strerror))


class DiskFull(Exception):
    """The output folder's file system is full; what was committed before stays intact."""

    def __init__(self, out: str, reason: str):
        super().__init__(f"the disk holding {out} is full ({reason})")
        self.out, self.reason = out, reason


def _batch(inputs: list[str], out: str, options: RunOptions, cluster=None) -> RunRecord:
    """Discover, skip documents already done, then ingest -> extract -> write chunk by chunk, in this
    process or, with `cluster` (flows.ray_stage.RayModelStage), on a Ray cluster's model actors."""
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    out_dir = Path(out)
    writer = TableWriter(out_dir, run_id)
    remove_stale_temps(out_dir)  # we hold the lock: temporary files here are a killed run's
    writer.compact()  # finish what a killed run left
    prior = PriorState.read(out_dir)  # killed runs get a runs row below, and what they committed counts as new
    schema = load_schema(options.schema_name)
    model_id = cluster.model_id if cluster else model_id_of(options.backend)
    out_dir.mkdir(parents=True, exist_ok=True)
    found = discover(inputs, options.ingest.max_file_mb, exclude=[out_dir], follow_symlinks=options.ingest.follow_symlinks,
                     max_video_seconds=options.ingest.max_video_seconds, min_age_s=options.ingest.min_file_age_s,  # an output folder inside an input is not input
                     unpack_into=out_dir / "attachments" if options.ingest.attachments else None, passwords=options.ingest.passwords,
                     unpack_memory_mb=options.ingest.max_page_memory_mb)
    keys = {d.doc_id: work_key(d.doc_id, schema, model_id, options) for d in found.documents}
    done = done_keys(out_dir)
    todo, skipped = [], 0
    for d in found.documents:
        status = done.get(keys[d.doc_id])
        if needs_work(status, options.output):
            todo.append(d)
        else:
            skipped += 1
    rep = reporter()
    rep.start(len(todo))
    if skipped:
        rep.note(f"{skipped} unchanged document(s) skipped (already done; --force to redo)")
    write_task(results=[], errors=found.errors + found.warnings, out=out, run_id=run_id, stamp=time.time_ns())
    counts = {"ok": 0, "partial": 0, "failed": 0}
    pages = frames = values = verified_values = 0
    totals = ChunkStats()
    size = cluster.chunk_size(len(todo)) if cluster else options.chunk_size()
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    base = time.time_ns()  # chunk i's parts carry stamp base + i: a chunk written again replaces its parts
    backend = None if cluster else _loaded_backend(options)  # looked up once: overlap, busy time, weights
    busy_start = getattr(backend, "busy_seconds", None)  # overlapping chunk calls: time inside the engine, once
    writing = None
    try:
        outcomes = (cluster.outcomes(chunks, options, keys, model_id) if cluster
                    else _local_outcomes(chunks, options, keys, model_id, out_dir, getattr(backend, "overlapping_calls", False)))
        for i, outcome in outcomes:
            write_copies(out_dir, outcome)  # before the commit: a committed document has its review images
            if writing is not None:
                writing.result()  # one write in the background at a time; a failed write stops the run as before
            writing = write_task.submit(results=quote(outcome.results), errors=[], out=out, run_id=run_id, stamp=base + i)
            totals.add(outcome.stats)
            for r in outcome.results:
                counts[r.status] = counts.get(r.status, 0) + 1
                values += len(r.extractions)
                verified_values += sum(e.verified for e in r.extractions)
                pages += r.pages
                frames += r.frames
                rep.advance(1, r.pages, r.frames, r.status)
        if writing is not None:
            writing.result()
    finally:
        if writing is not None:
            writing.wait()  # nothing of this run may still write when the lock is released
    seconds = time.perf_counter() - t0
    if busy_start is not None:
        totals.generate_seconds = backend.busy_seconds - busy_start
    run = RunRecord(
        run_id=run_id, started_at=started, finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model_id=model_id, schema_name=schema.name, options=options.model_dump(mode="json"),
        documents=len(found.documents), ok=counts["ok"], partial=counts["partial"], failed=counts["failed"] + len(found.errors),
        skipped=skipped, warnings=len(found.warnings), processed=len(todo), values=values, verified_values=verified_values, pages=pages, frames=frames, seconds=round(seconds, 3),
        requests=totals.requests, tokens_in=totals.tokens_in, tokens_out=totals.tokens_out,
        padding_tokens=totals.padding_tokens, oom_retries=totals.oom_retries, part_requests=totals.part_requests,
        images_per_budget={str(k): v for k, v in totals.images_per_budget.items()},
        context_utilisation=round(totals.context_tokens / (totals.requests * options.plan.max_context), 4) if totals.requests else 0.0,
        pages_per_s=round((pages + frames) / seconds, 3) if seconds else 0.0,
        gpu_idle_share=round(max(0.0, 1 - totals.generate_seconds / (seconds * (cluster.size if cluster else 1))), 4) if seconds else 0.0,
        **(cluster.usage() if cluster else _weights(backend)))
    writer.compact()  # the chunks' parts, so the changes below read one current row set per key
    current = {text_of(d.path): (d.doc_id, keys[d.doc_id]) for d in found.documents}  # as the tables store paths
    writer.append({"runs": [run_row(r) for r in prior.aborted_runs(model_id, schema.name)] + [run_row(run)],
                   "changes": change_rows(out_dir, run_id, prior, current, inputs,
                                          {text_of(w.path) for w in found.warnings if w.kind == "still_writing"})})
    writer.compact()
    writer.ensure_tables()
    return run


def _local_outcomes(chunks: list[list[SourceDocument]], options: RunOptions, keys: dict[str, str], model_id: str,
                    out_dir: Path, overlap: bool) -> Iterator[tuple[int, ChunkOutcome]]:
    """The model stage in this process, chunk by chunk: the next chunk is ingested while this one
    generates, and written while the next generates. A backend that shares its engine between calls
    (vLLM: `overlapping_calls`) gets the next chunk's requests before this chunk's last answers are
    done, so it never drains between chunks; memory stays at three chunks (two in the model, one in ingest)."""
    spool = Path(tempfile.mkdtemp(prefix=f"spool-{os.getpid()}-", dir=_spool_root(out_dir)))

    def ingest_next(i: int):  # quote: Prefect need not walk the records
        return ingest_task.submit(quote(chunks[i]), options, str(spool)) if i < len(chunks) else None

    def finish(i: int, prepared: list[Prepared], chunk_keys: dict[str, str], run) -> tuple[int, ChunkOutcome]:
        try:
            outcome = run()
        except Exception as e:  # noqa: BLE001 - e.g. model load failure: every document records it
            raise_if_unavailable(e)
            outcome = failed_outcome(prepared, chunk_keys, options, model_id, e)
        for p in prepared:  # the chunk's page images are no longer needed
            shutil.rmtree(spool / p.doc.doc_id[:16], ignore_errors=True)
        return i, outcome

    upcoming, extracting = ingest_next(0), []
    try:
        for i, chunk in enumerate(chunks):
            try:
                prepared = upcoming.result()
            except Exception as e:  # noqa: BLE001 - the chunk's documents fail, the batch goes on
                prepared = [Prepared(doc=d, errors=[crash_record(d, "ingest", e)]) for d in chunk]
            upcoming = ingest_next(i + 1)
            chunk_keys = {p.doc.doc_id: keys[p.doc.doc_id] for p in prepared}
            if not overlap:
                yield finish(i, prepared, chunk_keys, lambda: extract_task(quote(prepared), options, chunk_keys))
                continue
            extracting.append((i, prepared, chunk_keys, extract_task.submit(quote(prepared), options, chunk_keys)))
            if len(extracting) > 1:
                j, j_prepared, j_keys, future = extracting.pop(0)
                yield finish(j, j_prepared, j_keys, future.result)
        while extracting:
            j, j_prepared, j_keys, future = extracting.pop(0)
            yield finish(j, j_prepared, j_keys, future.result)
    finally:
        for future in [upcoming] + [entry[3] for entry in extracting]:
            if future is not None:
                future.wait()
        shutil.rmtree(spool, ignore_errors=True)


def _loaded_backend(options: RunOptions):
    """This process's backend, or None when it cannot load (the chunks then record why, or stop the run)."""
    try:
        return get_backend(options.backend)
    except Exception:  # noqa: BLE001
        return None


def _weights(backend) -> dict:
    """The runs table's record of this process's loaded weights: quantization and bytes per part."""
    if backend is None:  # it could not load: the chunks recorded why
        return {}
    return {"quantization": getattr(backend, "quantization", "none"),
            "parameter_bytes": dict(getattr(backend, "parameter_bytes", {}))}


def _ray_stage(options: RunOptions):
    """The Ray model stage for this run (Ray is imported only here, and only with --ray)."""
    from flows.ray_stage import RayModelStage

    return RayModelStage.connect(options)


def _spool_root(out_dir: Path) -> Path:
    """Folder for page images in flight; folders left by killed processes are removed."""
    root = out_dir / ".spool"
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob("spool-*"):
        pid = stale.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def raise_if_unavailable(e: BaseException) -> None:
    """A missing model is not a per-document failure: stop the run with its message."""
    if isinstance(e, ModelUnavailable):
        raise e


def load_model(options: RunOptions):
    """Load (or reuse) the run's backend; `auto` becomes tiny-random when no real weights are present.
    Returns (options, backend). Raises ModelUnavailable."""
    from schemas.options import TINY_MODEL

    backend = get_backend(options.backend)
    if options.backend.model == "auto" and backend.is_random:
        options = options.replace(model=TINY_MODEL)
    return options, backend


def run_batch(inputs: list[str], out: str, options: RunOptions) -> RunRecord:
    """Run the flow in-process (ephemeral Prefect API unless PREFECT_API_URL is set)."""
    return batch_flow(inputs=inputs, out=out, options=options)


def api_health(api_url: str, timeout: float = 3.0) -> bool:
    """Whether a Prefect server answers at `api_url` (e.g. http://127.0.0.1:4200/api)."""
    import httpx

    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def serve_schedule(name: str, inputs: list[str], out: str, options: RunOptions, cron: str | None,
                   interval_s: int | None) -> None:
    """Serve the batch flow as a deployment on a schedule (blocks; SIGTERM pauses it)."""
    schedule = {"cron": cron} if cron else {"interval": interval_s}
    batch_flow.serve(name=name, parameters={"inputs": inputs, "out": out, "options": options.model_dump(mode="json")},
                     print_starting_message=False, **schedule)
