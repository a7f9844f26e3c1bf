"""Output schemas for structured generation: seed 002's built-in models, JSON Schema checks and
validation of a model's answer against either kind, reported as a list of violations."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jsonschema
import referencing.exceptions
from pydantic import BaseModel, Field, ValidationError

from ragline.domain.errors import Unprocessable
from ragline.domain.schema_refs import check_schema_structure

Violation = dict[str, Any]  # {"loc": [...], "msg": "...", "type": "..."} like request errors
SemanticCheck = Callable[[Any, Any], list[Violation]]  # (validated data, context) -> violations
Narrowing = Callable[[dict[str, Any], Any], dict[str, Any]]  # (json schema, context) -> schema

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class BlockAPIRequest(BaseModel):
    """A block of the Constellation graph (seed 002)."""

    block_type: str = Field(description="The kind of block, e.g. 'source', 'model', 'sink'.")
    name: str
    description: str | None = None


class EdgeAPIRequest(BaseModel):
    """A directed edge between two existing blocks (seed 002)."""

    source_block_id: UUID
    target_block_id: UUID
    edge_type: str


class PipelineAPIRequest(BaseModel):
    """A pipeline: the ids of the blocks it uses and the edges between them (seed 002)."""

    name: str
    blocks: list[UUID]
    edges: list[EdgeAPIRequest]


@dataclass(frozen=True)
class OutputSchema:
    """A schema a model's answer must satisfy: a built-in Pydantic model or a JSON Schema."""

    name: str | None
    json_schema: dict[str, Any]
    builtin: bool = False
    model: type[BaseModel] | None = None
    semantic: SemanticCheck | None = None
    narrowing: Narrowing | None = None

    def decoding_schema(self, context: Any) -> dict[str, Any]:
        """The schema to decode with: narrowed by the context where that is known to help
        (ids limited to those in the context), so constrained decoding also gets the
        semantics right by construction."""
        if self.narrowing is None:
            return self.json_schema
        return self.narrowing(self.json_schema, context)

    def validate(self, value: Any, context: Any = None) -> tuple[Any, list[Violation]]:
        """The value as returned to the caller (built-ins normalised) and its violations."""
        if self.model is not None:
            try:
                data: Any = self.model.model_validate(value).model_dump(mode="json")
            except ValidationError as exc:
                return value, [
                    {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors()
                ]
        else:
            data = value
            violations = json_schema_violations(self.json_schema, value)
            if violations:
                return value, violations
        return data, self.semantic(data, context) if self.semantic is not None else []

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "json_schema": self.json_schema, "builtin": self.builtin}


def builtin(
    name: str,
    model: type[BaseModel],
    semantic: SemanticCheck | None = None,
    narrowing: Narrowing | None = None,
) -> OutputSchema:
    return OutputSchema(name, model.model_json_schema(), True, model, semantic, narrowing)


def check_json_schema(schema: Any) -> dict[str, Any]:
    """`schema` if it is a valid Draft 2020-12 JSON Schema object, else `Unprocessable`."""
    if not isinstance(schema, dict):
        raise Unprocessable("json_schema must be a JSON object", code="invalid_schema")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise Unprocessable(
            f"json_schema is not a valid JSON Schema at {where}: {exc.message}",
            code="invalid_schema",
            details={"loc": list(exc.absolute_path), "msg": exc.message, "type": exc.validator},
        ) from None
    check_schema_structure(schema)
    return schema


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise Unprocessable(
            "a schema name is 1-100 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit",
            code="invalid_schema_name",
        )
    return name


def json_schema_violations(schema: dict[str, Any], value: Any) -> list[Violation]:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    except referencing.exceptions.Unresolvable as exc:
        raise Unprocessable(
            f"the schema has a $ref that cannot be resolved: {exc}", code="invalid_schema"
        ) from None
    except RecursionError:  # stored before registration checked for $ref loops
        raise Unprocessable(
            "the schema refers to itself without end", code="invalid_schema"
        ) from None
    return [{"loc": list(e.absolute_path), "msg": e.message, "type": e.validator} for e in errors]
