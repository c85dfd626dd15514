"""Score an output folder against gold: one row per labelled field (value, verified flag, citation page
and box against gold evidence), one row per document, and the summary: accuracy per field, calibration
of `verified`, and what could not be matched."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluate.compare import assign, compare
from evaluate.gold import Evidence, GoldDoc, field_pattern
from schemas.catalog import SchemaError, load_schema
from schemas.shape import Shape



@dataclass
class Prediction:
    doc_id: str
    path: str
    name: str
    status: str
    schema_name: str
    answer: dict | None
    verified: dict[str, bool] = field(default_factory=dict)  # leaf path -> verified
    cites: dict[str, list[tuple]] = field(default_factory=dict)  # leaf path -> [(page, t, (x0, y0, x1, y1))] located


@dataclass
class EvalResult:
    fields: list[dict]  # eval_fields rows
    documents: list[dict]  # eval_documents rows
    missing_in_out: list[str]  # gold documents the output folder does not have
    not_in_gold: list[str]  # output documents without gold
    not_in_schema: list[str]  # gold fields the schema does not have

    def accuracy_by_field(self) -> dict[str, tuple[int, int]]:
        """field pattern -> (correct, labelled), over scalar rows (spurious list items excluded)."""
        out: dict[str, list[int]] = {}
        for r in self.fields:
            if r["status"] in ("spurious", "not_in_schema"):
                continue
            acc = out.setdefault(r["field"], [0, 0])
            acc[0] += bool(r["correct"])
            acc[1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    def list_scores(self) -> dict[str, tuple[int, int, int]]:
        """list field -> (items fully right, gold items, predicted items): precision is the first over
        the third, recall the first over the second. Items are paired by optimal assignment."""
        items: dict[tuple[str, int, str], list[bool]] = {}  # (list, gold line, gold index) -> [all right, paired]
        predicted: dict[str, int] = {}
        for r in self.fields:
            m = re.match(r"(.*?)\[(\d*)\]", r["path"])
            if m is None or r["status"] == "not_in_schema":
                continue
            name = m.group(1) + "[]"
            if r["status"] == "spurious":
                predicted[name] = predicted.get(name, 0) + 1
                continue
            item = items.setdefault((name, r["gold_line"], m.group(2)), [True, False])
            item[0] = item[0] and bool(r["correct"])
            item[1] = item[1] or r["status"] != "missing"
        out: dict[str, list[int]] = {}
        for (name, _, _), (right, paired) in items.items():
            acc = out.setdefault(name, [0, 0, predicted.get(name, 0)])
            acc[0] += right and paired
            acc[1] += 1
            acc[2] += paired
        return {k: (v[0], v[1], v[2]) for k, v in out.items()}

    def calibration(self) -> tuple[float | None, float | None, int, int]:
        """(share of verified values that are wrong, share of unverified values that are right,
        verified count, unverified count), over predicted non-null values."""
        ver = [r for r in self.fields if r["verified"] is True and r["status"] != "not_in_schema"]
        unv = [r for r in self.fields if r["verified"] is False and r["status"] != "not_in_schema"]
        wrong = sum(not r["correct"] for r in ver) / len(ver) if ver else None
        right = sum(bool(r["correct"]) for r in unv) / len(unv) if unv else None
        return wrong, right, len(ver), len(unv)


def read_predictions(out: Path) -> list[Prediction]:
    """The current documents of an output folder with their answers, verified flags and citations."""
    from pipeline.outputs import read_table

    docs = read_table(out, "documents")
    ex = read_table(out, "extractions")
    cites = read_table(out, "citations")
    preds: dict[str, Prediction] = {}
    for r in docs.itertuples():
        preds[r.doc_id] = Prediction(doc_id=r.doc_id, path=r.path, name=r.name, status=r.status, schema_name=r.schema_name,
                                     answer=json.loads(r.answer_json) if r.answer_json else None)
    for doc_id, fld, verified in zip(ex["doc_id"], ex["field"], ex["verified"]):
        if doc_id in preds:
            preds[doc_id].verified[fld] = bool(verified)
    located = cites[cites["match"] != "unverified"]
    for doc_id, fld, page, t, x0, y0, x1, y1 in zip(located["doc_id"], located["field"], located["page"], located["t_seconds"],
                                                     located["x0"], located["y0"], located["x1"], located["y1"]):
        if doc_id in preds:
            preds[doc_id].cites.setdefault(fld, []).append(
                (None if page != page else int(page), None if t != t else float(t), (x0, y0, x1, y1)))
    return list(preds.values())


def evaluate(out: Path, gold: list[GoldDoc], schema_name: str | None = None) -> EvalResult:
    """Score the output folder `out` against `gold`."""
    preds = read_predictions(out)
    by_id = {p.doc_id: p for p in preds}
    by_path = {str(Path(p.path).resolve()): p for p in preds}
    by_name: dict[str, list[Prediction]] = {}
    for p in preds:
        by_name.setdefault(p.name, []).append(p)
    schemas: dict[str, Shape] = {}
    names = [p.schema_name for p in preds if p.schema_name]
    usual = max(set(names), key=names.count) if names else "key_facts"  # for gold documents missing from OUT
    res = EvalResult([], [], [], [], [])
    seen: set[str] = set()
    for g in gold:
        pred = _find(g, by_id, by_path, by_name)
        label = g.doc_id or g.path or f"gold line {g.line}"
        name = schema_name or (pred.schema_name if pred else None) or usual
        if name not in schemas:
            try:
                schemas[name] = load_schema(name).shape
            except SchemaError as e:
                if schema_name:
                    raise
                raise SchemaError(f"{e}; the output was made with schema {name!r}: give it with --schema "
                                  "(its .json file or module:Class)") from e
        shape = schemas[name]
        if pred is None:
            res.missing_in_out.append(label)
        else:
            seen.add(pred.doc_id)
        rows: list[dict] = []
        _walk(g.fields, (pred.answer or {}) if pred else {}, shape, "", "", rows, g, pred)
        for r in rows:
            r.update(doc_id=pred.doc_id if pred else (g.doc_id or ""), gold_path=g.path or "", gold_line=g.line)
            if r["status"] == "not_in_schema":
                res.not_in_schema.append(f"{label}: {r['path']}")
        res.fields += rows
        scored = [r for r in rows if r["status"] not in ("spurious", "not_in_schema")]
        correct = sum(bool(r["correct"]) for r in scored)
        res.documents.append(dict(
            doc_id=pred.doc_id if pred else (g.doc_id or ""), gold_path=g.path or "", gold_line=g.line,
            in_output=pred is not None, status=pred.status if pred else "missing", labelled=len(scored), correct=correct,
            accuracy=correct / len(scored) if scored else None,
            verified_wrong=sum(r["verified"] is True and not r["correct"] for r in scored),
            unverified_right=sum(r["verified"] is False and bool(r["correct"]) for r in scored)))
    res.not_in_gold = sorted(p.path for p in preds if p.doc_id not in seen)
    return res


def _find(g: GoldDoc, by_id, by_path, by_name) -> Prediction | None:
    if g.doc_id and g.doc_id in by_id:
        return by_id[g.doc_id]
    if g.path:
        p = Path(g.path)
        if str(p.resolve()) in by_path:
            return by_path[str(p.resolve())]
        if p.is_file():
            from pipeline.discover import file_sha256

            sha = file_sha256(p)
            if sha in by_id:
                return by_id[sha]
        same = by_name.get(p.name, [])
        if len(same) == 1:
            return same[0]
    return None


def _walk(gold: Any, pred: Any, shape: Shape, path: str, pred_path: str, rows: list, g: GoldDoc,
          p: Prediction | None) -> None:
    """Score `gold` against `pred` down the schema's shape; list items are paired by best match first."""
    gold, pred = shape.entries(gold), shape.entries(pred)  # a keyed object is scored as its entries
    if shape.kind == "object" and isinstance(gold, dict):
        props = dict(shape.props)
        for k, v in gold.items():
            sub = f"{path}.{k}" if path else k
            if k not in props:
                rows.append(_row(sub, sub, v, None, None, "not_in_schema", None, None, None))
                continue
            _walk(v, pred.get(k) if isinstance(pred, dict) else None, props[k], sub,
                  f"{pred_path}.{k}" if pred_path else k, rows, g, p)
        return
    if shape.kind == "array" and isinstance(gold, list):
        items = shape.items
        got = pred if isinstance(pred, list) else []
        pairs = assign(gold, got, lambda a, b: _item_score(a, b, items))
        matched_g = {i for i, _ in pairs}
        matched_p = {j for _, j in pairs}
        for i, j in pairs:
            _walk(gold[i], got[j], items, f"{path}[{i}]", f"{pred_path}[{j}]", rows, g, p)
        for i in range(len(gold)):
            if i not in matched_g:
                _walk(gold[i], None, items, f"{path}[{i}]", "", rows, g, p)
        for j in range(len(got)):
            if j not in matched_p:
                rows.append(_row(f"{path}[]", f"{pred_path}[{j}]", None, got[j], False, "spurious", None, None, None))
        return
    v = compare(gold, pred, shape.type)
    verified = p.verified.get(pred_path) if p and pred is not None else None
    page_ok, iou = _evidence(g.evidence.get(path) or g.evidence.get(field_pattern(path)),
                             p.cites.get(pred_path, []) if p else [])
    status = "correct" if v.correct else ("missing" if pred is None else "wrong")
    rows.append(_row(path, pred_path, gold, pred, v.correct, status, verified, page_ok, iou, v.similarity, v.how))


def _item_score(a: Any, b: Any, items: Shape) -> float:
    """How well a predicted list item matches a gold one (0..1): the share of the gold item's scalar
    fields that match, or one scalar's match, with string similarity as a small tie-breaker."""
    if isinstance(a, dict):
        props = dict(items.props)
        keys = [k for k in a if k in props]
        if not keys:
            return 0.0
        vs = [compare(a[k], b.get(k) if isinstance(b, dict) else None, props[k].type) for k in keys]
        return sum(0.9 * v.correct + 0.1 * v.similarity for v in vs) / len(vs)
    v = compare(a, b, items.type)
    return 0.9 * v.correct + 0.1 * v.similarity


def _evidence(ev: Evidence | None, cites: list[tuple]) -> tuple[bool | None, float | None]:
    """(a located citation on the gold page or time, best box IoU there) when gold evidence exists."""
    if ev is None or (ev.page is None and ev.t_seconds is None):
        return None, None
    here = [c for c in cites if (ev.page is not None and c[0] == ev.page)
            or (ev.t_seconds is not None and c[1] is not None and abs(c[1] - ev.t_seconds) <= 1.0)]
    iou = max((_iou(ev.box, c[2]) for c in here), default=0.0) if ev.box else None
    return bool(here), iou


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0


def _row(path, pred_path, gold, pred, correct, status, verified, page_ok, iou, similarity=0.0, how="") -> dict:
    return dict(field=field_pattern(path), path=path, pred_path=pred_path,
                gold_json=json.dumps(gold, ensure_ascii=False), pred_json=json.dumps(pred, ensure_ascii=False),
                correct=bool(correct), status=status, how=how, similarity=float(similarity), verified=verified,
                page_ok=page_ok, box_iou=iou)
