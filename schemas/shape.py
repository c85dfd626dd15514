"""The one walker over an extraction schema: `shape_of` resolves `$ref`s and checks every node once,
giving a tree of objects, arrays and leaves with their paths. Everything that follows the user's
schema (the citation wrapper, unwrapping answers, the answer's nullable schema, the answer skeleton)
is a `fold` (bottom-up, no value) or a `walk` (top-down beside a value) over that tree.

Schemas as teams write them (JSON Schema by hand, or pydantic's output) are read as follows, since every
field may be null anyway (not in the document):
- `$ref` (local), `allOf` (merged), a nullable type or `anyOf`/`oneOf` with null: the non-null schema;
- a union of several schemas: of objects (pydantic's `Cat | Dog`), one object with every branch's
  properties (a property in several branches keeps the first one's schema, enums joined, so a
  discriminator lists every tag); otherwise its first branch (`Decimal`, pydantic's `number | string`, is a
  number; `str | int` a string);
- `const` (a one-value `Literal`): an enum of that value; a tuple (`prefixItems`): a list of its first
  item's schema, as long as the tuple; a node without a type: an object with
  `properties`, an array with `items`, else a string (pydantic's `Any`);
- an object without properties (`dict[str, X]`): a list of `{"key", "value"}` entries for the model,
  given back as a JSON object (`Shape.declared`);
- a schema that contains itself (a section holding sections): followed MAX_RECURSION levels down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

LEAF_TYPES = {"string", "number", "integer", "boolean"}
MAX_DEPTH = 12  # objects and arrays nested deeper than this are not a document's fields
MAX_RECURSION = 3  # a schema that contains itself is followed this many levels down, then left out
_UNIONS = ("anyOf", "oneOf")
_KEY = {"type": "string", "description": "the entry's name or label as the document writes it"}


class SchemaError(ValueError):
    """The extraction schema is missing or not usable."""


@dataclass(frozen=True)
class Shape:
    """One node of an extraction schema with `$ref`s resolved: an object, an array or a leaf.

    `path` is where its values sit in an answer (`items[].amount`; the root is ""), `node` the resolved
    JSON Schema node (its keywords: description, enum, minimum, ...). A `keyed` array stands for a JSON
    object of free keys (`dict[str, X]`): its items are `{"key": ..., "value": X}`."""

    kind: Literal["object", "array", "leaf"]
    path: str
    node: dict
    depth: int = 0
    props: tuple[tuple[str, "Shape"], ...] = ()
    items: "Shape | None" = None
    keyed: bool = False

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

    def keyed_paths(self) -> list[str]:
        """Paths of the keyed arrays (`dict[str, X]` fields), outermost first."""
        own = [self.path] if self.keyed else []
        subs = [sub for _, sub in self.props] + ([self.items] if self.items is not None else [])
        return own + [p for sub in subs for p in sub.keyed_paths()]

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

    def declared(self, value: Any) -> Any:
        """Plain values from `walk` in the form the schema declares: a keyed array's entries become one
        JSON object (the first entry of a key wins; entries without a key are left out)."""
        if self.kind == "object" and isinstance(value, dict):
            props = dict(self.props)
            return {k: props[k].declared(v) if k in props else v for k, v in value.items()}
        if self.kind == "array" and isinstance(value, list):
            items = [self.items.declared(v) for v in value]
            if not self.keyed:
                return items
            out: dict[str, Any] = {}
            for entry in items:
                if isinstance(entry, dict) and entry.get("key") not in (None, ""):
                    out.setdefault(str(entry["key"]), entry.get("value"))
            return out
        return value

    def entries(self, value: Any) -> Any:
        """The inverse of `declared` for a keyed array: a JSON object as its list of entries."""
        if self.keyed and isinstance(value, dict):
            return [{"key": k, "value": v} for k, v in value.items()]
        return value


def shape_of(schema: dict, name: str = "schema") -> Shape:
    """The checked shape of an extraction schema whose root is an object; raises SchemaError."""
    if not isinstance(schema, dict):
        raise SchemaError(f"schema {name}: root must be a JSON object")
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise SchemaError(f"schema {name}: the root must be an object with at least one property")
    shape = _shape(schema, schema, name, "", 0, ())
    if shape is None or not any(True for _ in shape.leaves()):
        raise SchemaError(f"schema {name} has no field to extract (a string, number, integer, boolean or enum) "
                          f"within {MAX_RECURSION} levels of the schema that contains itself")
    return shape


def _shape(node: Any, root: dict, name: str, path: str, depth: int, refs: tuple[str, ...]) -> Shape | None:
    """The shape of `node`, or None where a schema that contains itself is cut off."""
    where = f"$.{path}" if path else "$"
    if depth > MAX_DEPTH:
        raise SchemaError(f"schema {name}: {where} nests more than {MAX_DEPTH} levels of objects and arrays")
    if not isinstance(node, dict):
        raise SchemaError(f"schema {name}: {where} must be a schema object")
    node, followed = resolve(node, root, f"schema {name}: {where}")
    if any(refs.count(r) >= MAX_RECURSION for r in followed):
        return None
    refs += followed
    kind = _kind(node)
    if kind == "leaf":
        if "type" not in node and "enum" not in node:
            node = {**node, "type": "string"}  # any value: free text
        return Shape("leaf", path, node, depth)
    if kind == "object":
        if not node.get("properties"):
            return _keyed(node, root, name, path, depth, refs)
        props = ((key, _shape(sub, root, name, f"{path}.{key}" if path else key, depth + 1, refs))
                 for key, sub in node["properties"].items())
        kept = tuple((k, s) for k, s in props if s is not None)
        return Shape("object", path, node, depth, props=kept) if kept else None  # None: all cut off
    if kind == "array":
        tuple_items = node.get("prefixItems")
        if not isinstance(node.get("items"), dict) and isinstance(tuple_items, list) and tuple_items:
            node = {**{k: v for k, v in node.items() if k != "prefixItems"}, "items": tuple_items[0],
                    "maxItems": len(tuple_items)}  # a tuple: a list of its first item's schema
        if not isinstance(node.get("items"), dict):
            raise SchemaError(f"schema {name}: array at {where} needs an `items` schema")
        items = _shape(node["items"], root, name, f"{path}[]", depth + 1, refs)
        return None if items is None else Shape("array", path, node, depth, items=items)
    raise SchemaError(f"schema {name}: unsupported node at {where} (type {node.get('type')!r}; need object, array, "
                      "string, number, integer, boolean or enum)")


def _keyed(node: dict, root: dict, name: str, path: str, depth: int, refs: tuple[str, ...]) -> Shape | None:
    """An object of free keys (`dict[str, X]`, `additionalProperties`) as a list of key/value entries."""
    value = node.get("additionalProperties")
    value = value if isinstance(value, dict) and value else {"type": "string"}
    sub = _shape(value, root, name, f"{path}[].value", depth + 2, refs)
    if sub is None:
        return None
    entry = Shape("object", f"{path}[]", {"type": "object"}, depth + 1,
                  props=(("key", Shape("leaf", f"{path}[].key", _KEY, depth + 2)), ("value", sub)))
    return Shape("array", path, node, depth, items=entry, keyed=True)


def _kind(node: dict) -> str | None:
    t = node.get("type")
    if "enum" in node or t in LEAF_TYPES:
        return "leaf"
    if t in ("object", "array"):
        return t
    if t is None:  # untyped: by its keywords, else free text (pydantic's `Any` is `{}`)
        return "object" if "properties" in node else "array" if "items" in node else "leaf"
    return None


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and (node.get("type") == "null" or node.get("const", 0) is None)


def resolve(node: dict, root: dict, where: str = "schema") -> tuple[dict, tuple[str, ...]]:
    """`node` as one plain schema (see the module's docstring), and the local `$ref`s followed to it."""
    refs: list[str] = []
    for _ in range(64):
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise SchemaError(f"{where}: only local $ref is supported, got {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                if not isinstance(target, dict) or part not in target:
                    raise SchemaError(f"{where}: $ref {ref} points to nothing in the schema")
                target = target[part]
            if not isinstance(target, dict):
                raise SchemaError(f"{where}: $ref {ref} is not a schema object")
            refs.append(ref)
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        if isinstance(node.get("allOf"), list):
            merged: dict = {k: v for k, v in node.items() if k != "allOf"}
            for branch in node["allOf"]:
                sub, followed = resolve(branch, root, where) if isinstance(branch, dict) else ({}, ())
                refs.extend(followed)
                merged = _merge(merged, sub)
            node = merged
            continue
        union = next((k for k in _UNIONS if isinstance(node.get(k), list)), None)
        if union:
            rest = {k: v for k, v in node.items() if k not in (*_UNIONS, "discriminator")}
            branches = []
            for branch in node[union]:
                if isinstance(branch, dict) and not _is_null(branch):
                    sub, followed = resolve(branch, root, where)
                    refs.extend(followed)
                    branches.append(sub)
            if not branches:
                raise SchemaError(f"{where}: every branch of its {union} is null")
            if len(branches) > 1 and all(_kind(b) == "object" and b.get("properties") for b in branches):
                first = _objects(branches)
            else:
                first = branches[0]
            node = {**first, **rest}
            continue
        break
    else:
        raise SchemaError(f"{where}: a $ref chain that does not end")
    t = node.get("type")
    if isinstance(t, list):
        types = [x for x in t if x != "null"]
        node = {**node, "type": types[0] if types else "null"}
    if "const" in node and "enum" not in node:
        node = {k: v for k, v in node.items() if k != "const"} | {"enum": [node["const"]]}
    return node, tuple(refs)


def _merge(a: dict, b: dict) -> dict:
    """Two schemas that both apply (`allOf`): properties and requirements joined, else `a`'s keywords first."""
    out = {**b, **a}
    if "properties" in a or "properties" in b:
        first = a.get("properties") or {}
        out["properties"] = {**first, **{k: v for k, v in (b.get("properties") or {}).items() if k not in first}}
    if "required" in a or "required" in b:
        out["required"] = list(dict.fromkeys([*(a.get("required") or []), *(b.get("required") or [])]))
    return out


def _objects(branches: list[dict]) -> dict:
    """Object branches of a union as one object: every branch's properties (the first schema of a name;
    two enums or consts of one name, as a discriminator's tags, joined)."""
    props: dict[str, Any] = {}
    for branch in branches:
        for key, sub in branch["properties"].items():
            if key not in props:
                props[key] = sub
                continue
            tags = [_tags(props[key]), _tags(sub)]
            if None not in tags:
                props[key] = {**props[key], "enum": list(dict.fromkeys(tags[0] + tags[1]))}
                props[key].pop("const", None)
    first = branches[0]
    out = {"type": "object", "properties": props}
    if len({b.get("description") for b in branches}) == 1 and first.get("description"):
        out["description"] = first["description"]
    return out


def _tags(node: Any) -> list | None:
    if not isinstance(node, dict):
        return None
    if isinstance(node.get("enum"), list):
        return list(node["enum"])
    return [node["const"]] if "const" in node else None


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
        if s.keyed:
            rest = {k: v for k, v in s.node.items() if k not in ("additionalProperties", "minProperties")}
            return {**rest, "type": ["object", "null"], "additionalProperties": items["properties"]["value"]}
        rest = {k: v for k, v in s.node.items() if k not in ("items", "minItems")}
        return {**rest, "items": items}

    return shape.fold(leaf, obj, arr)


def described_schema(shape: Shape) -> dict:
    """The schema as the model is told it: the user's keywords at each node, `$ref`s and unions resolved,
    a keyed object as its list of entries (what the answer's grammar asks for)."""
    def leaf(s: Shape) -> dict:
        return s.node

    def obj(s: Shape, props: dict) -> dict:
        out = {k: v for k, v in s.node.items() if k not in ("$defs", "definitions")}
        out["properties"] = props
        if isinstance(out.get("required"), list):  # a property cut from a schema that contains itself
            out["required"] = [k for k in out["required"] if k in props]
        return out

    def arr(s: Shape, items: dict) -> dict:
        if s.keyed:
            return {"type": "array", **({"description": s.node["description"]} if "description" in s.node else {}),
                    "items": items}
        return {**s.node, "items": items}

    return shape.fold(leaf, obj, arr)
