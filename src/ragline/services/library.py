"""Documents and jobs: register an upload (deduplicated by content hash), read, delete."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Collection, Document, Job, new_id
from ragline.adapters.index.store import bump_version, remove_chunks
from ragline.adapters.parse import KINDS, detect_kind
from ragline.adapters.uploads import UploadStore
from ragline.domain.errors import Conflict, NotFound, TooLarge, Unprocessable
from ragline.services import audit, key_scopes, sharing
from ragline.services.collections import (
    DEFAULT_COLLECTION,
)

FAILED, PENDING, PROCESSING, READY = "failed", "pending", "processing", "ready"


@dataclass(frozen=True)
class Registered:
    document: Document
    job: Job
    created: bool  # False: identical bytes were already in the collection


def _now() -> datetime:
    return datetime.now(UTC)


def check_payload(data: bytes, max_bytes: int) -> None:
    if not data:
        raise Unprocessable("the uploaded file is empty", code="empty_file")
    if len(data) > max_bytes:
        raise TooLarge(f"the file is larger than the limit of {max_bytes} bytes",
                       code="file_too_large", details={"max_bytes": max_bytes})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_name(filename: str | None) -> str:
    """The last path component only: `..\\..\\evil.pdf` is recorded as `evil.pdf`."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[:500] or "upload"


async def latest_job(session: AsyncSession, document_id: str) -> Job | None:
    job: Job | None = await session.scalar(
        select(Job).where(Job.document_id == document_id)
        .order_by(Job.created_at.desc(), Job.id.desc()).limit(1)
    )
    return job


async def latest_jobs(session: AsyncSession, document_ids: list[str]) -> dict[str, str]:
    """Document id → its newest job's id."""
    if not document_ids:
        return {}
    rows = await session.execute(
        select(Job.document_id, Job.id).where(Job.document_id.in_(document_ids))
        .order_by(Job.created_at, Job.id)
    )
    return {document_id: job_id for document_id, job_id in rows}


async def register_upload(
    db: Database,
    uploads: UploadStore,
    owner_id: str,
    collection: str,
    *,
    filename: str | None,
    data: bytes,
    content_type: str | None,
    source: str | None,
    max_bytes: int,
) -> Registered:
    """Store the bytes and create the document and its pending job (the caller enqueues it)."""
    check_payload(data, max_bytes)
    kind = detect_kind(filename, content_type, data)
    digest = await asyncio.to_thread(_sha256, data)  # ~0.1 s per 50 MiB: off the event loop
    name = display_name(filename)
    written: list[str] = []
    try:
        async with db.session() as session:
            target = await sharing.writable_collection(session, owner_id, collection,
                                                       create=True)
            existing = await session.scalar(select(Document).where(
                Document.collection_id == target.id, Document.content_hash == digest))
            if existing is not None:
                return await _reuse(session, uploads, existing, data, owner_id)
            document = Document(  # the collection's owner owns it, also when an editor uploads
                id=new_id(), collection_id=target.id, owner_id=target.owner_id,
                source=(source or name)[:1000], filename=name, content_type=KINDS[kind],
                content_hash=digest, size=len(data), status=PENDING,
            )
            job = Job(document_id=document.id, owner_id=owner_id, status=PENDING)
            await asyncio.to_thread(uploads.write, document.id, data)
            written.append(document.id)
            session.add_all([document, job])
            await session.flush()
            return Registered(document, job, created=True)
    except IntegrityError:  # the same bytes were registered concurrently
        for document_id in written:
            await asyncio.to_thread(uploads.delete, document_id)
        async with db.session() as session:
            target = await sharing.writable_collection(session, owner_id, collection,
                                                       create=True)
            existing = await session.scalar(select(Document).where(
                Document.collection_id == target.id, Document.content_hash == digest))
            if existing is None:
                raise
            return await _reuse(session, uploads, existing, data, owner_id)


async def _reuse(
    session: AsyncSession, uploads: UploadStore, document: Document, data: bytes, uploader: str
) -> Registered:
    """Identical bytes: the existing document; a failed one gets a fresh attempt (the
    uploader's job, so they can follow it)."""
    job = await latest_job(session, document.id)
    if document.status != FAILED and job is not None:
        return Registered(document, job, created=False)
    await asyncio.to_thread(uploads.write, document.id, data)
    document.status, document.error, document.updated_at = PENDING, None, _now()
    job = Job(document_id=document.id, owner_id=uploader, status=PENDING)
    session.add(job)
    await session.flush()
    return Registered(document, job, created=True)


async def replace_content(
    db: Database,
    uploads: UploadStore,
    owner_id: str,
    document_id: str,
    *,
    filename: str,
    data: bytes,
    max_bytes: int,
) -> Job:
    """New bytes for an existing document (an edited file): same id, a pending job (which the
    caller runs). Its old chunks stay searchable until the job replaces them."""
    check_payload(data, max_bytes)
    kind = detect_kind(filename, None, data)
    digest = await asyncio.to_thread(_sha256, data)
    try:
        async with db.session() as session:
            document = await get_document(session, owner_id, document_id)
            document.content_hash, document.size = digest, len(data)
            document.filename, document.content_type = display_name(filename), KINDS[kind]
            document.status, document.error, document.updated_at = PENDING, None, _now()
            job = Job(document_id=document.id, owner_id=owner_id, status=PENDING)
            session.add(job)
            await session.flush()
            await asyncio.to_thread(uploads.write, document.id, data)
            return job
    except IntegrityError as exc:
        raise Conflict("another document of the collection has these bytes",
                       code="duplicate_content") from exc


async def move_document(
    session: AsyncSession, owner_id: str, document_id: str, source: str
) -> None:
    """A renamed file: the document takes its new path (its chunks and vectors stay)."""
    document = await get_document(session, owner_id, document_id)
    document.source, document.filename = source[:1000], display_name(source)
    document.updated_at = _now()
    await bump_version(session, document.collection_id)


async def get_document(session: AsyncSession, owner_id: str, document_id: str) -> Document:
    document = await session.get(Document, document_id)
    if document is None or document.owner_id != owner_id:
        raise NotFound(f"document {document_id} not found", code="document_not_found")
    return document


async def readable_document(session: AsyncSession, user_id: str, document_id: str) -> Document:
    """The caller's document, or one of a collection shared with them; else 404."""
    document = await session.get(Document, document_id)
    if document is None or not await sharing.can_read_document(session, user_id, document):
        raise NotFound(f"document {document_id} not found", code="document_not_found")
    return document


async def get_job(session: AsyncSession, owner_id: str, job_id: str) -> Job:
    job = await session.get(Job, job_id)
    if job is None or job.owner_id != owner_id:
        raise NotFound(f"job {job_id} not found", code="job_not_found")
    return job


async def list_documents(
    session: AsyncSession,
    owner_id: str,
    collection: str | None,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[tuple[Document, str]]:
    """Newest first, each with its collection's name; limit+1 rows. Unknown collection: 404."""
    query = (select(Document, Collection.name)
             .join(Collection, Collection.id == Document.collection_id))
    if collection is None:
        query = query.where(Document.owner_id == owner_id)
        if key_scopes.scoped():
            query = query.where(Collection.name.in_(key_scopes.allowed()))
    else:
        found = await sharing.readable_collection(session, owner_id, collection)
        if found is None:
            if collection == "default":
                return []
            raise NotFound(f"collection {collection!r} not found", code="collection_not_found")
        query = query.where(Document.collection_id == found.id)
    if after is not None:
        stamp, id_ = after
        query = query.where(or_(Document.created_at < stamp,
                                and_(Document.created_at == stamp, Document.id < id_)))
    query = query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit + 1)
    return [(d, name) for d, name in (await session.execute(query)).all()]


async def delete_document(
    db: Database, uploads: UploadStore, owner_id: str, document_id: str
) -> None:
    """Chunks, jobs and the row go in one transaction with a version bump: gone from results.
    The collection's owner or an editor may (services/sharing.py)."""
    async with db.session() as session:
        document = await sharing.writable_document(session, owner_id, document_id)
        await remove_chunks(session, document_id=document.id,
                            collection_id=document.collection_id)
        await session.delete(document)
        await audit.record(session, owner_id, "document.delete", target_id=document.id,
                           target=document.source or "", collection_id=document.collection_id)
    await asyncio.to_thread(uploads.delete, document_id)


async def delete_collection(db: Database, uploads: UploadStore, owner_id: str, name: str) -> None:
    """The collection, its documents and their chunks in one transaction; then the uploads.

    `default` always exists (API contract), so it can only be emptied document by document."""
    if name == DEFAULT_COLLECTION:
        raise Conflict("the default collection always exists; delete its documents instead",
                       code="collection_protected")
    async with db.session() as session:
        collection = await sharing.owned_collection(session, owner_id, name)
        documents = list(await session.scalars(
            select(Document).where(Document.collection_id == collection.id)))
        for document in documents:
            await remove_chunks(session, document_id=document.id, collection_id=collection.id)
            await session.delete(document)
        await session.flush()
        await session.delete(collection)
        await audit.record(session, owner_id, "collection.delete", target_id=collection.id,
                           target=await audit.collection_label(session, owner_id, name),
                           documents=len(documents))
    for document in documents:
        await asyncio.to_thread(uploads.delete, document.id)
