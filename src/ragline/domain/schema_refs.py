"""What a valid-looking JSON Schema still needs before a validator can use it: bounded nesting,
`$ref`s that resolve without the network, and no `$ref` loop that never consumes any of the
instance (`{"$ref": "#"}`, `{"anyOf": [{"$ref": "#"}]}`), which recurses forever."""

from __future__ import annotations

from typing import Any

import referencing.exceptions
from referencing import Registry
from referencing._core import Resolver
from referencing.jsonschema import DRAFT202012

from ragline.domain.errors import Unprocessable

MAX_DEPTH = 64
# Subschemas applied to the same instance: a loop through these alone never ends.
SAME_INSTANCE_ONE = ("not", "if", "then", "else")
SAME_INSTANCE_MANY = ("allOf", "anyOf", "oneOf")
SAME_INSTANCE_MAP = ("dependentSchemas",)
# Subschemas applied to a part of the instance (or not applied at all, like `$defs`).
NESTED_ONE = ("items", "additionalItems", "additionalProperties", "contains", "propertyNames",
              "unevaluatedItems", "unevaluatedProperties")
NESTED_MANY = ("prefixItems", "items")
NESTED_MAP = ("properties", "patternProperties", "$defs", "definitions")
REFS = ("$ref", "$dynamicRef")


def check_schema_structure(schema: dict[str, Any]) -> None:
    """`Unprocessable` (code `invalid_schema`) if the schema is too deep, has a `$ref` that
    does not resolve within itself, or loops without consuming the instance."""
    if _depth(schema) > MAX_DEPTH:
        raise _invalid(f"the schema nests deeper than {MAX_DEPTH} levels")
    resource = DRAFT202012.create_resource(schema)
    registry: Registry[Any] = Registry().with_resource(resource.id() or "", resource).crawl()
    edges = _same_instance_edges(schema, registry.resolver(resource.id() or ""))
    if _has_cycle(edges):
        raise _invalid("the schema refers to itself without consuming any of the instance "
                       "(a $ref loop such as {\"$ref\": \"#\"}), so it can never be checked")


def _invalid(message: str) -> Unprocessable:
    return Unprocessable(f"json_schema is not usable: {message}", code="invalid_schema")


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _children(node: dict[str, Any], one: tuple[str, ...], many: tuple[str, ...],
              maps: tuple[str, ...]) -> list[Any]:
    found: list[Any] = [node[k] for k in one if isinstance(node.get(k), dict)]
    for key in many:
        if isinstance(node.get(key), list):
            found.extend(node[key])
    for key in maps:
        if isinstance(node.get(key), dict):
            found.extend(node[key].values())
    return [child for child in found if isinstance(child, dict)]


def _same_instance_edges(root: dict[str, Any], resolver: Resolver[Any]) -> dict[int, list[int]]:
    """Every subschema (by identity) and the subschemas it applies to the same instance."""
    edges: dict[int, list[int]] = {}
    work: list[tuple[dict[str, Any], Resolver[Any]]] = [(root, resolver)]
    while work:
        node, scope = work.pop()
        if id(node) in edges:
            continue
        if node is not root and isinstance(node.get("$id"), str):
            scope = scope.in_subresource(DRAFT202012.create_resource(node))
        same = edges[id(node)] = []
        for key in REFS:
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            try:
                target = scope.lookup(ref)
            except referencing.exceptions.Unresolvable:
                raise _invalid(f"the $ref {ref!r} does not resolve within the schema") from None
            if isinstance(target.contents, dict):
                same.append(id(target.contents))
                work.append((target.contents, target.resolver))
        for child in _children(node, SAME_INSTANCE_ONE, SAME_INSTANCE_MANY, SAME_INSTANCE_MAP):
            same.append(id(child))
            work.append((child, scope))
        work.extend((child, scope) for child in _children(node, NESTED_ONE, NESTED_MANY,
                                                            NESTED_MAP))
    return edges


def _has_cycle(edges: dict[int, list[int]]) -> bool:
    """Depth-first search with grey (on the path) and black (done) nodes."""
    grey, black = 1, 2
    colour: dict[int, int] = {}
    for start in edges:
        if start in colour:
            continue
        colour[start] = grey
        path = [(start, iter(edges[start]))]
        while path:
            node, targets = path[-1]
            target = next(targets, None)
            if target is None:
                colour[node] = black
                path.pop()
            elif colour.get(target) == grey:
                return True
            elif target not in colour and target in edges:
                colour[target] = grey
                path.append((target, iter(edges[target])))
    return False
