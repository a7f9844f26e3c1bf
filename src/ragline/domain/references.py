"""Semantic checks for seed 002's graph objects: edges may only reference blocks that exist,
either in the context the caller gave or in the same answer. Violations read like schema errors,
so the repair loop can feed them back to the model. For constrained decoding the schemas are
also narrowed to the known ids, so the model cannot mistype or invent one."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from ragline.domain.schemas import Violation

UUID_RE = re.compile(r"\b[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}\b", re.IGNORECASE)
_REFERENCE_KEYS = ("block_id", "source_block_id", "target_block_id")
_EDGE_ENDS = ("source_block_id", "target_block_id")
MAX_ENUM = 500  # beyond this many known blocks, decoding is left unnarrowed


def known_block_ids(context: Any) -> set[str]:
    """Block ids the context vouches for.

    JSON context: items of any `blocks` list (ids, or objects with `id`/`block_id`), objects
    that look like blocks (a `block_type` and an id), and ids that existing edges reference.
    Free text: every UUID in it (there is no telling blocks from other things there).
    """
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except ValueError:
            return {m.lower() for m in UUID_RE.findall(context)}
    found: set[str] = set()
    _walk(context, found)
    return found


def _walk(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    if "block_type" in node:
        _add(_block_id(node), found)
    for key, value in node.items():
        if key in _REFERENCE_KEYS:
            _add(value, found)
        elif key == "blocks" and isinstance(value, list):
            for item in value:
                _add(_block_id(item) if isinstance(item, dict) else item, found)
        _walk(value, found)


def _block_id(node: dict[str, Any]) -> Any:
    return node.get("id", node.get("block_id"))


def _add(value: Any, found: set[str]) -> None:
    if isinstance(value, str) and UUID_RE.fullmatch(value.strip()):
        found.add(value.strip().lower())


def check_edge(data: Any, context: Any) -> list[Violation]:
    """An edge's ends must be blocks from the context (checked when the context names any)."""
    known = known_block_ids(context)
    if not known:
        return []
    return _dangling(data, [], known, "the context")


def check_pipeline(data: Any, context: Any) -> list[Violation]:
    """A pipeline's blocks must come from the context (when it names any); its edges must
    connect blocks listed in the pipeline or in the context."""
    known = known_block_ids(context)
    violations: list[Violation] = []
    if known:
        for index, block in enumerate(data["blocks"]):
            if block.lower() not in known:
                violations.append(_violation(
                    ["blocks", index], f"block {block} is not one of the blocks in the context"
                ))
    listed = known | {b.lower() for b in data["blocks"]}
    for index, edge in enumerate(data["edges"]):
        violations += _dangling(edge, ["edges", index], listed, "the pipeline or the context")
    return violations


def _dangling(edge: Any, loc: list[Any], known: set[str], where: str) -> list[Violation]:
    return [
        _violation([*loc, key], f"{key} {edge[key]} does not reference a block in {where}")
        for key in _EDGE_ENDS
        if str(edge[key]).lower() not in known
    ]


def _violation(loc: list[Any], msg: str) -> Violation:
    return {"loc": loc, "msg": msg, "type": "unknown_block"}


def narrow_edge(schema: dict[str, Any], context: Any) -> dict[str, Any]:
    """The edge schema with its ends limited to the context's blocks (when it names any)."""
    known = sorted(known_block_ids(context))
    if not 0 < len(known) <= MAX_ENUM:
        return schema
    narrowed = copy.deepcopy(schema)
    for key in _EDGE_ENDS:
        narrowed["properties"][key] = {"enum": known}
    return narrowed


def narrow_pipeline(schema: dict[str, Any], context: Any) -> dict[str, Any]:
    """The pipeline schema with block ids and edge ends limited to the context's blocks."""
    known = sorted(known_block_ids(context))
    if not 0 < len(known) <= MAX_ENUM:
        return schema
    narrowed = copy.deepcopy(schema)
    narrowed["properties"]["blocks"]["items"] = {"enum": known}
    edge = narrowed["$defs"]["EdgeAPIRequest"]
    for key in _EDGE_ENDS:
        edge["properties"][key] = {"enum": known}
    return narrowed
