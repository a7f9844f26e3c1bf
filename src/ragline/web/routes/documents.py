"""Collections, documents, ingestion jobs and search (docs/api.md §2)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from ragline.adapters.parse import KINDS
from ragline.domain.errors import InvalidInput, NotFound, TooLarge, Unprocessable
from ragline.services.documents import DocumentView, Job, SyncJob
from ragline.web.deps import CurrentUser, DocumentsDep
from ragline.web.hygiene import check_text
from ragline.web.pagination import CursorParam, LimitParam, decode_cursor, page
from ragline.web.sync_views import SyncJobOut, sync_job_out

router = APIRouter(prefix="/api", tags=["documents"])
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small text fields


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class CollectionOut(BaseModel):
    collection_id: str
    name: str
    documents: int = 0
    chunks: int = 0
    created_at: datetime


class DocumentOut(BaseModel):
    document_id: str
    job_id: str | None
    collection: str
    source: str
    title: str | None
    filename: str
    content_type: str
    size: int
    status: str
    pages: int
    chunks: int
    error: str | None
    created_at: datetime
    updated_at: datetime
    language: str | None = None  # ISO 639-1, once indexed (keyword search stems by it)


class JobOut(BaseModel):
    job_id: str
    kind: Literal["ingest"] = "ingest"
    document_id: str
    status: str
    progress: float
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    collection: str | None = Field(default=None, max_length=200)
    top_k: int = Field(default=5, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "vector"] = "hybrid"
    document_id: str | list[str] | None = None


class SearchHit(BaseModel):
    chunk_id: str
    document_id: str
    source: str
    title: str | None
    page: int | None
    heading: str | None
    text: str
    score: float
    relevance: float
    term_match: float = 0.0


class SearchOut(BaseModel):
    results: list[SearchHit]


def document_out(view: DocumentView) -> DocumentOut:
    d = view.document
    status = "processing" if d.status not in ("pending", "ready", "failed") else d.status
    return DocumentOut(
        document_id=d.id, job_id=view.job_id, collection=view.collection, source=d.source,
        title=d.title, filename=d.filename, content_type=d.content_type, size=d.size,
        status=status, pages=d.pages, chunks=d.chunks, error=d.error, created_at=d.created_at,
        updated_at=d.updated_at, language=d.language,
    )


def job_out(job: Job) -> JobOut:
    return JobOut(job_id=job.id, document_id=job.document_id, status=job.status,
                  progress=job.progress, error=job.error, attempts=job.attempts,
                  created_at=job.created_at, updated_at=job.updated_at)


@router.post("/collections", status_code=201, response_model=CollectionOut)
async def create_collection(body: CollectionIn, docs: DocumentsDep, user: CurrentUser) -> Any:
    return await docs.create_collection(user.user_id, body.name)


@router.get("/collections")
async def list_collections(
    docs: DocumentsDep, user: CurrentUser, limit: LimitParam = 100, cursor: CursorParam = None
) -> dict[str, Any]:
    after = decode_cursor(cursor) if cursor else None
    rows = await docs.list_collections(user.user_id, limit=limit, after=after)
    items = [CollectionOut(**vars(info)) for info in rows]
    return page(items, limit, lambda c: (c.created_at, c.collection_id))


@router.delete("/collections/{name}", status_code=204)
async def delete_collection(name: str, docs: DocumentsDep, user: CurrentUser) -> Response:
    """The collection with its documents and their chunks (`default` can't be deleted: 409)."""
    await docs.delete_collection(user.user_id, name)
    return Response(status_code=204)


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "collection": {"type": "string", "default": "default"},
        "source": {"type": "string", "description": "path or URL to record; default the name"},
    }}}}}}


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes",
                       code="file_too_large", details={"max_bytes": limit})
    return data


@router.post("/documents", status_code=202, openapi_extra=UPLOAD_BODY,
             responses={200: {"description": "identical bytes: the existing document"}})
async def upload_document(request: Request, docs: DocumentsDep, user: CurrentUser) -> Response:
    limit = docs.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes",
                       code="file_too_large", details={"max_bytes": limit})
    try:
        form = await request.form(max_files=1, max_fields=10)
    except MultiPartException as exc:
        raise InvalidInput(f"malformed multipart body: {exc.message}") from exc
    except AssertionError as exc:  # no python-multipart or wrong content type
        raise Unprocessable("send the file as multipart/form-data") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable("the multipart field `file` is required", code="file_missing")
        check_text(upload.filename, "file.filename")
        collection, source = form.get("collection"), form.get("source")
        for field, value in (("collection", collection), ("source", source)):
            check_text(value if isinstance(value, str) else None, field)
        name = collection.strip() if isinstance(collection, str) and collection.strip() else None
        registered = await docs.upload(
            user.user_id, filename=upload.filename, data=await _read_limited(upload, limit),
            content_type=upload.content_type, collection=name,
            source=source if isinstance(source, str) and source else None,
        )
    finally:
        await form.close()
    view = DocumentView(registered.document, name or "default", registered.job.id)
    body = document_out(view).model_dump(mode="json")
    if registered.created:
        body["status"] = "pending"
    return JSONResponse(body, status_code=202 if registered.created else 200)


@router.get("/documents")
async def list_documents(
    docs: DocumentsDep,
    user: CurrentUser,
    collection: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitParam = 50,
    cursor: CursorParam = None,
) -> dict[str, Any]:
    after = decode_cursor(cursor) if cursor else None
    views = await docs.list_documents(user.user_id, collection, limit=limit, after=after)
    return page([document_out(v) for v in views], limit, lambda d: (d.created_at, d.document_id))


@router.get("/documents/{document_id}", response_model=DocumentOut)
async def get_document(document_id: str, docs: DocumentsDep, user: CurrentUser) -> DocumentOut:
    return document_out(await docs.get_document(user.user_id, document_id))


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The bytes as uploaded, with the document's content type. A PDF opens "
          "inline (append `#page=N` to open it at a page); other types may not run scripts.",
          "content": {mime: {"schema": {"type": "string", "format": "binary"}}
                      for mime in KINDS.values()}},
    404: {"description": "unknown document, or not the caller's"},
}
INLINE_TYPES = {KINDS["pdf"], KINDS["html"], KINDS["markdown"], KINDS["text"]}


@router.get("/documents/{document_id}/file", response_class=FileResponse,
            responses=FILE_RESPONSES)
async def get_document_file(document_id: str, docs: DocumentsDep, user: CurrentUser) -> Response:
    """The original uploaded file."""
    document = (await docs.get_document(user.user_id, document_id)).document
    path = docs.uploads.path_for(document.id)
    if not await asyncio.to_thread(path.is_file):
        raise NotFound(f"the original file of document {document_id} is no longer stored",
                       code="file_not_found")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
    if document.content_type != KINDS["pdf"]:  # an uploaded HTML page must not run as ours
        headers["Content-Security-Policy"] = "sandbox"
    inline = document.content_type in INLINE_TYPES
    return FileResponse(path, media_type=document.content_type, filename=document.filename,
                        headers=headers,
                        content_disposition_type="inline" if inline else "attachment")


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, docs: DocumentsDep, user: CurrentUser) -> Response:
    await docs.delete_document(user.user_id, document_id)
    return Response(status_code=204)


@router.get("/jobs/{job_id}", response_model=JobOut | SyncJobOut)
async def get_job(job_id: str, docs: DocumentsDep, user: CurrentUser) -> JobOut | SyncJobOut:
    """An ingestion job, or a sync job (`kind: "sync"`, with its counts)."""
    job = await docs.get_any_job(user.user_id, job_id)
    return sync_job_out(job) if isinstance(job, SyncJob) else job_out(job)


@router.post("/search", response_model=SearchOut)
async def search(body: SearchIn, docs: DocumentsDep, user: CurrentUser) -> SearchOut:
    if not body.query.strip():
        raise Unprocessable("query must not be blank", code="empty_query")
    documents = [body.document_id] if isinstance(body.document_id, str) else body.document_id
    hits = await docs.search(user.user_id, body.query, body.collection, body.top_k, body.mode,
                             document_ids=documents)
    return SearchOut(results=[SearchHit(**hit) for hit in hits])
