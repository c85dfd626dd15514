"""The one walker over an extraction schema: `shape_of` resolves `$ref`s and checks every node once,
giving a tree of objects, arrays and leaves with their paths. Everything that follows the user's
schema (the citation wrapper, unwrapping answers, the answer's nullable schema, the answer skeleton)
is a `fold` (bottom-up, no value) or a `walk` (top-down beside a value) over that tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

LEAF_TYPES = {"string", "number", "integer", "boolean"}
MAX_DEPTH = 24  # nesting deeper than this is a recursive schema (a model that contains itself)


class SchemaError(ValueError):
    """The extraction schema is missing or not usable."""


@dataclass(frozen=True)
class Shape:
    """One node of an extraction schema with `$ref`s resolved: an object, an array or a leaf.

    `path` is where its values sit in an answer (`items[].amount`; the root is ""), `node` the resolved
    JSON Schema node (its keywords: description, enum, minimum, ...)."""

    kind: Literal["object", "array", "leaf"]
    path: str
    node: dict
    depth: int = 0
    props: tuple[tuple[str, "Shape"], ...] = ()
    items: "Shape | None" = None

    @property
    def type(self) -> str | None:
        """The leaf's JSON type (None for an enum without one)."""
        return self.node.get("type") if self.kind == "leaf" else self.kind

    def leaves(self) -> Iterator["Shape"]:
        """Every leaf, in schema order."""
        if self.kind == "leaf":
            yield self
        for _, sub in self.props:
            yield from sub.leaves()
        if self.items is not None:
            yield from self.items.leaves()

    def max_depth(self) -> int:
        return max((leaf.depth for leaf in self.leaves()), default=self.depth)

    def fold(self, leaf: Callable[["Shape"], Any], obj: Callable[["Shape", dict[str, Any]], Any],
             arr: Callable[["Shape", Any], Any]) -> Any:
        """Build bottom-up: `obj(shape, {name: folded child})`, `arr(shape, folded items)`, `leaf(shape)`."""
        if self.kind == "object":
            return obj(self, {name: sub.fold(leaf, obj, arr) for name, sub in self.props})
        if self.kind == "array":
            return arr(self, self.items.fold(leaf, obj, arr))
        return leaf(self)

    def walk(self, value: Any, leaf: Callable[["Shape", Any, str], Any], at: str = "") -> Any:
        """Follow `value` down the schema: every property of every object (missing ones meet None), every
        item of every array (a non-list is empty; items that come out None are dropped), and
        `leaf(shape, value, concrete_path)` at the leaves (`items[2].amount`)."""
        if self.kind == "object":
            src = value if isinstance(value, dict) else {}
            return {name: sub.walk(src.get(name), leaf, f"{at}.{name}" if at else name) for name, sub in self.props}
        if self.kind == "array":
            items = value if isinstance(value, list) else []
            out = [self.items.walk(v, leaf, f"{at}[{i}]") for i, v in enumerate(items)]
            return [v for v in out if v is not None]
        return leaf(self, value, at)


def shape_of(schema: dict, name: str = "schema") -> Shape:
    """The checked shape of an extraction schema whose root is an object; raises SchemaError."""
    if not isinstance(schema, dict):
        raise SchemaError(f"schema {name}: root must be a JSON object")
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise SchemaError(f"schema {name}: the root must be an object with at least one property")
    return _shape(schema, schema, name, "", 0)


def _shape(node: Any, root: dict, name: str, path: str, depth: int) -> Shape:
    where = f"$.{path}" if path else "$"
    if depth > MAX_DEPTH:
        raise SchemaError(f"schema {name}: {where} nests more than {MAX_DEPTH} levels; recursive schemas "
                          "(a $ref that contains itself) are not supported")
    if not isinstance(node, dict):
        raise SchemaError(f"schema {name}: {where} must be a schema object")
    node = resolve_ref(node, root)
    t = node.get("type")
    if isinstance(t, list):
        raise SchemaError(f"schema {name}: {where} has the types {t}; give one type per field "
                          "(every field may be null already: a value not in the document is null)")
    if "enum" in node or t in LEAF_TYPES:
        return Shape("leaf", path, node, depth)
    if t == "object":
        props = tuple((key, _shape(sub, root, name, f"{path}.{key}" if path else key, depth + 1))
                      for key, sub in (node.get("properties") or {}).items())
        return Shape("object", path, node, depth, props=props)
    if t == "array":
        if not isinstance(node.get("items"), dict):
            raise SchemaError(f"schema {name}: array at {where} needs an `items` schema")
        return Shape("array", path, node, depth, items=_shape(node["items"], root, name, f"{path}[]", depth + 1))
    raise SchemaError(f"schema {name}: unsupported node at {where} (need object, array, string, number, integer, "
                      "boolean or enum)")


def resolve_ref(node: dict, root: dict) -> dict:
    """Follow a local `$ref` (`#/$defs/X`), as pydantic emits for nested models, and reduce a nullable
    type (`["string", "null"]`, `anyOf [X, null]`) to X: every field may be null anyway."""
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
    if isinstance(t, list) and "null" in t and len(t) == 2:
        node = {**node, "type": next(x for x in t if x != "null")}
    if "anyOf" in node:
        subs = [s for s in node["anyOf"] if s.get("type") != "null"]
        if len(subs) == 1 and len(node["anyOf"]) == 2:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return resolve_ref({**subs[0], **rest}, root)
    return node


def nullable_schema(shape: Shape) -> dict:
    """The schema a document's answer follows: the user's, `$ref`s inlined, where any field may be null
    (not found in the document) and lists may be empty."""
    def leaf(s: Shape) -> dict:
        node = dict(s.node)
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        return node

    def obj(s: Shape, props: dict) -> dict:
        rest = {k: v for k, v in s.node.items() if k not in ("properties", "required", "$defs")}
        return {**rest, "type": ["object", "null"], "properties": props}

    def arr(s: Shape, items: dict) -> dict:
        rest = {k: v for k, v in s.node.items() if k not in ("items", "minItems")}
        return {**rest, "items": items}

    return shape.fold(leaf, obj, arr)
