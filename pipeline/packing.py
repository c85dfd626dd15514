"""Token-budget planner: fit whole documents (or windows of them) into the context, choose image
budgets from the pages' print size (pipeline/legibility.py) and the room left, and group requests into
length-sorted batches.

Per-unit costs are summed to plan; every request is then counted exactly by the backend's processor and
shrunk (lower budget, then a shorter window) until it fits, so no request ever exceeds --max-context."""

from __future__ import annotations

from typing import Sequence

from model.backend import Backend
from model.prompts import request_budget
from pipeline.batching import group_by_length
from pipeline.legibility import unit_budget
from pipeline.parts import Part, asking
from pipeline.prepare import Prepared
from pipeline.prompt import control_pattern, document_header, system_prompt, unit_segments
from pipeline.wrap import CitationTargets, wrap_schema
from schemas.catalog import ExtractionSchema
from schemas.options import PlanOptions
from schemas.shape import Shape, described_schema
from schemas.records import FrameUnit, PageUnit, Request, SourceDocument, format_timestamp

Unit = PageUnit | FrameUnit
THINK_RESERVE = 520  # thought budget plus the end-of-thought marker


def prompt_room(options: PlanOptions) -> int:
    """Tokens available for the prompt: the context minus the answer (and thought) reserve."""
    return options.max_context - options.max_new_tokens - (THINK_RESERVE if options.thinking else 0)


class Planner:
    def __init__(self, backend: Backend, options: PlanOptions, schema: ExtractionSchema):
        self.backend = backend
        self.options = options
        self.schema = described_schema(schema.shape)  # refs, unions and keyed objects as the grammar reads them
        self.shape = schema.shape
        self.schema_name = schema.name
        self.room = prompt_room(options)
        self.control = control_pattern(backend.control_tokens())  # the tokenizer's own tokens
        self._fixed: dict[tuple[bool, bool], int] = {}
        self._asked: dict[tuple[str, ...] | None, tuple[Shape, dict]] = {}  # fields a part asks -> (shape, schema)

    # ------------------------------------------------------------------ costs
    def fixed_cost(self, video: bool, collection: bool) -> int:
        key = (video, collection)
        if key not in self._fixed:
            self._fixed[key] = self.backend.text_tokens(system_prompt(self.schema, self.schema_name, video, collection)) + 24
        return self._fixed[key]

    def unit_cost(self, unit: Unit, budget: int) -> int:
        n = 0
        for seg in unit_segments(unit, budget, self.options.include_text_layer, self.control):
            if seg.kind == "text":
                n += self.backend.text_tokens(seg.text) + 2
            else:
                n += self.backend.image_tokens(seg.width, seg.height, budget) + 8
        return n

    # ------------------------------------------------------------------ planning
    def plan(self, items: Sequence[Prepared]) -> list[Request]:
        """Requests for documents, each document alone (split into windows when too long)."""
        requests: list[Request] = []
        for item in items:
            if item.units:
                requests.extend(self.plan_document(item))
        return requests

    def plan_document(self, item: Prepared) -> list[Request]:
        units = item.units
        video = isinstance(units[0], FrameUnit)
        fixed = self.fixed_cost(video, False) + self.backend.text_tokens(f"Document: {item.doc.name}") + 2
        floor = self.options.budgets()[0]
        wants = [unit_budget(u, self.options.budgets()) for u in units]
        costs: dict[tuple[int, int], int] = {}

        def cost(j: int, budget: int) -> int:
            if (j, budget) not in costs:
                costs[j, budget] = self.unit_cost(units[j], budget)
            return costs[j, budget]

        # A document that must be split is cut into windows sized at the budget their densest page asks
        # for (one budget per request), so its pages keep the detail they need instead of all dropping to
        # the floor; one that fits whole at the floor stays whole.
        windows: list[tuple[int, int]] = []
        start = 0 if fixed + sum(cost(j, floor) for j in range(len(units))) > self.room else len(units)
        if start:
            windows.append((0, len(units)))  # the whole document fits: one request, at the best budget that fits
        while start < len(units):
            used, budget, end = fixed, floor, start
            while end < len(units):
                b = max(budget, wants[end])
                grown = fixed + sum(cost(j, b) for j in range(start, end + 1)) if b != budget else used + cost(end, b)
                if grown > self.room:
                    break
                used, budget, end = grown, b, end + 1
            if end == start:
                end = start + 1  # a single unit that does not fit is tried anyway and shrunk below
            windows.append((start, end))
            if end >= len(units):
                break
            start = max(end - self.options.window_overlap, start + 1)
        split = len(windows) > 1
        out = []
        for k, (s, e) in enumerate(windows):
            out.extend(self._fit([item], s, e, f"{item.doc.doc_id[:12]}-w{k}" if split else item.doc.doc_id[:12], split))
        return out

    def plan_collection(self, items: Sequence[Prepared]) -> list[Request]:
        """Several documents in one request (cross-document schemas); falls back to one per document
        when the collection does not fit."""
        items = [i for i in items if i.units]
        if not items:
            return []
        video = any(isinstance(i.units[0], FrameUnit) for i in items)
        floor = self.options.budgets()[0]
        total = self.fixed_cost(video, True) + sum(
            self.backend.text_tokens(f"Document: {i.doc.name}") + sum(self.unit_cost(u, floor) for u in i.units) for i in items)
        if total > self.room:
            return self.plan(items)
        return self._fit(list(items), 0, None, "coll-" + items[0].doc.doc_id[:8], False)

    def part_request(self, part: Part, rid: str) -> Request:
        """The request for one part of an answer asked again (pipeline/longanswers.py): its units (or band),
        asking for its fields only (with longer strings where it says so), at the densest budget they want
        that fits."""
        if part.fields not in self._asked:
            shape = asking(self.shape, part.fields)
            self._asked[part.fields] = (shape, described_schema(shape))
        item = Prepared(doc=part.item.doc, units=part.units())
        (request,) = self._fit([item], 0, None, rid, True, self._asked[part.fields], part.longer)
        request.band = part.band
        return request

    def _fit(self, items: list[Prepared], start: int, end: int | None, rid: str, split: bool,
             asked: tuple[Shape, dict] | None = None, longer: bool = False) -> list[Request]:
        """Build a request at the densest wanted budget, lowering it until the exact count fits."""
        units = [u for i in items for u in i.units[start:end]]
        want = max(unit_budget(u, self.options.budgets()) for u in units)
        budgets = [b for b in self.options.budgets() if b <= want]
        for budget in reversed(budgets):
            request = self.build(items, start, end, budget, rid, split, asked, longer)
            if request.n_tokens <= self.room:
                return [request]
        if end is not None and end - start > 1:  # even the floor budget is too long: halve the window
            mid = (start + end) // 2
            return (self._fit(items, start, mid, rid + "a", True, asked, longer)
                    + self._fit(items, mid, end, rid + "b", True, asked, longer))
        request = self.build(items, start, end, budgets[0], rid, split, asked, longer)
        return [request]  # a single unit above the context: the caller records a context error

    def build(self, items: list[Prepared], start: int, end: int | None, budget: int, rid: str, split: bool,
              asked: tuple[Shape, dict] | None = None, longer: bool = False) -> Request:
        """One request for units `start:end` of `items` at `budget`, asking for `asked` (a part of the
        schema and its described form; the whole schema when None), with `longer` strings or not."""
        shape, schema = asked or (self.shape, self.schema)
        collection = len(items) > 1
        segments = []
        labels: list[str] = []
        pages: set[int] = set()
        stamps: list[str] = []
        video = False
        names = document_labels([i.doc for i in items]) if collection else [items[0].doc.name]
        for item, name in zip(items, names):
            units = item.units[start:end]
            segments.append(document_header(name, self.control))
            for u in units:
                segments.extend(unit_segments(u, budget, self.options.include_text_layer, self.control))
                labels.append(u.label)
                if isinstance(u, FrameUnit):
                    video = True
                    stamps.append(format_timestamp(u.t_seconds))
                else:
                    pages.add(u.page)
        targets = CitationTargets(pages=tuple(sorted(pages)), timestamps=tuple(dict.fromkeys(stamps)) if video else (),
                                  docs=tuple(names) if collection else ())
        request = Request(
            request_id=rid, doc_ids=[i.doc.doc_id for i in items], doc_labels=names,
            system=system_prompt(schema, self.schema_name, video, collection), segments=segments,
            unit_labels=labels, response_schema=wrap_schema(shape, targets, longer), thinking=self.options.thinking,
            max_new_tokens=self.options.max_new_tokens,
            window=(start, (end if end is not None else len(items[0].units)) - 1) if split else None)
        request.n_tokens = self.backend.count_tokens(request)
        return request


def document_labels(docs: Sequence[SourceDocument]) -> list[str]:
    """One distinct label per document of a collection, as the prompt shows it and citations name it:
    the file name, lengthened by parent folders where names repeat (`a/invoice.pdf`, `b/invoice.pdf`),
    and numbered when even the paths are equal."""
    parts = [d.path.replace("\\", "/").split("/") for d in docs]
    labels = [d.name for d in docs]
    depth = 1
    while len(set(labels)) < len(labels) and depth < max(len(p) for p in parts):
        depth += 1
        counts = {label: labels.count(label) for label in labels}
        labels = ["/".join(p[-depth:]) if counts[label] > 1 else label for p, label in zip(parts, labels)]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels


def make_batches(requests: list[Request], batch_tokens: int) -> list[list[Request]]:
    """Batches of one image budget each (image patches are padded to the largest budget of a batch),
    length-sorted, whose padded size (rows x longest prompt+answer) stays within batch_tokens."""
    by_budget: dict[int, list[Request]] = {}
    for r in requests:
        by_budget.setdefault(request_budget(r), []).append(r)
    return [batch for _, group in sorted(by_budget.items())
            for batch in group_by_length(group, lambda r: r.n_tokens + r.max_new_tokens, batch_tokens)]
