"""A document's text page by page, read again from its original upload.

PDF pages are the file's own pages (the `page` that search results and sources cite); formats
without pages are cut into pages of `PAGE_CHARS` characters, the size `pages_for_text` counts.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from ragline.adapters.db.tables import Document
from ragline.adapters.parse import parse
from ragline.adapters.uploads import UploadStore
from ragline.domain.errors import InvalidInput, NotFound

PAGE_CHARS = 3000


@dataclass(frozen=True)
class PageText:
    page: int
    pages: int
    text: str


async def page_text(uploads: UploadStore, document: Document, page: int) -> PageText:
    """Page `page` (1-based) of the document; out of range is invalid input."""
    path = uploads.path_for(document.id)
    try:
        pages = await asyncio.to_thread(
            _pages, str(path), document.filename, document.content_type, document.content_hash
        )
    except FileNotFoundError as exc:
        raise NotFound(f"the original file of document {document.id} is no longer stored",
                       code="file_not_found") from exc
    if not 1 <= page <= len(pages):
        raise InvalidInput(f"page {page} is out of range: the document has {len(pages)} pages",
                           code="page_out_of_range", details={"pages": len(pages)})
    return PageText(page, len(pages), pages[page - 1])


@functools.lru_cache(maxsize=8)
def _pages(path: str, filename: str, content_type: str, _content_hash: str) -> tuple[str, ...]:
    """Blocking; cached by content hash, so a document paged through is parsed once."""
    with open(path, "rb") as file:
        parsed = parse(filename, file.read(), content_type)
    if any(section.page is not None for section in parsed.sections):
        by_page: dict[int, list[str]] = {n: [] for n in range(1, parsed.pages + 1)}
        for section in parsed.sections:
            by_page.setdefault(section.page or 1, []).append(section.text)
        return tuple("\n\n".join(by_page[n]) for n in sorted(by_page))
    text = "\n\n".join(section.text for section in parsed.sections)
    return tuple(text[i:i + PAGE_CHARS] for i in range(0, len(text), PAGE_CHARS)) or ("",)
