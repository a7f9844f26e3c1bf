"""Structured output (docs/api.md §4): the schema registry and POST /api/generate."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ragline.domain.errors import InvalidInput, TooLarge
from ragline.services.generate import generate
from ragline.services.schemas import SchemaRegistry
from ragline.web.deps import ContainerDep, CurrentUser
from ragline.web.pagination import CursorParam, LimitParam

router = APIRouter(tags=["structured output"])
MAX_CONTEXT_BYTES = 256 * 1024


def get_schemas(container: ContainerDep) -> SchemaRegistry:
    return container.schemas


SchemasDep = Annotated[SchemaRegistry, Depends(get_schemas)]


class SchemaIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["ticket"])
    json_schema: Any = Field(description="A JSON Schema (Draft 2020-12) object.")


class SchemaOut(BaseModel):
    name: str | None
    json_schema: dict[str, Any]
    builtin: bool


class GenerateIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: str | dict[str, Any] = Field(
        alias="schema", description="A schema name (GET /api/schemas) or an inline JSON Schema."
    )
    prompt: str = Field(min_length=1, max_length=32768)
    context: Any = Field(default=None, description="Text or any JSON value the model works on.")
    model: str | None = Field(default=None, max_length=200)
    max_attempts: int = Field(default=3, ge=1, le=10)
    strategy: Literal["auto", "constrained", "prompt"] = Field(
        default="auto",
        description="auto: grammar or native JSON-schema mode where the model has one, else "
        "the schema in the prompt; constrained: insist on it; prompt: prompt only.",
    )
    max_tokens: int | None = Field(default=None, ge=1, le=8192)


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class GenerateOut(BaseModel):
    data: Any
    attempts: int
    model: str
    strategy: str
    usage: UsageOut


@router.get("/api/schemas")
async def list_schemas(
    schemas: SchemasDep, user: CurrentUser, limit: LimitParam = 100, cursor: CursorParam = None
) -> dict[str, Any]:
    """Built-in and registered schemas, by name."""
    found, more = await schemas.page(user.user_id, limit=limit, after=_decode(cursor))
    items = [SchemaOut(**s.describe()) for s in found]
    next_cursor = _encode(found[-1].name or "") if more and found else None
    return {"items": items, "next_cursor": next_cursor}


@router.get("/api/schemas/{name}", response_model=SchemaOut)
async def get_schema(name: str, schemas: SchemasDep, user: CurrentUser) -> SchemaOut:
    return SchemaOut(**(await schemas.get(user.user_id, name)).describe())


@router.post("/api/schemas", status_code=201, response_model=SchemaOut)
async def register_schema(body: SchemaIn, schemas: SchemasDep, user: CurrentUser) -> SchemaOut:
    """Register a JSON Schema under a name: 422 if it is not valid JSON Schema, 409 if taken."""
    schema = await schemas.register(user.user_id, body.name, body.json_schema)
    return SchemaOut(**schema.describe())


@router.post("/api/generate", response_model=GenerateOut)
async def generate_json(
    body: GenerateIn, container: ContainerDep, schemas: SchemasDep, user: CurrentUser
) -> GenerateOut:
    """A JSON value valid against the schema, or 422 `llm_output_invalid` with the last errors
    and the last raw answer."""
    if body.context is not None and len(json.dumps(body.context)) > MAX_CONTEXT_BYTES:
        raise TooLarge(f"context is larger than {MAX_CONTEXT_BYTES} bytes")
    schema = await schemas.resolve(user.user_id, body.schema_)
    model = container.models.resolve(body.model)
    result = await generate(
        container.models, schema, body.prompt,
        context=body.context, model=model, max_attempts=body.max_attempts,
        strategy=body.strategy, max_tokens=body.max_tokens,
    )
    return GenerateOut(
        data=result.data, attempts=result.attempts, model=result.model,
        strategy=result.strategy,
        usage=UsageOut(
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
        ),
    )


def _encode(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("malformed cursor", code="invalid_cursor") from exc
