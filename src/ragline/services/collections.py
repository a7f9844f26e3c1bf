"""Collections: named, per-owner groups of documents; `default` exists for everyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.tables import Collection, Document
from ragline.domain.errors import Conflict, NotFound, Unprocessable
from ragline.services import key_scopes

DEFAULT_COLLECTION = "default"
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class CollectionInfo:
    collection_id: str
    name: str
    documents: int
    chunks: int
    created_at: datetime


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or any(ord(ch) < 32 for ch in name):
        raise Unprocessable(
            f"a collection name needs 1 to {MAX_NAME_LENGTH} printable characters",
            code="invalid_collection_name",
        )
    return name


async def find_collection(session: AsyncSession, owner_id: str, name: str) -> Collection | None:
    found: Collection | None = await session.scalar(
        select(Collection).where(Collection.owner_id == owner_id, Collection.name == name)
    )
    return found


async def get_or_create_collection(session: AsyncSession, owner_id: str, name: str) -> Collection:
    name = valid_name(name)
    found = await find_collection(session, owner_id, name)
    if found is not None:
        return found
    if "/" in name:  # OWNER/NAME addresses a collection shared with the caller
        raise Unprocessable(f"no collection {name!r} to write to (a collection name cannot "
                            "contain '/'; OWNER/NAME is a shared collection)",
                            code="invalid_collection_name")
    try:
        async with session.begin_nested():
            created = Collection(owner_id=owner_id, name=name, version=0)
            session.add(created)
        return created
    except IntegrityError:  # created concurrently by another request or process
        found = await find_collection(session, owner_id, name)
        if found is None:
            raise
        return found


async def owned_collections(session: AsyncSession, owner_id: str) -> list[Collection]:
    return list(await session.scalars(select(Collection).where(Collection.owner_id == owner_id)))


async def collection_name(session: AsyncSession, collection_id: str) -> str:
    return str(await session.scalar(select(Collection.name).where(Collection.id == collection_id)))


async def create_collection(session: AsyncSession, owner_id: str, name: str) -> Collection:
    name = valid_name(name)
    if name == DEFAULT_COLLECTION:
        await get_or_create_collection(session, owner_id, name)
    if name == DEFAULT_COLLECTION or await find_collection(session, owner_id, name) is not None:
        raise Conflict(f"collection {name!r} already exists", code="collection_exists")
    return await get_or_create_collection(session, owner_id, name)


async def require_collection(session: AsyncSession, owner_id: str, name: str) -> Collection:
    """The named collection; `default` is created on first use, other names must exist."""
    if name == DEFAULT_COLLECTION:
        return await get_or_create_collection(session, owner_id, name)
    found = await find_collection(session, owner_id, name)
    if found is None:
        raise NotFound(f"collection {name!r} not found", code="collection_not_found")
    return found


async def list_collections(
    session: AsyncSession, owner_id: str, *, limit: int, after: tuple[datetime, str] | None = None
) -> list[CollectionInfo]:
    """Oldest first (so `default` leads), with document and chunk counts; limit+1 rows."""
    await get_or_create_collection(session, owner_id, DEFAULT_COLLECTION)
    documents = (
        select(func.count()).select_from(Document)
        .where(Document.collection_id == Collection.id).scalar_subquery()
    )
    chunks = (
        select(func.coalesce(func.sum(Document.chunks), 0))
        .where(Document.collection_id == Collection.id).scalar_subquery()
    )
    query = select(Collection, documents, chunks).where(Collection.owner_id == owner_id)
    if key_scopes.scoped():
        query = query.where(Collection.name.in_(key_scopes.allowed()))
    if after is not None:
        stamp, id_ = after
        query = query.where(or_(Collection.created_at > stamp,
                                and_(Collection.created_at == stamp, Collection.id > id_)))
    query = query.order_by(Collection.created_at, Collection.id).limit(limit + 1)
    rows = (await session.execute(query)).all()
    return [
        CollectionInfo(c.id, c.name, int(docs or 0), int(n or 0), c.created_at)
        for c, docs, n in rows
    ]


async def collection_counts(session: AsyncSession, ids: list[str]) -> dict[str, tuple[int, int]]:
    """Documents and chunks per collection id."""
    if not ids:
        return {}
    rows = (await session.execute(
        select(Document.collection_id, func.count(), func.coalesce(func.sum(Document.chunks), 0))
        .where(Document.collection_id.in_(ids)).group_by(Document.collection_id)
    )).all()
    return {cid: (int(docs), int(chunks)) for cid, docs, chunks in rows}
