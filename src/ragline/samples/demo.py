"""The demo collection: a few template-written sample CVs, ingested through the normal upload
path, so that a new user has something to chat with at once (no model needed to make them)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ragline.services.documents import DocumentView
    from ragline.services.library import Registered

DEMO_COLLECTION = "demo"
DEMO_COUNT = 5
DEMO_SEED = 1


class Uploads(Protocol):
    """What the demo needs from the document service."""

    async def collection_version(self, owner_id: str, collection: str) -> int | None: ...

    async def list_documents(self, owner_id: str, collection: str | None, *,
                             limit: int) -> list[DocumentView]: ...

    async def upload(self, owner_id: str, *, filename: str | None, data: bytes,
                     content_type: str | None = None, collection: str | None = None,
                     source: str | None = None) -> Registered: ...


@dataclass(frozen=True)
class DemoDocument:
    name: str
    title: str
    source: str
    document_id: str
    job_id: str
    created: bool


def demo_pdf(seed: int, index: int) -> tuple[str, str, str, bytes]:
    """(person, title, file name, PDF bytes) of sample CV `index`: blocking, about half a second."""
    from ragline.samples.facts import seeded_cv
    from ragline.samples.prose import template_prose, with_prose
    from ragline.samples.render import render_html, render_pdf

    skeleton, facts = seeded_cv(seed, index)
    cv = with_prose(skeleton, template_prose(skeleton, random.Random(f"prose:{seed}:{index}")))
    pdf = render_pdf(render_html(cv, facts.layout))
    return cv.name, cv.title, f"{index + 1:03d}-{facts.slug}.pdf", pdf


async def load_demo(docs: Uploads, owner_id: str, *, collection: str = DEMO_COLLECTION,
                    count: int = DEMO_COUNT, seed: int = DEMO_SEED) -> list[DemoDocument]:
    """Generate `count` CVs and queue their ingestion into `collection` (created if needed).
    Sample CVs already there are kept, not added twice."""
    from ragline.samples.facts import seeded_cv  # Faker and the renderer: only when asked

    existing: dict[str, DocumentView] = {}
    if await docs.collection_version(owner_id, collection) is not None:
        views = await docs.list_documents(owner_id, collection, limit=1000)
        existing = {view.document.source: view for view in views}
    loaded = []
    for index in range(count):
        skeleton, facts = seeded_cv(seed, index)
        filename = f"{index + 1:03d}-{facts.slug}.pdf"
        view = existing.get(f"samples/{filename}")
        if view is not None and view.job_id is not None:
            loaded.append(DemoDocument(skeleton.name, skeleton.title, view.document.source,
                                       view.document.id, view.job_id, False))
            continue
        name, title, filename, pdf = await asyncio.to_thread(demo_pdf, seed, index)
        registered = await docs.upload(owner_id, filename=filename, data=pdf,
                                       content_type="application/pdf", collection=collection,
                                       source=f"samples/{filename}")
        loaded.append(DemoDocument(name, title, registered.document.source,
                                   registered.document.id, registered.job.id,
                                   registered.created))
    return loaded
