"""The MCP tools as plain use cases: search, ask, list collections, read a document.

Both transports (streamable HTTP at `/mcp`, stdio for `ragline mcp`) call these through the
thin adapter in `server.py`. Every query is scoped by the caller's user id, as in the REST API;
failures are the domain's errors, which the adapter turns into MCP tool errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragline.bootstrap import Container
from ragline.domain.errors import InvalidInput
from ragline.domain.events import RunEvent, Sources, Status
from ragline.domain.runs import RunState
from ragline.services import threads as svc
from ragline.services.conversation import DEFAULT_COLLECTION, answer_batches
from ragline.services.document_pages import page_text
from ragline.services.documents import DocumentService
from ragline.web.deps import Principal

Report = Callable[[str], Awaitable[None]]
LISTING_LIMIT = 1000
SHOWN_STATUSES = ("pending", "ready", "failed")  # the rest are stages of `processing`


@dataclass(frozen=True)
class Caller:
    """Who calls a tool, and the started adapters to answer with."""

    container: Container
    principal: Principal

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    @property
    def documents(self) -> DocumentService:
        return self.container.documents


class Passage(BaseModel):
    document_id: str
    source: str
    title: str | None
    page: int | None
    text: str
    score: float


class SearchResult(BaseModel):
    passages: list[Passage]


class Source(BaseModel):
    document_id: str
    source: str
    title: str | None = None
    page: int | None = None
    chunk_id: str | int | None = None
    score: float | None = None
    text: str = ""


class Claim(BaseModel):
    """A sentence of the answer and the sources that back it (docs/api.md §1, `final.claims`)."""

    model_config = ConfigDict(extra="allow")  # claims may grow fields; pass them on

    text: str
    start: int | None = None
    end: int | None = None
    sources: list[int] = Field(default_factory=list)
    supported: bool | None = None
    score: float | None = None


class AskResult(BaseModel):
    answer: str
    sources: list[Source]
    claims: list[Claim]
    thread_id: str
    run_id: str


class CollectionItem(BaseModel):
    collection_id: str
    name: str
    documents: int
    chunks: int
    created_at: datetime


class CollectionList(BaseModel):
    collections: list[CollectionItem]


class DocumentItem(BaseModel):
    document_id: str
    source: str
    title: str | None
    content_type: str
    status: str
    pages: int
    chunks: int


class DocumentPage(DocumentItem):
    collection: str
    error: str | None
    page: int | None
    text: str | None
    next_page: int | None


class CollectionListing(BaseModel):
    collection: str
    documents: list[DocumentItem]


async def search(
    caller: Caller, query: str, collection: str | None, top_k: int,
    mode: Literal["hybrid", "bm25", "vector"],
) -> SearchResult:
    if not query.strip():
        raise InvalidInput("query must not be blank", code="empty_query")
    hits = await caller.documents.search(caller.user_id, query, collection, top_k, mode)
    return SearchResult(passages=[Passage(**hit) for hit in hits])


async def ask(
    caller: Caller, question: str, collection: str | None, thread_id: str | None, report: Report
) -> AskResult:
    """Post the question on a new or given thread and follow its run to the end."""
    container, user = caller.container, caller.principal
    if thread_id is None:
        collection = collection or DEFAULT_COLLECTION
        await container.documents.check_collection(user.user_id, collection)
        model = container.models.resolve()
        async with container.db.session() as session:
            thread = await svc.create_thread(
                session, user.user_id, title=question[:200], collection=collection,
                model=model, metadata={"surface": "mcp"},
            )
        thread_id = thread.id
    else:
        async with container.db.session() as session:
            thread = await svc.get_thread(session, user.user_id, thread_id)
        model = container.models.resolve(thread.model)
        await container.documents.check_collection(user.user_id, collection)
    posted = await svc.post_message(
        container.db, container.runs, owner_id=user.user_id, thread_id=thread_id,
        content=question, model=model, collection=collection, on_active="enqueue",
        max_bytes=container.settings.max_message_bytes,
    )
    state = await _follow(container, posted.run_id, report)
    state.raise_for_status()
    return AskResult(
        answer=state.content, sources=[Source(**s) for s in state.source_payloads()],
        claims=[Claim(**c) for c in state.claims or []], thread_id=thread_id,
        run_id=posted.run_id,
    )


async def _follow(container: Container, run_id: str, report: Report) -> RunState:
    """Gather the run's answer, reporting each stage and the tokens once per batch of events.

    A caller that goes away cancels the run: nobody else is waiting for this answer.
    """
    state = RunState(run_id)
    batches = answer_batches(container.db, container.bus, container.runs, run_id,
                             cancel_on_exit=True)
    async with aclosing(batches):
        async for batch in batches:
            generated = state.tokens
            messages = state.apply_batch(batch, progress_messages)
            if state.tokens > generated:  # one report per batch of tokens, not one per token
                messages.append(f"generating: {state.tokens} tokens")
            for message in messages:
                await report(message)
    return state


def progress_messages(state: RunState, event: RunEvent) -> list[str]:
    """What a stage or the passages found look like in a progress report."""
    if isinstance(event, Status):
        return [stage_message(event.payload())]
    if isinstance(event, Sources):
        return [f"found {len(event.sources)} passages"]
    return []


def stage_message(status: dict[str, Any]) -> str:
    """`{"status","stage"?,"progress"?,"position"?}` in words: `reading 40%`, `queued (2)`."""
    stage = str(status.get("stage") or status.get("status") or "running")
    if status.get("position") is not None:
        return f"{stage} (position {status['position']})"
    if isinstance(status.get("progress"), int | float):
        return f"{stage} {round(100 * float(status['progress']))}%"
    return stage


async def list_collections(caller: Caller) -> CollectionList:
    rows = await caller.documents.list_collections(caller.user_id, limit=LISTING_LIMIT)
    return CollectionList(collections=[CollectionItem(**vars(info)) for info in rows])


async def collection_listing(caller: Caller, name: str) -> CollectionListing:
    """The documents of one collection (the MCP resource for it)."""
    views = await caller.documents.list_documents(caller.user_id, name, limit=LISTING_LIMIT)
    return CollectionListing(collection=name, documents=[
        DocumentItem(document_id=v.document.id, source=v.document.source, title=v.document.title,
                     content_type=v.document.content_type, status=_status(v.document.status),
                     pages=v.document.pages, chunks=v.document.chunks)
        for v in views[:LISTING_LIMIT]
    ])


async def get_document(caller: Caller, document_id: str, page: int | None) -> DocumentPage:
    """Metadata and one page of text (the first unless `page` says); text only once ready."""
    docs = caller.documents
    view = await docs.get_document(caller.user_id, document_id)
    d = view.document
    out = DocumentPage(
        document_id=d.id, source=d.source, title=d.title, content_type=d.content_type,
        status=_status(d.status), pages=d.pages, chunks=d.chunks, collection=view.collection,
        error=d.error, page=None, text=None, next_page=None,
    )
    if d.status != "ready":
        return out
    found = await page_text(docs.uploads, d, page or 1)
    return out.model_copy(update={
        "page": found.page, "pages": found.pages, "text": found.text,
        "next_page": found.page + 1 if found.page < found.pages else None,
    })


def _status(status: str) -> str:
    return status if status in SHOWN_STATUSES else "processing"
