"""PDF via pypdf: sections per page (page numbers kept), cut where the outline's headings are."""

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
from ragline.adapters.parse.pdf_tables import pages_with_tables

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


def _outline_starts(reader: PdfReader) -> list[tuple[int, tuple[str, ...]]]:
    """(page index, heading path) of each outline entry, in page order (outline order within
    a page, which is reading order)."""
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
        return []
    starts.sort(key=lambda s: s[0])
    return starts


def _split_at_headings(text: str, paths: list[tuple[str, ...]], before: tuple[str, ...]
                       ) -> list[tuple[str, tuple[str, ...]]]:
    """A page's text cut where the lines of its outline entries' titles are, each piece under
    its own heading path (`before`: the path in effect where the page starts). Without any
    title found, the page keeps the path of its last entry, as one piece."""
    lines = text.split("\n")
    cuts: list[tuple[int, tuple[str, ...]]] = []
    at = 0
    for path in paths:
        title = path[-1].casefold()
        found = next((i for i in range(at, len(lines)) if lines[i].strip().casefold() == title),
                     None)
        if found is not None:
            cuts.append((found, path))
            at = found + 1
    if not cuts:
        return [(text, paths[-1] if paths else before)]
    pieces = [("\n".join(lines[: cuts[0][0]]).strip(), before)]
    carried = ""  # a heading followed at once by a subheading joins the subheading's piece
    for n, (line, path) in enumerate(cuts):
        end = cuts[n + 1][0] if n + 1 < len(cuts) else len(lines)
        if end == line + 1 and n + 1 < len(cuts):
            carried += lines[line] + "\n"
            continue
        pieces.append((carried + "\n".join(lines[line:end]).strip(), path))
        carried = ""
    return [(piece, path) for piece, path in pieces if piece]


def parse_pdf(data: bytes) -> ParsedDocument:
    """Text pages become sections (tables as Markdown); pages without a text layer are listed
    in `scanned` for OCR (see `ocr.py`), and the caller checks there is text in the end."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(data)
        starts = _outline_starts(reader)
        sections: list[Section] = []
        scanned: list[int] = []
        tables = pages_with_tables(data)
        for index, page in enumerate(reader.pages):
            try:
                text = tables.get(index + 1) or clean_text(page.extract_text() or "")
            except Exception as exc:  # one bad page must not lose the rest
                log.warning("skipping unreadable PDF page %d: %s", index + 1, exc)
                continue
            if text:
                before = next((p for page, p in reversed(starts) if page < index), ())
                on_page = [p for page, p in starts if page == index]
                sections += [Section(piece, index + 1, path) for piece, path
                             in _split_at_headings(text, on_page, before)]
            else:
                scanned.append(index + 1)
        meta_title = None
        try:
            meta_title = reader.metadata.title if reader.metadata else None
        except Exception:
            meta_title = None
    title = (str(meta_title).strip() if meta_title else "") or (
        first_line(sections[0].text) if sections else None
    )
    return ParsedDocument(title=title or None, pages=len(reader.pages), sections=sections,
                          scanned=tuple(scanned))


def with_ocr_text(parsed: ParsedDocument, texts: dict[int, str]) -> ParsedDocument:
    """The document with the OCRed pages' text in page order; no text at all is an error."""
    sections = list(parsed.sections)
    sections += [Section(text, page, ()) for page, text in texts.items() if text]
    sections.sort(key=lambda s: s.page or 0)
    title = parsed.title or (first_line(sections[0].text) if sections else None)
    merged = ParsedDocument(title=title, pages=parsed.pages, sections=sections)
    if not merged.sections:
        raise ParseError("the PDF has no extractable text, not even by OCR")
    return require_text(merged, "PDF")
