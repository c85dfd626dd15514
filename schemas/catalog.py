"""Extraction schemas: built-ins shipped in `schemas/builtin/`, a JSON Schema file, or a pydantic
model given as `module:Class` (a module on the path or in the current folder) or `path/to/file.py:Class`.
Every schema is checked before any model work starts."""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from schemas.shape import SchemaError, Shape, nullable_schema, shape_of

BUILTIN_DIR = Path(__file__).parent / "builtin"
__all__ = ["ExtractionSchema", "SchemaError", "answer_schema", "builtin_names", "check_schema", "load_schema", "portable_spec"]


@dataclass(frozen=True)
class ExtractionSchema:
    name: str
    json_schema: dict[str, Any]

    @cached_property
    def shape(self) -> Shape:
        """The checked tree of the schema's objects, arrays and leaves (see schemas/shape.py)."""
        return shape_of(self.json_schema, self.name)

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
        module_name, _, cls_name = portable_spec(spec).rpartition(":")  # a module beside the user: by its file
        try:
            cls = getattr(_import(module_name), cls_name)
            schema = cls.model_json_schema()
        except Exception as e:  # noqa: BLE001 - any import/attribute failure is the user's schema error
            raise SchemaError(f"cannot load pydantic model {spec}: {e}") from e
        name = cls_name
    else:
        raise SchemaError(f"unknown schema {spec!r}: use one of {', '.join(builtin_names())}, a .json file or module:Class")
    check_schema(schema, name)
    return ExtractionSchema(name=name, json_schema=schema)


def portable_spec(spec: str) -> str:
    """`spec` as it resolves from any working folder (a schedule, a Ray actor on another node): schema
    and model files by absolute path, a model module found only in the current folder by its file;
    built-in names and importable modules as given."""
    import importlib.util

    if spec in builtin_names():
        return spec
    path = Path(spec)
    if path.exists() or path.suffix == ".json":
        return str(path.resolve()) if path.exists() else spec
    module, sep, cls = spec.rpartition(":")
    if not sep or not module:
        return spec
    if module.endswith(".py"):
        return f"{Path(module).resolve()}:{cls}" if Path(module).is_file() else spec
    try:
        importable = importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        importable = False
    here = Path.cwd() / (module.replace(".", "/") + ".py")
    return spec if importable or not here.is_file() else f"{here.resolve()}:{cls}"


def _import(module: str):
    """A module by dotted name, or a .py file by path (under a name of its own, so that pydantic resolves
    its forward references through sys.modules)."""
    import sys

    if not module.endswith(".py"):
        return importlib.import_module(module)
    from importlib.util import module_from_spec, spec_from_file_location

    path = Path(module).resolve()
    if not path.is_file():
        raise ModuleNotFoundError(f"no file {module}")
    name = f"gemmadoc_schema_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name not in sys.modules:
        spec = spec_from_file_location(name, path)
        loaded = module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def check_schema(schema: Any, name: str) -> None:
    """Reject schemas the pipeline cannot wrap: must be a valid JSON Schema whose root is an object."""
    import jsonschema

    if not isinstance(schema, dict):
        raise SchemaError(f"schema {name}: root must be a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise SchemaError(f"schema {name} is not a valid JSON Schema: {e.message}") from e
    shape_of(schema, name)


def answer_schema(schema: dict) -> dict:
    """The schema a document's `answer` follows: the user's schema where any field may be null
    (not found in the document) and lists may be empty."""
    return nullable_schema(shape_of(schema))
