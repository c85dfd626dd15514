"""Requests whose answer came back too long for one answer, asked again until every list and value fits:
in parts for full lists and answers cut off (pipeline/parts.py; a list asked on from its last item,
pipeline/onward.py, an answer cut off inside a list from what it holds, pipeline/salvage.py), with longer
strings for values cut at their bound (pipeline/bounds.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from pipeline.bounds import LongValues, full_lists, long_values
from pipeline.onward import onward
from pipeline.packing import Planner
from pipeline.parts import MAX_PARTS, Part, asking, parts_wanted, without
from pipeline.salvage import salvaged
from pipeline.wrap import LONG_STRING, MAX_ITEMS
from schemas.records import ErrorRecord, Generation, Request

Output = tuple[Request, Generation | None, ErrorRecord | None]


@dataclass
class PartsAsked:
    """The outputs of a chunk's requests once long answers are asked again, each document's in reading
    order; `warnings`: (doc_id, kind, message) of lists still full where a part could not be cut smaller
    (`list_at_limit`), and of values as long as one value may be (`value_at_limit`)."""

    outputs: list[Output]
    warnings: list[tuple[str, str, str]] = field(default_factory=list)
    parts: int = 0  # requests made for parts and longer values


@dataclass(frozen=True)
class _Wanted:
    """What an answer asks for: `cut_off` (it ran out of tokens, and holds nothing to go on from), its
    full lists (or the list it was cut off in), its values to ask again with longer strings, and those
    already as long as a value may be."""

    cut_off: bool = False
    lists: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    at_limit: tuple[str, ...] = ()
    answer: dict = field(default_factory=dict)
    unwritten: tuple[str, ...] = ()  # fields a cut-off answer did not reach (after the list it was writing)


def answer_in_parts(outputs: list[Output], roots: dict[str, Part], planner: Planner,
                    generate: Callable[[list[Request]], list[Output]], real: bool = True) -> PartsAsked:
    """Ask again every request (of `roots`: request_id -> the part it asks) whose answer holds a full list
    or ran out of tokens (in parts), or holds a string cut at its bound (with longer strings), and their
    requests in turn; a request's answer is replaced (the fields asked again, or all of it when cut off)
    once every request asked for it has answered. Where not `real` (a random-weight model, whose strings
    run to their bound and mean nothing) values are not asked again, nor cut-off answers asked on."""
    asked = dict(roots)
    order = {rid: (k,) for k, rid in enumerate(roots)}
    children: dict[str, list[str]] = {}
    replaced: dict[str, tuple[str, ...] | None] = {}  # request -> fields its parts answer (None: all of it)
    per_root: Counter = Counter()
    done: list[Output] = []
    answers: dict[str, dict] = {}  # request -> its parsed answer, where parts replace some of it
    still: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}  # (document, kind, fields) -> labels of the parts
    pending = outputs
    while pending:
        more: list[Request] = []
        for r, gen, err in pending:
            done.append((r, gen, err))
            part = asked.get(r.request_id)
            want = None if err is not None or gen is None else _wanted(gen, part, planner, real)
            if want is None:
                continue
            can = part is not None and per_root[order[r.request_id][0]] < MAX_PARTS
            pieces, fields, answer = _pieces(want, part if can else None, lambda kind, f: _note(still, r, kind, f))
            if not pieces and gen.finish_reason == "length" and not want.cut_off:
                replaced[r.request_id], answers[r.request_id], children[r.request_id] = (), answer, []
                continue  # cut off in a list that cannot be asked on: what it holds stands, with a warning
            if not pieces:
                continue
            per_root[order[r.request_id][0]] += len(pieces)
            replaced[r.request_id] = fields
            answers[r.request_id] = answer
            for k, piece in enumerate(pieces):
                sub = planner.part_request(piece, f"{r.request_id}.{k}")
                asked[sub.request_id] = piece
                order[sub.request_id] = order[r.request_id] + (k,)
                children.setdefault(r.request_id, []).append(sub.request_id)
                more.append(sub)
        pending = generate(more) if more else []
    warnings = [(d, kind, _still(kind, fields, labels)) for (d, kind, fields), labels in still.items()]
    return PartsAsked(_superseded(done, children, replaced, answers, order), warnings, sum(map(len, children.values())))


def _pieces(want: _Wanted, part: Part | None, note: Callable[[str, tuple[str, ...]], None]
            ) -> tuple[list[Part], tuple[str, ...] | None, dict]:
    """The parts to ask `part` (None: it may not be asked again) in for what its answer `want`s, the
    fields their answers replace (None: all of it), and what stands of the answer; `note(kind, fields)`
    what stays at its limit. One full list is asked on from where the answer stopped (pipeline/onward.py)
    where it can be; full lists are otherwise asked again from the top, in parts."""
    if want.cut_off:
        return (part.split(None, 2) if part else []), None, want.answer
    lists, longer, answer = want.lists, any(f in want.lists for f in want.values), want.answer
    ahead = onward(part, answer, lists[0]) if part and len(lists) == 1 and not longer else None
    if ahead is not None:
        pieces, listed, answer = list(ahead.parts), (), {**answer, lists[0]: ahead.kept}
    else:
        pieces = part.split(lists, parts_wanted(part, answer, lists), longer) if part and lists else []
        listed = lists if pieces else ()
    if lists and not pieces:
        note("list_at_limit", lists)
    again = tuple(f for f in want.values if f not in listed)
    if again and part:
        pieces.append(part.again(again, len(pieces)))
    elif again:
        note("value_at_limit", again)
    if want.unwritten and part:  # the fields after the list an answer was cut off in
        pieces.append(part.again(want.unwritten, len(pieces), longer=part.longer))
    fields = listed + (again if part else ()) + want.unwritten
    kept = tuple(f for f in want.at_limit if f not in fields)
    if kept:
        note("value_at_limit", kept)
    return pieces, fields, answer


def _note(still: dict, r: Request, kind: str, fields: tuple[str, ...]) -> None:
    for d in r.doc_ids:
        still.setdefault((d, kind, fields), []).extend(r.unit_labels)


def _wanted(gen: Generation, part: Part | None, planner: Planner, real: bool) -> _Wanted | None:
    """What `gen` (answering `part`; None: a collection's request) asks for: to be asked again in parts
    (it ran out of tokens, or its answer holds a full list), asked on from the list it was cut off in, its
    long values asked again, or warnings for values as long as they may be; None when it stands."""
    shape = asking(planner.shape, part.fields if part else None)
    cut = None
    if gen.finish_reason == "length":
        cut = salvaged(gen.text) if real and part is not None else None
        if cut is None:
            return _Wanted(cut_off=True)
        answer = cut.answer
    elif gen.finish_reason != "stop":
        return None
    else:
        try:
            answer = json.loads(gen.text, strict=False)
        except ValueError:
            return None
    lists = (cut.field,) if cut else full_lists(answer, shape)
    long = long_values(answer, shape, part.longer if part else False) if real else LongValues()
    unwritten = tuple(name for name, _ in shape.props if name not in answer) if cut else ()
    if not (lists or long.again or long.at_limit):
        return None
    return _Wanted(False, lists, long.again, long.at_limit, answer, unwritten)


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
            gen = gen.model_copy(update={"text": json.dumps(without(answers[rid], fields), ensure_ascii=False),
                                         "finish_reason": "stop"})  # a cut-off answer's complete part stands
        out.append((r, gen, err))
    return out


def _still(kind: str, fields: tuple[str, ...], labels: list[str]) -> str:
    names = ", ".join(f"`{f}`" for f in fields)
    counts = Counter(labels)
    where = ", ".join(f"{label}{f' ({n} parts)' if n > 1 else ''}" for label, n in counts.items())
    if kind == "value_at_limit":
        return (f"{names} held a value as long as one value may be (its schema's maxLength, or {LONG_STRING} characters) "
                f"from {where}: its end may be missing there")
    return (f"{names} came back as long as one answer may hold ({MAX_ITEMS} items, or its --max-new-tokens) from {where}, which could not be "
            "asked in smaller parts: items past them may be missing there")
