"""The OCR stage of ingestion: each scanned PDF page read in a worker thread, progress reported
after every page (a scanned page takes seconds, so the job shows the stage and moves)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ragline.adapters.parse import ParsedDocument

Report = Callable[[float], Awaitable[None]]  # the share of the scanned pages done, 0..1


async def read_scanned_pages(data: bytes, parsed: ParsedDocument, report: Report) -> ParsedDocument:
    """The document with the text of its scanned pages; unchanged when it has none."""
    if not parsed.scanned:
        return parsed
    from ragline.adapters.parse.ocr import ocr_page  # pypdf and the OCR: only for scans
    from ragline.adapters.parse.pdf import with_ocr_text

    texts: dict[int, str] = {}
    for done, page in enumerate(parsed.scanned, start=1):
        texts[page] = await asyncio.to_thread(ocr_page, data, page)
        await report(done / len(parsed.scanned))
    return with_ocr_text(parsed, texts)
