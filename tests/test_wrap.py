import json

import jsonschema
import pytest

from pipeline.parse import merge_windows, values_from_extractions
from pipeline.wrap import CitationTargets, unwrap, wrap_schema
from schemas.catalog import SchemaError, builtin_names, load_schema
from schemas.records import Citation, Extraction


def test_builtins_load_and_wrap():
    assert {"invoice", "contract_clauses", "video_events", "key_facts", "receipt"} <= set(builtin_names())
    for name in builtin_names():
        s = load_schema(name)
        wrapped = wrap_schema(s.shape, CitationTargets(pages=(1, 2)))
        jsonschema.Draft202012Validator.check_schema(wrapped)


def test_wrapped_leaf_requires_citations_and_limits_pages():
    wrapped = wrap_schema(load_schema("receipt").shape, CitationTargets(pages=(2, 3)))
    v = jsonschema.Draft202012Validator(wrapped)
    good = {"company": {"value": "ACME", "citations": [{"page": 2, "quote": "ACME"}]}, "date": None, "address": None,
            "total": {"value": 9.5, "citations": [{"page": 3, "quote": "9.50"}]}}
    assert not list(v.iter_errors(good))
    bad_page = json.loads(json.dumps(good))
    bad_page["company"]["citations"][0]["page"] = 7
    assert list(v.iter_errors(bad_page))
    no_cite = json.loads(json.dumps(good))
    no_cite["company"]["citations"] = []
    assert list(v.iter_errors(no_cite))
    quote = wrapped["properties"]["company"]["anyOf"][0]["properties"]["citations"]["items"]["properties"]["quote"]
    assert quote["maxLength"] <= 160


def test_video_and_collection_targets():
    w = wrap_schema(load_schema("video_events").shape,
                    CitationTargets(timestamps=("00:00", "00:01"), docs=("a.mp4", "b.mp4")))
    cite = w["properties"]["summary"]["anyOf"][0]["properties"]["citations"]["items"]
    assert cite["properties"]["t"]["enum"] == ["00:00", "00:01"]
    assert cite["properties"]["doc"]["enum"] == ["a.mp4", "b.mp4"]
    assert "page" not in cite["properties"]


def test_unwrap_round_trip_with_nested_lists():
    schema = load_schema("invoice").json_schema
    shape = load_schema("invoice").shape
    answer = {
        "invoice_number": {"value": "INV-1", "citations": [{"page": 1, "quote": "INV-1"}]},
        "issue_date": None, "due_date": None, "seller": None, "buyer": None, "currency": None,
        "subtotal": None, "tax": None, "total": {"value": 12.5, "citations": [{"page": 2, "quote": "12.50"}]},
        "line_items": [{"description": {"value": "Widget", "citations": [{"page": 1, "quote": "Widget"}]},
                        "quantity": None, "amount": {"value": 12.5, "citations": [{"page": 1, "quote": "12.50"}]}}],
    }
    leaves = unwrap(answer, shape, {}, "doc")
    assert [l.path for l in leaves] == ["invoice_number", "total", "line_items[0].description", "line_items[0].amount"]
    assert leaves[1].citations[0].page == 2 and leaves[1].citations[0].doc_id == "doc"
    rows = [Extraction(doc_id="doc", field=l.path, value=l.value) for l in leaves]
    rebuilt = values_from_extractions(shape, rows)
    assert rebuilt["line_items"] == [{"description": "Widget", "quantity": None, "amount": 12.5}]
    jsonschema.validate(rebuilt, {**schema, "required": []} | {"properties": {k: {} for k in schema["properties"]}})


def test_one_walker_gives_leaf_paths_and_types_once():
    from schemas.shape import shape_of

    shape = load_schema("invoice").shape
    leaves = {leaf.path: leaf.type for leaf in shape.leaves()}
    assert leaves["invoice_number"] == "string" and leaves["total"] == "number"
    assert leaves["line_items[].amount"] == "number" and leaves["line_items[].description"] == "string"
    assert shape.walk(None, lambda s, v, p: p) == {**{k: k for k in shape.node["properties"] if k != "line_items"},
                                                  "line_items": []}  # the answer skeleton
    pydantic_like = {"type": "object", "$defs": {"P": {"type": "object", "properties": {"n": {"type": "string"}}}},
                     "properties": {"p": {"anyOf": [{"$ref": "#/$defs/P"}, {"type": "null"}]},
                                    "tags": {"type": "array", "items": {"type": ["string", "null"]}}}}
    assert [(leaf.path, leaf.type) for leaf in shape_of(pydantic_like).leaves()] == [("p.n", "string"), ("tags[]", "string")]
    with pytest.raises(SchemaError, match=r"\$\.p\.n has the types"):
        shape_of({"type": "object", "properties": {"p": {"type": "object", "properties": {"n": {"type": ["string", "integer"]}}}}})
    loop = {"type": "object", "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
            "properties": {"head": {"$ref": "#/$defs/N"}}}
    with pytest.raises(SchemaError, match="recursive"):
        shape_of(loop)


def test_invalid_schemas_are_rejected(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "arr.json").write_text(json.dumps({"type": "array", "items": {"type": "string"}}))
    (tmp_path / "wrong.json").write_text(json.dumps({"type": "object", "properties": {"a": {"type": "strnig"}}}))
    for f in ("bad.json", "arr.json", "wrong.json", "missing.json"):
        with pytest.raises(SchemaError):
            load_schema(str(tmp_path / f))
    with pytest.raises(SchemaError):
        load_schema("no_such_schema")


def test_pydantic_model_schema(tmp_path, monkeypatch):
    (tmp_path / "myschemas.py").write_text(
        "from pydantic import BaseModel\n"
        "class Party(BaseModel):\n    name: str\n    role: str | None = None\n"
        "class Deal(BaseModel):\n    parties: list[Party]\n    amount: float\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    s = load_schema("myschemas:Deal")
    w = wrap_schema(s.shape, CitationTargets(pages=(1,)))
    assert w["properties"]["parties"]["items"]["properties"]["name"]["anyOf"][0]["properties"]["value"]["type"] == "string"


def _cite(score, match="exact", page=1):
    return Citation(doc_id="d", page=page, quote="q", match=match, score=score)


def test_merge_scalars_best_cited_with_conflicts():
    w1 = [Extraction(doc_id="d", field="total", value=10, citations=[_cite(0, "unverified")])]
    w2 = [Extraction(doc_id="d", field="total", value=12, citations=[_cite(1.0)])]
    w3 = [Extraction(doc_id="d", field="total", value=12, citations=[_cite(0.9, "fuzzy", 3)])]
    merged = merge_windows([w1, w2, w3])
    assert len(merged) == 1
    assert merged[0].value == 12 and merged[0].conflicts == [10]
    assert len(merged[0].citations) == 2  # both windows' citations of the winning value


def test_merge_lists_concatenated_and_deduplicated():
    def item(i, desc, amount, w):
        return [Extraction(doc_id="d", field=f"line_items[{i}].description", value=desc, citations=[_cite(1, page=w)]),
                Extraction(doc_id="d", field=f"line_items[{i}].amount", value=amount, citations=[_cite(1, page=w)])]
    w1 = item(0, "A", 1, 1) + item(1, "B", 2, 2)
    w2 = item(0, "B", 2, 2) + item(1, "C", 3, 3)  # B seen again in the overlap page
    merged = merge_windows([w1, w2])
    fields = [(e.field, e.value) for e in merged]
    assert fields == [("line_items[0].description", "A"), ("line_items[0].amount", 1),
                      ("line_items[1].description", "B"), ("line_items[1].amount", 2),
                      ("line_items[2].description", "C"), ("line_items[2].amount", 3)]


def test_merge_single_window_is_identity():
    rows = [Extraction(doc_id="d", field="a", value=1)]
    assert merge_windows([rows]) == rows
