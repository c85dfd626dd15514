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
    union = {"type": "object", "properties": {"p": {"type": "object", "properties": {"n": {"type": ["string", "integer"]}}}}}
    assert [(leaf.path, leaf.type) for leaf in shape_of(union).leaves()] == [("p.n", "string")]  # the first type
    loop = {"type": "object", "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
            "properties": {"head": {"$ref": "#/$defs/N"}}}
    with pytest.raises(SchemaError, match="no field to extract"):
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


PAYMENT_MODELS = '''
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field


class Card(BaseModel):
    method: Literal["card"]
    last4: str


class Transfer(BaseModel):
    method: Literal["transfer"]
    iban: str
'''

TEAM_MODELS = PAYMENT_MODELS + '''

class Currency(str, Enum):
    USD = "USD"
    EUR = "EUR"


class Line(BaseModel):
    description: str
    unit_price: Decimal


class Section(BaseModel):
    heading: str
    subsections: list["Section"] = []


class TeamInvoice(BaseModel):
    number: str
    issued: date
    currency: Currency
    version: Literal["v1"] = "v1"
    total: Decimal = Field(ge=0)
    postal_code: str | int
    lines: list[Line]
    payment: Annotated[Union[Card, Transfer], Field(discriminator="method")]
    terms: dict[str, str] = {}
    notes: Any = None
    outline: list[Section] = []
'''


@pytest.fixture
def team_models(tmp_path, monkeypatch):
    (tmp_path / "team_models.py").write_text(TEAM_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "team_models:TeamInvoice"


def test_pydantic_models_as_teams_write_them_load_and_wrap(team_models):
    """Decimal (number | string), `str | int`, one-value Literal (const), an Enum, a discriminated union
    of models, `dict[str, str]`, `Any` and a model that contains itself: each read as documented in
    schemas/shape.py, wrapped into a schema that jsonschema and xgrammar both accept."""
    import xgrammar as xgr

    from schemas.shape import MAX_RECURSION, described_schema, nullable_schema

    s = load_schema(team_models)
    leaves = {leaf.path: leaf for leaf in s.shape.leaves()}
    types = {p: leaf.type for p, leaf in leaves.items()}
    assert types["total"] == "number" and leaves["total"].node["minimum"] == 0  # Decimal: its first branch
    assert types["postal_code"] == "string" and types["lines[].unit_price"] == "number"
    assert leaves["version"].node["enum"] == ["v1"] and "const" not in leaves["version"].node
    assert leaves["currency"].node["enum"] == ["USD", "EUR"]
    assert leaves["payment.method"].node["enum"] == ["card", "transfer"]  # the discriminator lists every tag
    assert {"payment.last4", "payment.iban"} <= set(types)
    assert types["terms[].key"] == "string" and types["terms[].value"] == "string" and types["notes"] == "string"
    headings = [p for p in types if p.endswith("heading")]
    assert headings == ["outline[]." + "subsections[]." * k + "heading" for k in range(MAX_RECURSION)]
    for targets in (CitationTargets(pages=(1, 2)), CitationTargets(timestamps=("00:00",), docs=("a.pdf", "b.pdf"))):
        wrapped = wrap_schema(s.shape, targets)
        jsonschema.Draft202012Validator.check_schema(wrapped)
        xgr.Grammar.from_json_schema(json.dumps(wrapped), any_whitespace=False)
    told = json.dumps(described_schema(s.shape))
    assert "$ref" not in told and "anyOf" not in told and '"terms": {"type": "array"' in told
    jsonschema.Draft202012Validator.check_schema(nullable_schema(s.shape))


def test_a_dict_field_is_extracted_as_entries_and_given_back_as_an_object(team_models):
    from pipeline.validate import answer_problem, answer_validator

    s = load_schema(team_models)
    rows = [Extraction(doc_id="d", field=f, value=v) for f, v in [
        ("total", 120.5), ("payment.method", "card"), ("payment.last4", "4242"),
        ("terms[0].key", "Payment"), ("terms[0].value", "30 days net"),
        ("terms[1].key", "Delivery"), ("terms[1].value", "FOB Rotterdam"),
        ("terms[2].key", "Payment"), ("terms[2].value", "a later duplicate"),
        ("outline[0].heading", "1 Scope"), ("outline[0].subsections[0].heading", "1.1 Terms")]]
    answer = values_from_extractions(s.shape, rows)
    assert answer["terms"] == {"Payment": "30 days net", "Delivery": "FOB Rotterdam"}
    assert answer["payment"] == {"method": "card", "last4": "4242", "iban": None}
    assert answer["outline"] == [{"heading": "1 Scope", "subsections": [{"heading": "1.1 Terms", "subsections": []}]}]
    assert answer_problem(answer, answer_validator(s)) is None
    bad = {**answer, "terms": {"Payment": 30}}
    assert "terms" in answer_problem(bad, answer_validator(s))


def test_hand_written_json_schemas_load(tmp_path):
    """allOf around a $ref (older generators), an object or array without `type`, a list of types, a union of
    an object and a string, and a bare `{"type": "object"}` (a free key/value list)."""
    path = tmp_path / "hand.json"
    path.write_text(json.dumps({
        "type": "object",
        "definitions": {"Party": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
        "properties": {
            "seller": {"allOf": [{"$ref": "#/definitions/Party"}, {"properties": {"vat_id": {"type": "string"}}}],
                       "description": "who sells"},
            "address": {"properties": {"city": {"type": "string"}}},
            "phones": {"items": {"type": "string"}},
            "amount": {"type": ["integer", "string", "null"]},
            "ref": {"oneOf": [{"type": "object", "properties": {"id": {"type": "string"}}}, {"type": "string"}]},
            "other": {"type": "object"},
        }}))
    s = load_schema(str(path))
    assert [(leaf.path, leaf.type) for leaf in s.shape.leaves()] == [
        ("seller.name", "string"), ("seller.vat_id", "string"), ("address.city", "string"), ("phones[]", "string"),
        ("amount", "integer"), ("ref.id", "string"), ("other[].key", "string"), ("other[].value", "string")]
    assert dict(s.shape.props)["seller"].node["description"] == "who sells"
    jsonschema.Draft202012Validator.check_schema(wrap_schema(s.shape, CitationTargets(pages=(1,))))


def test_the_model_is_told_the_schema_it_is_held_to():
    """Built-in schemas reach the prompt exactly as written; the planner's prompt uses the resolved schema."""
    from schemas.shape import described_schema

    for name in builtin_names():
        s = load_schema(name)
        assert json.dumps(described_schema(s.shape)) == json.dumps(s.json_schema)


def test_maps_of_models_lists_of_maps_and_tuples_wrap_and_come_back(tmp_path):
    """`dict[str, Model]`, `list[dict[str, str]]`, `dict[str, list[str]]`, a nullable dict, a map of maps
    and a tuple (a list of its first item's schema) all wrap into a grammar and come back declared."""
    import xgrammar as xgr

    from pipeline.validate import answer_problem, answer_validator
    from schemas.catalog import ExtractionSchema

    line = {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}
    schema = {"type": "object", "properties": {
        "by_sku": {"type": "object", "additionalProperties": line},
        "groups": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}},
        "tags_by": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "maybe": {"anyOf": [{"type": "object", "additionalProperties": {"type": "integer"}}, {"type": "null"}]},
        "nested": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2, "maxItems": 2}}}
    s = ExtractionSchema("edge", schema)
    xgr.Grammar.from_json_schema(json.dumps(wrap_schema(s.shape, CitationTargets(pages=(1,)))), any_whitespace=False)
    rows = [Extraction(doc_id="d", field=f, value=v) for f, v in [
        ("by_sku[0].key", "A-1"), ("by_sku[0].value.sku", "A-1"), ("by_sku[0].value.qty", 3),
        ("groups[0][0].key", "colour"), ("groups[0][0].value", "red"),
        ("tags_by[0].key", "fruit"), ("tags_by[0].value[0]", "apple"), ("tags_by[0].value[1]", "pear"),
        ("nested[0].key", "eu"), ("nested[0].value[0].key", "vat"), ("nested[0].value[0].value", "21%"),
        ("pair[0]", "width"), ("pair[1]", "12")]]
    answer = values_from_extractions(s.shape, rows)
    assert answer == {"by_sku": {"A-1": {"sku": "A-1", "qty": 3}}, "groups": [{"colour": "red"}],
                      "tags_by": {"fruit": ["apple", "pear"]}, "maybe": {}, "nested": {"eu": {"vat": "21%"}},
                      "pair": ["width", "12"]}
    assert answer_problem(answer, answer_validator(s)) is None


def test_a_pydantic_model_is_found_next_to_the_user_or_by_file_path(tmp_path, monkeypatch):
    """A console script's sys.path lacks the current folder: `--schema models:Deal` beside models.py
    imported nothing. It is found there now, and `path/to/file.py:Class` loads a file anywhere."""
    import sys

    from tests.test_wrap import TEAM_MODELS

    (tmp_path / "deal_models_here.py").write_text(TEAM_MODELS)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "models.py").write_text(TEAM_MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    assert "outline[].heading" in {leaf.path for leaf in load_schema("deal_models_here:TeamInvoice").shape.leaves()}
    by_file = load_schema(f"{tmp_path / 'elsewhere' / 'models.py'}:TeamInvoice")
    assert by_file.name == "TeamInvoice" and by_file.digest == load_schema("deal_models_here:TeamInvoice").digest
    for spec, message in [("no_such_models_module:X", "No module named 'no_such_models_module'"),
                          ("elsewhere/missing.py:X", "no file elsewhere/missing.py"),
                          ("deal_models_here:NoSuchClass", "has no attribute 'NoSuchClass'")]:
        with pytest.raises(SchemaError, match=message):
            load_schema(spec)


def test_schema_specs_are_kept_portable_in_the_run_options(tmp_path, monkeypatch):
    """Run options carry schema and model files by absolute path (a schedule or a Ray actor reads them from
    another folder); built-ins and importable modules stay as given."""
    import sys

    from schemas.options import RunOptions

    (tmp_path / "deal_models_there.py").write_text(TEAM_MODELS)
    (tmp_path / "s.json").write_text(json.dumps({"type": "object", "properties": {"a": {"type": "string"}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    assert RunOptions(schema_name="invoice").schema_name == "invoice"
    assert RunOptions(schema_name="s.json").schema_name == str(tmp_path / "s.json")
    assert RunOptions(schema_name="deal_models_there:TeamInvoice").schema_name == f"{tmp_path / 'deal_models_there.py'}:TeamInvoice"
    assert RunOptions(schema_name="./deal_models_there.py:TeamInvoice").schema_name == f"{tmp_path / 'deal_models_there.py'}:TeamInvoice"
    assert RunOptions(schema_name="pydantic:BaseModel").schema_name == "pydantic:BaseModel"
    monkeypatch.chdir(tmp_path.parent)  # elsewhere, as a schedule's run or an actor
    assert load_schema(RunOptions(schema_name=f"{tmp_path / 'deal_models_there.py'}:TeamInvoice").schema_name).name == "TeamInvoice"
