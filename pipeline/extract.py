"""The model stage for a chunk of prepared documents: plan requests, generate, then finalize each
document (collect its answers, ground every citation, merge windows, validate, set the status)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from model.backend import Backend
from pipeline.errors import StageError
from pipeline.grounding import DocumentGrounder
from pipeline.longanswers import answer_in_parts
from pipeline.packing import Planner, make_batches, prompt_room
from pipeline.parts import Part, band_unit
from pipeline.parse import merge_windows, parse_generation, values_from_extractions
from pipeline.prepare import Prepared
from pipeline.salvage import salvaged
from pipeline.validate import answer_problem, answer_validator
from pipeline.wrap import unwrap
from schemas.catalog import ExtractionSchema
from schemas.options import GroundingOptions, PlanOptions
from schemas.shape import Shape
from schemas.records import (
    DocumentResult,
    ErrorRecord,
    Extraction,
    FrameUnit,
    Generation,
    ImageSegment,
    PageUnit,
    Request,
    Status,
)

log = logging.getLogger("gemmadoc.pipeline")


@dataclass
class Usage:
    """What a document's requests cost."""

    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    padding_tokens: int = 0
    images_per_budget: Counter = field(default_factory=Counter)

    def totals(self) -> tuple[int, int, int, int]:
        return self.requests, self.tokens_in, self.tokens_out, self.padding_tokens


@dataclass
class ChunkStats(Usage):
    """What a chunk's requests cost, for the runs table."""

    context_tokens: int = 0  # sum of request lengths, for context utilisation
    oom_retries: int = 0
    generate_seconds: float = 0.0  # wall time with a generate call in flight (for the runs' idle share)
    part_requests: int = 0  # requests asking again for answers too long for one: in parts, or for longer values (pipeline/longanswers.py)

    def add(self, other: "ChunkStats") -> None:
        """Add another chunk's figures to these (run totals)."""
        for name in ("requests", "tokens_in", "tokens_out", "padding_tokens", "context_tokens", "oom_retries",
                     "generate_seconds", "part_requests"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.images_per_budget.update(other.images_per_budget)


class Extractor:
    """Runs the model stage for chunks of prepared documents with one loaded backend."""

    def __init__(self, backend: Backend, options: PlanOptions, schema: ExtractionSchema,
                 grounding: GroundingOptions = GroundingOptions()):
        self.backend = backend
        self.options = options
        self.grounding = grounding
        self.schema = schema
        self.planner = Planner(backend, options, schema)
        self.validator = answer_validator(schema)
        self.stats = ChunkStats()

    def run(self, prepared: list[Prepared], keys: dict[str, str]) -> list[DocumentResult]:
        items = [p for p in prepared if not p.failed]
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
            real = not self.backend.is_random

            def generate(batch: list[Request]):  # a single document's answer cut off in a list is asked on, not again
                return self._generate(batch, keep_cut=lambda r, g: real and len(r.doc_ids) == 1 and salvaged(g.text) is not None)

            asked = answer_in_parts(generate(fitting), self._roots(fitting, items), self.planner, generate, real=real)
            self.stats.part_requests += asked.parts
            for r, gen, err in asked.outputs:
                for d in r.doc_ids:
                    by_doc[d].append((r, gen, err if err is None else err.model_copy(update={"doc_id": d, "path": self._path(prepared, d)})))
            for d, kind, message in asked.warnings:
                by_doc[d].append((None, None, ErrorRecord(doc_id=d, path=self._path(prepared, d), stage="model",
                                                          kind=kind, message=message, severity="warning")))
        units_by_doc = {p.doc.doc_id: p.units for p in prepared}
        return [self._finalize(p, by_doc[p.doc.doc_id], keys[p.doc.doc_id], units_by_doc) for p in prepared]

    @staticmethod
    def _roots(requests: list[Request], items: list[Prepared]) -> dict[str, Part]:
        """The part of its document each single-document request asks (its window, or the whole)."""
        by_id = {p.doc.doc_id: p for p in items}
        roots = {}
        for r in requests:
            if len(r.doc_ids) == 1 and r.doc_ids[0] in by_id:
                item = by_id[r.doc_ids[0]]
                start, end = (r.window[0], r.window[1] + 1) if r.window else (0, len(item.units))
                roots[r.request_id] = Part(item=item, start=start, end=end)
        return roots

    @staticmethod
    def _path(prepared: list[Prepared], doc_id: str) -> str:
        return next(p.doc.path for p in prepared if p.doc.doc_id == doc_id)

    def _timed_generate(self, batch: list[Request], limit: float) -> list[Generation]:
        """backend.generate, its wall time added to the chunk's generate seconds (failed calls too)."""
        t0 = time.perf_counter()
        try:
            return self.backend.generate(batch, max_seconds=limit)
        finally:
            self.stats.generate_seconds += time.perf_counter() - t0

    def _generate(self, requests: list[Request], keep_cut: Callable[[Request, Generation], bool] | None = None):
        """Generate in length-sorted, token-bounded batches, each within --generate-timeout; a truncated
        answer is retried once with a doubled token allowance (unless `keep_cut` says it is asked on from
        what it holds), a failed batch becomes error records for its documents."""
        out = []
        limit = self.options.generate_timeout_s
        engine_batches = getattr(self.backend, "continuous_batching", False)  # vLLM, servers: schedule themselves
        for batch in [requests] if engine_batches else make_batches(requests, self.options.batch_tokens):
            try:
                gens = self._timed_generate(batch, limit)
            except Exception as e:  # noqa: BLE001 - the rest of the run goes on
                log.exception("generation failed for a batch of %d", len(batch))
                for r in batch:
                    out.append((r, None, ErrorRecord(path="", stage="model", kind="generation_failed",
                                                     message=f"{type(e).__name__}: {e}", permanent=False)))
                continue
            retry = [r.model_copy(update={"max_new_tokens": min(r.max_new_tokens * 2, self.options.max_context - r.n_tokens)})
                     for r, g in zip(batch, gens) if g.finish_reason == "length" and not (keep_cut and keep_cut(r, g))]
            try:
                retried = {g.request_id: g for g in (self._timed_generate(retry, limit) if retry else [])}
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

    def _finalize(self, p: Prepared, outputs, key: str, units_by_doc: dict) -> DocumentResult:
        """One document's result from its requests' outputs, in named steps."""
        result = new_result(p, key, self.schema.name, self.backend.model_id)
        if p.failed:
            result.errors = list(p.errors)
            return result
        answers, errors, usage = collect_answers(p, outputs)
        result.requests, result.tokens_in, result.tokens_out, result.padding_tokens = usage.totals()
        result.images_per_budget = dict(usage.images_per_budget)
        grounders: dict[str, DocumentGrounder] = {}
        windows = [ground_answer(a, p.doc.doc_id, self.schema.shape, units_by_doc, grounders, self.grounding) for a in answers]
        if windows:
            result.extractions, result.answer, problem = merge_and_validate(windows, self.schema.shape, self.validator)
            if problem:
                if len(windows) > 1:
                    problem += f"; merged from {len(windows)} windows of the document, every window's values kept"
                errors.append(ErrorRecord(doc_id=p.doc.doc_id, path=p.doc.path, stage="parse", kind="schema_violation",
                                          message=f"answer does not satisfy the schema: {problem}", severity="warning"))
        result.errors = errors
        result.status = document_status(bool(windows), errors)
        return result


@dataclass
class Answered:
    """A request and the JSON answer parsed from its generation."""

    request: Request
    answer: dict


def new_result(p: Prepared, key: str, schema_name: str, model_id: str) -> DocumentResult:
    """The document's result before the model stage: identity, unit counts, ingest time; status failed."""
    doc = p.doc
    return DocumentResult(
        doc_id=doc.doc_id, path=doc.path, name=doc.name, attached_to=doc.attached_to, media_type=doc.media_type, status="failed", work_key=key,
        schema_name=schema_name, model_id=model_id,
        pages=sum(1 for u in p.units if isinstance(u, PageUnit)), frames=sum(1 for u in p.units if isinstance(u, FrameUnit)),
        frames_ocr_reused=sum(1 for u in p.units if isinstance(u, FrameUnit) and u.ocr_reused),
        text_sources=dict(Counter(u.text_source for u in p.units)), seconds=p.seconds)


def collect_answers(p: Prepared, outputs: list[tuple[Request | None, Generation | None, ErrorRecord | None]]
                    ) -> tuple[list[Answered], list[ErrorRecord], Usage]:
    """The parsed answers of a document's requests, the errors so far (ingest, generation, parsing), and usage."""
    errors = list(p.errors)
    answers: list[Answered] = []
    usage = Usage()
    for request, gen, err in outputs:
        if request is not None:
            usage.images_per_budget.update(str(s.budget) for s in request.segments if isinstance(s, ImageSegment))
        if err is not None:
            errors.append(err)
            continue
        usage.requests += 1
        usage.tokens_in += gen.prompt_tokens
        usage.tokens_out += gen.output_tokens
        usage.padding_tokens += gen.padding_tokens
        try:
            answers.append(Answered(request, parse_generation(gen)))
        except StageError as e:
            errors.append(e.record(p.doc.path, p.doc.doc_id))
    return answers, errors, usage


def ground_answer(a: Answered, doc_id: str, shape: Shape, units_by_doc: dict, grounders: dict,
                  options: GroundingOptions = GroundingOptions()) -> list[Extraction]:
    """The answer's values for `doc_id`, each citation located on its document's units. In a collection
    each document keeps the citations that name it (by the labels this request's prompt used)."""
    names = dict(zip(a.request.doc_labels, a.request.doc_ids))
    leaves = unwrap(a.answer, shape, names, doc_id)
    collection = len(a.request.doc_ids) > 1
    band = _band_grounder(a.request, units_by_doc[doc_id]) if a.request.band else None
    rows = []
    for leaf in leaves:
        cites = []
        for claim in leaf.citations:
            if claim.doc_id != doc_id and collection:
                continue
            g = grounders.get(claim.doc_id)
            if g is None:
                g = grounders[claim.doc_id] = DocumentGrounder(units_by_doc[claim.doc_id], options.relocate, options.frame_slack_s)
            found = band.ground_all(claim, value=leaf.value) if band is not None else []
            if not any(c.located for c in found):  # a band's quote is looked for in the band first (a table's "0")
                found = g.ground_all(claim, value=leaf.value)  # a quote across a page break: one per page
            cites.extend(found)
        if cites or not collection:
            rows.append(Extraction(doc_id=doc_id, field=leaf.path, value=leaf.value, citations=cites))
    return rows


def _band_grounder(request: Request, units: list) -> DocumentGrounder | None:
    """A grounder over the words of the band of a page that `request` shows (pipeline/parts.py)."""
    unit = next((u for u in units if u.label == request.unit_labels[0]), None)
    return None if unit is None else DocumentGrounder([band_unit(unit, request.band)], relocate=False)


def merge_and_validate(windows: list[list[Extraction]], shape: Shape, validator) -> tuple[list[Extraction], dict, str | None]:
    """One row per field across windows, the answer in the user's shape, and how it breaks the schema."""
    extractions = merge_windows(windows)
    answer = values_from_extractions(shape, extractions)
    return extractions, answer, answer_problem(answer, validator)


def document_status(answered: bool, errors: list[ErrorRecord]) -> Status:
    """failed without any answer; partial when an error (not a warning) was recorded; else ok."""
    if not answered:
        return "failed"
    return "partial" if any(e.severity == "error" for e in errors) else "ok"
