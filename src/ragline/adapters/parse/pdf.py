"""PDF via pypdf: one section per page (page numbers kept), headings from the outline."""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from ragline.adapters.parse.base import (
    ParsedDocument,
    ParseError,
    Section,
    clean_text,
    first_line,
    require_text,
)

log = logging.getLogger(__name__)


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("the PDF is encrypted with a password; upload an unlocked copy")
        len(reader.pages)  # forces the page tree to load, so corrupt files fail here
        return reader
    except ParseError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise ParseError(f"the PDF is encrypted and cannot be read: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ParseError(f"the PDF is corrupt or not a PDF: {exc or type(exc).__name__}") from exc


def _outline_headings(reader: PdfReader) -> dict[int, tuple[str, ...]]:
    """Page index → heading path of the last outline entry starting on or before it."""
    starts: list[tuple[int, tuple[str, ...]]] = []

    def visit(items: list[Any], path: tuple[str, ...]) -> None:
        last: tuple[str, ...] = path
        for item in items:
            if isinstance(item, list):
                visit(item, last)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # broken destinations are common; skip them
                continue
            if page is None:
                continue
            last = (*path, str(item.title).strip())
            starts.append((page, last))

    try:
        visit(list(reader.outline), ())
    except Exception:
        return {}
    starts.sort(key=lambda s: s[0])
    headings: dict[int, tuple[str, ...]] = {}
    current: tuple[str, ...] = ()
    index = 0
    for page in range(len(reader.pages)):
        while index < len(starts) and starts[index][0] <= page:
            current = starts[index][1]
            index += 1
        headings[page] = current
    return headings


def parse_pdf(data: bytes) -> ParsedDocument:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(data)
        headings = _outline_headings(reader)
        sections: list[Section] = []
        for index, page in enumerate(reader.pages):
            try:
                text = clean_text(page.extract_text() or "")
            except Exception as exc:  # one bad page must not lose the rest
                log.warning("skipping unreadable PDF page %d: %s", index + 1, exc)
                continue
            if text:
                sections.append(Section(text, index + 1, headings.get(index, ())))
        meta_title = None
        try:
            meta_title = reader.metadata.title if reader.metadata else None
        except Exception:
            meta_title = None
    title = (str(meta_title).strip() if meta_title else "") or (
        first_line(sections[0].text) if sections else None
    )
    parsed = ParsedDocument(title=title or None, pages=len(reader.pages), sections=sections)
    if not parsed.sections:
        raise ParseError("the PDF has no extractable text (scanned images need OCR first)")
    return require_text(parsed, "PDF")
