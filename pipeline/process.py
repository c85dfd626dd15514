"""Document-level work the flow wires together: prepare (ingest) one document, then extract a chunk of
prepared documents (plan, generate, parse, ground, merge). No orchestration here."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from model.backend import Backend
from pipeline.errors import StageError
from pipeline.grounding import DocumentGrounder
from pipeline.ingest import ingest_document
from pipeline.packing import DocumentUnits, Planner, make_batches, prompt_room
from pipeline.parse import merge_windows, parse_generation, values_from_extractions
from pipeline.wrap import unwrap
from schemas.catalog import ExtractionSchema, answer_schema
from schemas.options import PIPELINE_VERSION, RunOptions
from schemas.records import (
    DocumentResult,
    ErrorRecord,
    Extraction,
    FrameUnit,
    Generation,
    ImageSegment,
    PageUnit,
    Request,
    SourceDocument,
)

log = logging.getLogger("gemmadoc.pipeline")


def answer_validator(schema: ExtractionSchema):
    """A jsonschema validator for documents' answers: the user's schema with nulls allowed."""
    import jsonschema

    return jsonschema.validators.validator_for(schema.json_schema)(answer_schema(schema.json_schema))


def answer_problem(answer: dict, validator) -> str | None:
    """First way the unwrapped answer breaks the schema of `validator`, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(answer))
    return None if error is None else f"{error.json_path}: {error.message[:160]}"


def work_key(doc_id: str, schema: ExtractionSchema, model_id: str, options: RunOptions) -> str:
    """Identity of one document's result: content, schema, model (and revision), output options, version."""
    parts = [doc_id, schema.digest, model_id, options.revision or "", options.output_key(), PIPELINE_VERSION]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass
class Prepared:
    doc: SourceDocument
    units: list[PageUnit | FrameUnit] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    skipped_frames: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return not self.units


def prepare_document(doc: SourceDocument, options: RunOptions, spool: Path) -> Prepared:
    """Ingest one document. Expected failures become error records; unexpected ones propagate (retried)."""
    t0 = time.perf_counter()
    try:
        res = ingest_document(doc, options, spool)
    except StageError as e:
        return Prepared(doc=doc, errors=[e.record(doc.path, doc.doc_id)], seconds=time.perf_counter() - t0)
    return Prepared(doc=doc, units=res.units, errors=res.errors, skipped_frames=res.skipped_frames,
                    seconds=time.perf_counter() - t0)


def prepare_chunk(docs: list[SourceDocument], options: RunOptions, spool: Path) -> list[Prepared]:
    """Ingest documents in parallel (options.max_workers threads; rendering and OCR release the GIL).
    Unexpected errors are transient: retried with backoff, then recorded; StageErrors are not retried."""
    from concurrent.futures import ThreadPoolExecutor

    def one(doc: SourceDocument) -> Prepared:
        delays = [1.0, 5.0, 15.0][: options.retries]
        for attempt in range(len(delays) + 1):
            try:
                return prepare_document(doc, options, spool)
            except Exception as e:  # noqa: BLE001 - anything unexpected: retry, then record
                if attempt == len(delays):
                    return Prepared(doc=doc, errors=[ErrorRecord(
                        doc_id=doc.doc_id, path=doc.path, stage="ingest", kind="internal_error",
                        message=f"{type(e).__name__}: {e} (after {attempt + 1} attempts)", permanent=False)])
                log.warning("ingest of %s failed (%s); retrying in %.0f s", doc.name, e, delays[attempt])
                time.sleep(delays[attempt])
        raise AssertionError("unreachable")

    if options.max_workers == 1 or len(docs) == 1:
        return [one(d) for d in docs]
    with ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="ingest") as pool:
        return list(pool.map(one, docs))


@dataclass
class ChunkStats:
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    padding_tokens: int = 0
    context_tokens: int = 0  # sum of request lengths, for context utilisation
    images_per_budget: Counter = field(default_factory=Counter)
    oom_retries: int = 0


class Extractor:
    """Runs the model stage for chunks of prepared documents with one loaded backend."""

    def __init__(self, backend: Backend, options: RunOptions, schema: ExtractionSchema):
        self.backend = backend
        self.options = options
        self.schema = schema
        self.planner = Planner(backend, options, schema.json_schema, schema.name)
        self.validator = answer_validator(schema)
        self.stats = ChunkStats()

    def run(self, prepared: list[Prepared], keys: dict[str, str]) -> list[DocumentResult]:
        items = [DocumentUnits(p.doc, p.units) for p in prepared if not p.failed]
        by_doc: dict[str, list[tuple[Request, Generation | None, ErrorRecord | None]]] = {p.doc.doc_id: [] for p in prepared}
        if items:
            try:
                requests = self.planner.plan_collection(items) if self.options.collection else self.planner.plan(items)
            except Exception as e:  # noqa: BLE001 - planning failures are per chunk; record on every document
                requests = []
                for it in items:
                    by_doc[it.doc.doc_id].append((None, None, ErrorRecord(
                        doc_id=it.doc.doc_id, path=it.doc.path, stage="plan", kind="plan_failed", message=f"{type(e).__name__}: {e}")))
            room = prompt_room(self.options)
            fitting = []
            for r in requests:
                if r.n_tokens > room:
                    for d in r.doc_ids:
                        by_doc[d].append((r, None, ErrorRecord(
                            doc_id=d, path=self._path(prepared, d), stage="plan", kind="context_overflow",
                            message=f"one unit needs {r.n_tokens} tokens, above the {room} left for the prompt in --max-context "
                                    f"{self.options.max_context}; raise --max-context or lower --image-tokens")))
                else:
                    fitting.append(r)
            for r, gen, err in self._generate(fitting):
                for d in r.doc_ids:
                    by_doc[d].append((r, gen, err if err is None else err.model_copy(update={"doc_id": d, "path": self._path(prepared, d)})))
        return [self._finalize(p, by_doc[p.doc.doc_id], keys[p.doc.doc_id], prepared) for p in prepared]

    @staticmethod
    def _path(prepared: list[Prepared], doc_id: str) -> str:
        return next(p.doc.path for p in prepared if p.doc.doc_id == doc_id)

    def _generate(self, requests: list[Request]):
        """Generate in length-sorted, token-bounded batches, each within --generate-timeout; a truncated
        answer is retried once with a doubled token allowance, a failed batch becomes error records for
        its documents."""
        out = []
        limit = self.options.generate_timeout_s
        for batch in make_batches(requests, self.options.batch_tokens):
            try:
                gens = self.backend.generate(batch, max_seconds=limit)
            except Exception as e:  # noqa: BLE001 - the rest of the run goes on
                log.exception("generation failed for a batch of %d", len(batch))
                for r in batch:
                    out.append((r, None, ErrorRecord(path="", stage="model", kind="generation_failed",
                                                     message=f"{type(e).__name__}: {e}", permanent=False)))
                continue
            retry = [r.model_copy(update={"max_new_tokens": min(r.max_new_tokens * 2, self.options.max_context - r.n_tokens)})
                     for r, g in zip(batch, gens) if g.finish_reason == "length"]
            try:
                retried = {g.request_id: g for g in (self.backend.generate(retry, max_seconds=limit) if retry else [])}
            except Exception:  # noqa: BLE001 - the truncated first answers stand and become error records
                log.exception("retrying %d truncated answers failed", len(retry))
                retried = {}
            for r, g in zip(batch, gens):
                self._count(r, g)
                g2 = retried.get(r.request_id)
                if g2 is not None:
                    self._count(r, g2, again=True)
                    g = g2
                out.append((r, g, None))
        return out

    def _count(self, r: Request, g: Generation, again: bool = False) -> None:
        s = self.stats
        s.requests += 1
        s.tokens_in += g.prompt_tokens
        s.tokens_out += g.output_tokens
        s.padding_tokens += g.padding_tokens
        s.context_tokens += r.n_tokens
        s.oom_retries += g.oom_retries
        if not again:
            for seg in r.segments:
                if isinstance(seg, ImageSegment):
                    s.images_per_budget[str(seg.budget)] += 1

    def _finalize(self, p: Prepared, outputs, key: str, prepared: list[Prepared]) -> DocumentResult:
        doc = p.doc
        errors = list(p.errors)
        result = DocumentResult(
            doc_id=doc.doc_id, path=doc.path, name=doc.name, media_type=doc.media_type, status="failed", work_key=key,
            schema_name=self.schema.name, model_id=self.backend.model_id,
            pages=sum(1 for u in p.units if isinstance(u, PageUnit)), frames=sum(1 for u in p.units if isinstance(u, FrameUnit)),
            frames_ocr_reused=sum(1 for u in p.units if isinstance(u, FrameUnit) and u.ocr_reused),
            text_sources=dict(Counter(u.text_source for u in p.units)), seconds=p.seconds)
        if p.failed:
            result.errors = errors
            return result
        units_by_doc = {q.doc.doc_id: q.units for q in prepared}
        grounders: dict[str, DocumentGrounder] = {}
        windows: list[list[Extraction]] = []
        budgets: Counter = Counter()
        for request, gen, err in outputs:
            if request is not None:
                for seg in request.segments:
                    if isinstance(seg, ImageSegment):
                        budgets[str(seg.budget)] += 1
            if err is not None:
                errors.append(err)
                continue
            result.requests += 1
            result.tokens_in += gen.prompt_tokens
            result.tokens_out += gen.output_tokens
            result.padding_tokens += gen.padding_tokens
            try:
                answer = parse_generation(gen)
            except StageError as e:
                errors.append(e.record(doc.path, doc.doc_id))
                continue
            names = dict(zip(request.doc_labels, request.doc_ids))  # as this request's prompt named them
            _, leaves = unwrap(answer, self.schema.json_schema, names, doc.doc_id)
            rows = []
            for leaf in leaves:
                cites = []
                for claim in leaf.citations:
                    if claim.doc_id != doc.doc_id and len(request.doc_ids) > 1:
                        continue  # in a collection, each document keeps the citations that name it
                    g = grounders.get(claim.doc_id)
                    if g is None:
                        g = grounders[claim.doc_id] = DocumentGrounder(units_by_doc[claim.doc_id])
                    cites.append(g.ground(claim, value=leaf.value))
                if cites or len(request.doc_ids) == 1:
                    rows.append(Extraction(doc_id=doc.doc_id, field=leaf.path, value=leaf.value, citations=cites))
            windows.append(rows)
        result.images_per_budget = dict(budgets)
        if windows:
            result.extractions = merge_windows(windows)
            result.answer = values_from_extractions(self.schema.json_schema, result.extractions)
            problem = answer_problem(result.answer, self.validator)
            if problem:
                errors.append(ErrorRecord(doc_id=doc.doc_id, path=doc.path, stage="parse", kind="schema_violation",
                                          message=f"answer does not satisfy the schema: {problem}", severity="warning"))
        hard = [e for e in errors if e.severity == "error"]
        result.errors = errors
        result.status = "failed" if not windows else ("partial" if hard else "ok")
        return result
