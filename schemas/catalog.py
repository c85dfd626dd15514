"""Extraction schemas: built-ins shipped in `schemas/builtin/`, a JSON Schema file, or a pydantic
model given as `module:Class`. Every schema is checked before any model work starts."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILTIN_DIR = Path(__file__).parent / "builtin"
LEAF_TYPES = {"string", "number", "integer", "boolean"}


class SchemaError(ValueError):
    """The extraction schema is missing or not usable."""


@dataclass(frozen=True)
class ExtractionSchema:
    name: str
    json_schema: dict[str, Any]

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.json_schema, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def description(self) -> str:
        return str(self.json_schema.get("description", ""))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


def load_schema(spec: str) -> ExtractionSchema:
    """Resolve `spec` (built-in name, path to a .json file, or `module:Class`) and validate it."""
    if spec in builtin_names():
        schema = json.loads((BUILTIN_DIR / f"{spec}.json").read_text())
        name = spec
    elif Path(spec).suffix == ".json" or Path(spec).exists():
        path = Path(spec)
        if not path.is_file():
            raise SchemaError(f"schema file not found: {spec} (built-ins: {', '.join(builtin_names())})")
        try:
            schema = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise SchemaError(f"schema file {spec} is not valid JSON: {e}") from e
        name = path.stem
    elif ":" in spec:
        module_name, _, cls_name = spec.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
            schema = cls.model_json_schema()
        except Exception as e:  # noqa: BLE001 - any import/attribute failure is the user's schema error
            raise SchemaError(f"cannot load pydantic model {spec}: {e}") from e
        name = cls_name
    else:
        raise SchemaError(f"unknown schema {spec!r}: use one of {', '.join(builtin_names())}, a .json file or module:Class")
    check_schema(schema, name)
    return ExtractionSchema(name=name, json_schema=schema)


def check_schema(schema: Any, name: str) -> None:
    """Reject schemas the pipeline cannot wrap: must be a valid JSON Schema whose root is an object."""
    import jsonschema

    if not isinstance(schema, dict):
        raise SchemaError(f"schema {name}: root must be a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise SchemaError(f"schema {name} is not a valid JSON Schema: {e.message}") from e
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise SchemaError(f"schema {name}: the root must be an object with at least one property")
    _check_node(schema, schema, name, "$")


MAX_DEPTH = 24  # nesting deeper than this is a recursive schema (a model that contains itself)


def _check_node(node: dict, root: dict, name: str, path: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise SchemaError(f"schema {name}: {path} nests more than {MAX_DEPTH} levels; recursive schemas "
                          "(a $ref that contains itself) are not supported")
    if not isinstance(node, dict):
        raise SchemaError(f"schema {name}: {path} must be a schema object")
    node = resolve_ref(node, root)
    t = node.get("type")
    if isinstance(t, list):
        raise SchemaError(f"schema {name}: {path} has the types {t}; give one type per field "
                          "(every field may be null already: a value not in the document is null)")
    if "enum" in node or t in LEAF_TYPES:
        return
    if t == "object":
        for key, sub in (node.get("properties") or {}).items():
            _check_node(sub, root, name, f"{path}.{key}", depth + 1)
        return
    if t == "array":
        if not isinstance(node.get("items"), dict):
            raise SchemaError(f"schema {name}: array at {path} needs an `items` schema")
        _check_node(node["items"], root, name, f"{path}[]", depth + 1)
        return
    if "anyOf" in node:  # Optional[X] from pydantic: anyOf [X, null]
        subs = [s for s in node["anyOf"] if s.get("type") != "null"]
        if len(subs) == 1:
            _check_node(subs[0], root, name, path, depth + 1)
            return
    raise SchemaError(f"schema {name}: unsupported node at {path} (need object, array, string, number, integer, boolean or enum)")


def resolve_ref(node: dict, root: dict) -> dict:
    """Follow a local `$ref` (`#/$defs/X`), as pydantic emits for nested models."""
    seen = 0
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SchemaError(f"only local $ref is supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise SchemaError(f"$ref {ref} points to nothing in the schema")
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
        if seen > 32:
            raise SchemaError("recursive $ref chain")
    t = node.get("type")
    if isinstance(t, list) and "null" in t and len(t) == 2:  # "type": ["string", "null"]: every field is nullable
        node = {**node, "type": next(x for x in t if x != "null")}
    if "anyOf" in node:
        subs = [s for s in node["anyOf"] if s.get("type") != "null"]
        if len(subs) == 1 and len(node["anyOf"]) == 2:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return resolve_ref({**subs[0], **rest}, root)
    return node


def answer_schema(schema: dict) -> dict:
    """The schema a document's `answer` follows: the user's schema where any field may be null
    (not found in the document) and lists may be empty."""
    import copy

    out = copy.deepcopy(schema)
    _nullable(out)
    return out


def _nullable(node: dict) -> None:
    for sub in (node.get("$defs") or {}).values():
        _nullable(sub)
    t = node.get("type")
    if t == "object":
        for sub in (node.get("properties") or {}).values():
            _nullable(sub)
        node.pop("required", None)
    elif t == "array":
        if isinstance(node.get("items"), dict):
            _nullable(node["items"])
        node.pop("minItems", None)
    if isinstance(t, str) and t != "array":
        node["type"] = [t, "null"]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = list(node["enum"]) + [None]
    for sub in node.get("anyOf") or []:
        _nullable(sub)
