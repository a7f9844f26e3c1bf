"""Read-only links to a thread: made, listed and revoked by its owner, opened by anyone holding
the link (`public`) or by any signed-in user (not public).

A link is a secret token; only its hash is stored, so the token is shown once, when the link is
made. A `snapshot` link keeps the messages as they were then (later messages, rewinds and edits
do not show); a `live` link shows the thread as it is. Deleting the thread or revoking the link
ends it on the next request. The viewer reads the answers, not the documents: a source shows
only where the viewer may read its document themselves (`sharing.can_read_document`, the one
check every surface uses); the others show as `{"withheld": true}` in their place, so the
answer's `[n]` markers and its claims keep their numbers.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ragline.adapters.db.database import Database
from ragline.adapters.db.tables import Document, Thread, ThreadLink, User
from ragline.domain.errors import NotFound, Unauthorized
from ragline.services import audit, sharing
from ragline.services.identity import hash_key
from ragline.services.thread_export import ExportedMessage, thread_as_export
from ragline.services.threads import get_thread

Mode = Literal["snapshot", "live"]
WITHHELD: dict[str, Any] = {"withheld": True}


def new_token() -> str:
    return "rls_" + secrets.token_urlsafe(24)


def link_dict(link: ThreadLink) -> dict[str, Any]:
    return {"link_id": link.id, "thread_id": link.thread_id, "mode": link.mode,
            "public": link.public, "created_at": link.created_at}


async def create_link(db: Database, owner_id: str, thread_id: str, *, mode: Mode,
                      public: bool) -> dict[str, Any]:
    """A new link to the owner's thread; the result carries its `token`, shown only now."""
    token = new_token()
    async with db.session() as session:
        thread = await get_thread(session, owner_id, thread_id)
        snapshot = None
        if mode == "snapshot":
            exported = await thread_as_export(session, thread)
            snapshot = [m.model_dump(mode="json") for m in exported.messages]
        link = ThreadLink(thread_id=thread.id, token_hash=hash_key(token), mode=mode,
                          public=public, snapshot=snapshot)
        session.add(link)
        await session.flush()
        await audit.record(session, owner_id, "thread.link", target_id=thread.id,
                           target=thread.title or "", link_id=link.id, mode=mode,
                           public=public)
        return {**link_dict(link), "token": token, "path": f"/shared/{token}"}


async def list_links(db: Database, owner_id: str, thread_id: str) -> list[dict[str, Any]]:
    async with db.session() as session:
        await get_thread(session, owner_id, thread_id)
        links = await session.scalars(
            select(ThreadLink).where(ThreadLink.thread_id == thread_id)
            .order_by(ThreadLink.created_at, ThreadLink.id))
        return [link_dict(link) for link in links]


async def revoke_link(db: Database, owner_id: str, thread_id: str, link_id: str) -> None:
    async with db.session() as session:
        thread = await get_thread(session, owner_id, thread_id)
        link = await session.get(ThreadLink, link_id)
        if link is None or link.thread_id != thread.id:
            raise NotFound(f"link {link_id} not found", code="link_not_found")
        await session.delete(link)
        await audit.record(session, owner_id, "thread.unlink", target_id=thread.id,
                           target=thread.title or "", link_id=link.id)


async def open_link(db: Database, token: str, viewer_id: str | None) -> dict[str, Any]:
    """What the link shows to `viewer_id` (None: nobody signed in). An unknown or revoked
    token is 404; a link that is not public asks a viewer who is not signed in to sign in."""
    async with db.session() as session:
        link = await session.scalar(
            select(ThreadLink).where(ThreadLink.token_hash == hash_key(token)))
        if link is None:
            raise NotFound("this link does not exist or was revoked", code="link_not_found")
        if viewer_id is None and not link.public:
            raise Unauthorized("this link is for signed-in users: send your API key")
        thread = await session.get(Thread, link.thread_id)
        assert thread is not None  # the link is deleted with its thread
        if link.snapshot is not None:
            messages = [ExportedMessage.model_validate(m) for m in link.snapshot]
        else:
            messages = (await thread_as_export(session, thread)).messages
        owner = await session.scalar(select(User.name).where(User.id == thread.owner_id))
        readable = _Readable(session, viewer_id)
        shown = [await _message_view(m, readable) for m in messages]
    return {
        "link": {"mode": link.mode, "public": link.public, "created_at": link.created_at},
        "thread": {"title": thread.title, "created_at": thread.created_at},
        "shared_by": owner,
        "messages": shown,
    }


class _Readable:
    """Whether the viewer may read a document, asked once per document."""

    def __init__(self, session: AsyncSession, viewer_id: str | None) -> None:
        self.session, self.viewer_id = session, viewer_id
        self.known: dict[str, bool] = {}

    async def __call__(self, document_id: Any) -> bool:
        if self.viewer_id is None or not isinstance(document_id, str):
            return False
        if document_id not in self.known:
            document = await self.session.get(Document, document_id)
            self.known[document_id] = document is not None and await sharing.can_read_document(
                self.session, self.viewer_id, document)
        return self.known[document_id]


async def _message_view(m: ExportedMessage, readable: _Readable) -> dict[str, Any]:
    sources = None
    if m.sources is not None:
        sources = [s if await readable(s.get("document_id")) else dict(WITHHELD)
                   for s in m.sources]
    return {"role": m.role, "content": m.content, "sources": sources, "claims": m.claims,
            "state": m.state, "created_at": m.created_at}

