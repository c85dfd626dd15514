"""Gold labels: `gold.jsonl` (one document a line), a gemmadoc output folder (a corrected run as gold),
and converters from public label formats (SROIE key files, invoice2data expected JSON, FUNSD QA pairs)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


_INDEX = re.compile(r"\[\d+\]")


class GoldError(ValueError):
    """A malformed gold file; the message names the file and line."""


@dataclass
class Evidence:
    page: int | None = None
    t_seconds: float | None = None
    box: tuple[float, float, float, float] | None = None  # in the unit's own space, as gemmadoc's boxes


@dataclass
class GoldDoc:
    """Labels of one document: `path` (resolved against the gold file's folder) or `doc_id` (sha256),
    `fields` shaped like the schema (a field that is absent is not labelled; null means "not in the
    document"), and evidence per field path."""

    line: int
    path: str | None = None
    doc_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=dict)


def load_gold(source: str | Path) -> list[GoldDoc]:
    """Gold from a `.jsonl` file, or from a gemmadoc output folder (its answers and located citations)."""
    source = Path(source)
    if source.is_dir():
        return gold_from_output(source)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GoldError(f"{source}: cannot read the gold file ({e})") from None
    out = []
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise GoldError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise GoldError(f"{where}: a line must be a JSON object")
        if not obj.get("path") and not obj.get("doc_id"):
            raise GoldError(f"{where}: needs 'path' or 'doc_id'")
        if not isinstance(obj.get("fields"), dict):
            raise GoldError(f"{where}: needs 'fields', an object shaped like the schema")
        path = obj.get("path")
        if path and not Path(path).is_absolute():
            path = str((source.parent / path).resolve())
        out.append(GoldDoc(line=n, path=path, doc_id=obj.get("doc_id"), fields=obj["fields"],
                           evidence=_evidence(obj.get("evidence") or {}, where)))
    return out


def _evidence(raw: Any, where: str) -> dict[str, Evidence]:
    if not isinstance(raw, dict):
        raise GoldError(f"{where}: 'evidence' must map field paths to {{page | t, box}}")
    out = {}
    for key, ev in raw.items():
        if not isinstance(ev, dict):
            raise GoldError(f"{where}: evidence for {key!r} must be an object")
        box = ev.get("box")
        if box is not None and (not isinstance(box, list) or len(box) != 4):
            raise GoldError(f"{where}: evidence box for {key!r} must be [x0, y0, x1, y1]")
        out[key] = Evidence(page=ev.get("page"), t_seconds=ev.get("t"), box=tuple(box) if box else None)
    return out


def gold_from_output(out: Path) -> list[GoldDoc]:
    """A gemmadoc output folder as gold: each document's answer, and its first located citation per
    field as evidence (so a corrected run can grade later runs)."""
    from pipeline.outputs import read_table

    docs = read_table(out, "documents")
    if not len(docs):
        raise GoldError(f"{out}: no documents table; is this a gemmadoc output folder?")
    cites = read_table(out, "citations")
    evidence: dict[str, dict[str, Evidence]] = {}
    for r in cites[cites["match"] != "unverified"].itertuples():
        evidence.setdefault(r.doc_id, {}).setdefault(field_pattern(r.field), Evidence(
            page=None if r.page != r.page or r.page is None else int(r.page),
            t_seconds=None if r.t_seconds != r.t_seconds else r.t_seconds, box=(r.x0, r.y0, r.x1, r.y1)))
    out_docs = []
    for n, r in enumerate(docs.itertuples(), 1):
        if r.answer_json:
            out_docs.append(GoldDoc(line=n, path=r.path, doc_id=r.doc_id, fields=json.loads(r.answer_json),
                                    evidence=evidence.get(r.doc_id, {})))
    return out_docs


def field_pattern(path: str) -> str:
    """A leaf path with its list indexes blanked (`line_items[2].amount` -> `line_items[].amount`): the
    field that accuracy is reported for."""
    return _INDEX.sub("[]", path)


# --- converters from public label formats ------------------------------------------------------------

def from_sroie(key_file: Path, document: Path) -> dict:
    """A SROIE key file ({company, date, address, total}) as a gold line for the `receipt` schema."""
    key = json.loads(Path(key_file).read_text(encoding="utf-8"))
    fields = {k: key.get(k) for k in ("company", "date", "address", "total") if k in key}
    return {"path": str(document), "fields": fields}


def from_invoice2data(expected: Path, document: Path) -> dict:
    """invoice2data's expected JSON as a gold line for the `invoice` schema; its line items keep the
    lines that have a name and an amount (section headers and notes are not items)."""
    data = json.loads(Path(expected).read_text(encoding="utf-8"))
    inv = data[0] if isinstance(data, list) else data
    names = {"invoice_number": "invoice_number", "issue_date": "date", "due_date": "date_due", "seller": "issuer",
             "currency": "currency", "subtotal": "amount_untaxed", "tax": "amount_tax", "total": "amount"}
    fields = {ours: inv[theirs] for ours, theirs in names.items() if theirs in inv}
    if inv.get("issuer") and inv.get("issuer") == inv.get("partner_name"):
        fields.pop("seller", None)  # the label names the customer as issuer: not a seller we can grade
    lines = [ln for ln in inv.get("lines") or [] if ln.get("name") and "price_subtotal" in ln]
    if lines:
        fields["line_items"] = [{"description": ln["name"].split("\n")[0], "quantity": ln.get("qty"),
                                 "amount": ln["price_subtotal"]} for ln in lines]
    return {"path": str(document), "fields": fields}


def from_funsd_qa(qa_file: Path, document: Path) -> dict:
    """FUNSD QA pairs as a gold line for the `key_facts` schema: the answer to the Title question."""
    pairs = json.loads(Path(qa_file).read_text(encoding="utf-8"))
    title = next((p["answer"] for p in pairs if p.get("section") == "Title" and p.get("type") == "extraction"), None)
    return {"path": str(document), "fields": {"title": title} if title else {}}
