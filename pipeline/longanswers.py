"""Requests whose answer came back too long for one answer, asked again in parts until every list fits
(the parts themselves: pipeline/parts.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from pipeline.packing import Planner
from pipeline.parts import MAX_PARTS, Part, asking, full_lists, parts_wanted, without
from schemas.records import ErrorRecord, Generation, Request

Output = tuple[Request, Generation | None, ErrorRecord | None]


@dataclass
class PartsAsked:
    """The outputs of a chunk's requests once long answers are asked in parts, each document's in reading
    order; `warnings`: (doc_id, message) of lists still full where a part could not be cut smaller."""

    outputs: list[Output]
    warnings: list[tuple[str, str]] = field(default_factory=list)
    parts: int = 0  # requests made for parts


def answer_in_parts(outputs: list[Output], roots: dict[str, Part], planner: Planner,
                    generate: Callable[[list[Request]], list[Output]]) -> PartsAsked:
    """Ask again in parts every request (of `roots`: request_id -> the part it asks) whose answer holds a
    full list or ran out of tokens, and their parts in turn; a request's answer is replaced (the full
    lists, or all of it when cut off) once every one of its parts has answered."""
    asked = dict(roots)
    order = {rid: (k,) for k, rid in enumerate(roots)}
    children: dict[str, list[str]] = {}
    replaced: dict[str, tuple[str, ...] | None] = {}  # request -> fields its parts answer (None: all of it)
    per_root: Counter = Counter()
    done: list[Output] = []
    answers: dict[str, dict] = {}  # request -> its parsed answer, where parts replace some of it
    still_full: dict[tuple[str, tuple[str, ...]], list[str]] = {}  # (document, fields) -> labels of the parts
    pending = outputs
    while pending:
        more: list[Request] = []
        for r, gen, err in pending:
            done.append((r, gen, err))
            part = asked.get(r.request_id)
            want = None if err is not None or gen is None else _wanted(gen, part, planner)
            if want is None:
                continue
            cut_off, fields, answer = want
            can = part is not None and per_root[order[r.request_id][0]] < MAX_PARTS
            if not can:
                pieces = []
            elif cut_off:
                pieces = part.split(None, 2)
            else:
                pieces = part.split(fields, parts_wanted(part, answer, fields))
            if not pieces:
                if not cut_off:
                    for d in r.doc_ids:
                        still_full.setdefault((d, fields), []).extend(r.unit_labels)
                continue
            per_root[order[r.request_id][0]] += len(pieces)
            replaced[r.request_id] = None if cut_off else fields
            answers[r.request_id] = answer
            for k, piece in enumerate(pieces):
                sub = planner.part_request(piece, f"{r.request_id}.{k}")
                asked[sub.request_id] = piece
                order[sub.request_id] = order[r.request_id] + (k,)
                children.setdefault(r.request_id, []).append(sub.request_id)
                more.append(sub)
        pending = generate(more) if more else []
    warnings = [(d, _still_full(fields, labels)) for (d, fields), labels in still_full.items()]
    return PartsAsked(_superseded(done, children, replaced, answers, order), warnings, sum(map(len, children.values())))


def _wanted(gen: Generation, part: Part | None, planner: Planner) -> tuple[bool, tuple[str, ...], dict] | None:
    """(cut off, full fields, the answer) when `gen` (answering `part`; None: a collection's request) must
    be asked again in parts: it ran out of tokens, or its answer holds a full list; None when it stands."""
    if gen.finish_reason == "length":
        return True, (), {}
    if gen.finish_reason != "stop":
        return None
    try:
        answer = json.loads(gen.text, strict=False)
    except ValueError:
        return None
    fields = full_lists(answer, asking(planner.shape, part.fields if part else None))
    return (False, fields, answer) if fields else None


def _answered(rid: str, outputs: dict[str, Output], children: dict[str, list[str]]) -> bool:
    """Whether request `rid` has an answer: its own, or every one of its parts'."""
    if rid in children:
        return all(_answered(c, outputs, children) for c in children[rid])
    _, gen, err = outputs[rid]
    return err is None and gen is not None and gen.finish_reason == "stop"


def _superseded(done: list[Output], children: dict[str, list[str]], replaced: dict[str, tuple[str, ...] | None],
                answers: dict[str, dict], order: dict[str, tuple[int, ...]]) -> list[Output]:
    """`done` in reading order, each request asked in parts that all answered without what they replace:
    the full lists left out of its answer, or the request left out when its answer was cut off."""
    by_id = {r.request_id: (r, gen, err) for r, gen, err in done}
    out = []
    for r, gen, err in sorted(done, key=lambda o: order.get(o[0].request_id, ())):
        rid = r.request_id
        if rid in replaced and all(_answered(c, by_id, children) for c in children[rid]):
            fields = replaced[rid]
            if fields is None:
                continue
            gen = gen.model_copy(update={"text": json.dumps(without(answers[rid], fields), ensure_ascii=False)})
        out.append((r, gen, err))
    return out


def _still_full(fields: tuple[str, ...], labels: list[str]) -> str:
    names = ", ".join(f"`{f}`" for f in fields)
    counts = Counter(labels)
    where = ", ".join(f"{label}{f' ({n} parts)' if n > 1 else ''}" for label, n in counts.items())
    return (f"{names} came back as long as one answer may hold from {where}, which could not be asked in smaller "
            "parts: items past them may be missing there")
