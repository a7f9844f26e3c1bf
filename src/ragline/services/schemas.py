"""The schema registry: the built-in schemas plus JSON Schemas users register, per owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import JsonSchema
from ragline.domain.errors import Conflict, NotFound
from ragline.domain.references import check_edge, check_pipeline, narrow_edge, narrow_pipeline
from ragline.domain.schemas import (
    BlockAPIRequest,
    EdgeAPIRequest,
    OutputSchema,
    PipelineAPIRequest,
    builtin,
    check_json_schema,
    check_name,
)

BUILTINS: dict[str, OutputSchema] = {
    "block": builtin("block", BlockAPIRequest),
    "edge": builtin("edge", EdgeAPIRequest, check_edge, narrow_edge),
    "pipeline": builtin("pipeline", PipelineAPIRequest, check_pipeline, narrow_pipeline),
}


def inline_schema(json_schema: Any) -> OutputSchema:
    """An unnamed schema given with the request itself."""
    return OutputSchema(None, check_json_schema(json_schema))


def _registered(row: JsonSchema) -> OutputSchema:
    return OutputSchema(row.name, row.json_schema)


class SchemaRegistry:
    """Built-ins for everyone; registered schemas are visible to their owner only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, owner_id: str, *, limit: int = 200, after: str | None = None
    ) -> tuple[list[OutputSchema], bool]:
        """A page of schemas ordered by name, and whether more follow."""
        query = select(JsonSchema).where(JsonSchema.owner_id == owner_id)
        if after is not None:
            query = query.where(JsonSchema.name > after)
        query = query.order_by(JsonSchema.name).limit(limit + 1)
        async with self.db.session() as session:
            rows = [_registered(r) for r in await session.scalars(query)]
        builtins = [s for n, s in BUILTINS.items() if after is None or n > after]
        found = sorted([*builtins, *rows], key=lambda s: s.name or "")
        return found[:limit], len(found) > limit

    async def register(self, owner_id: str, name: str, json_schema: Any) -> OutputSchema:
        check_name(name)
        check_json_schema(json_schema)
        if name in BUILTINS:
            raise Conflict(f"{name!r} is a built-in schema", code="schema_exists")
        try:
            async with self.db.session() as session:
                taken = await session.scalar(
                    select(JsonSchema.id).where(
                        JsonSchema.owner_id == owner_id, JsonSchema.name == name
                    )
                )
                if taken is not None:
                    raise Conflict(f"a schema named {name!r} exists", code="schema_exists")
                session.add(JsonSchema(owner_id=owner_id, name=name, json_schema=json_schema))
        except IntegrityError:  # registered concurrently under the same name
            raise Conflict(f"a schema named {name!r} exists", code="schema_exists") from None
        return OutputSchema(name, json_schema)

    async def get(self, owner_id: str, name: str) -> OutputSchema:
        if name in BUILTINS:
            return BUILTINS[name]
        async with self.db.session() as session:
            row = await session.scalar(
                select(JsonSchema).where(JsonSchema.owner_id == owner_id, JsonSchema.name == name)
            )
        if row is None:
            raise NotFound(f"schema {name!r} not found", code="schema_not_found")
        return _registered(row)

    async def resolve(self, owner_id: str, ref: str | dict[str, Any]) -> OutputSchema:
        """A schema name (built-in or registered) or an inline JSON Schema."""
        if isinstance(ref, str):
            return await self.get(owner_id, ref)
        return inline_schema(ref)
