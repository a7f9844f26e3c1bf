"""Parsing uploads to clean, structured text: detect the type, then dispatch to one parser."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath

from ragline.adapters.parse.base import ParsedDocument, ParseError, Section
from ragline.domain.errors import UnsupportedType

__all__ = ["KINDS", "ParseError", "ParsedDocument", "Section", "detect_kind", "parse"]

KINDS: dict[str, str] = {  # kind → the canonical MIME type recorded on the document
    "pdf": "application/pdf",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
EXTENSIONS = {
    ".pdf": "pdf", ".html": "html", ".htm": "html", ".xhtml": "html",
    ".md": "markdown", ".markdown": "markdown", ".mdown": "markdown", ".mkd": "markdown",
    ".txt": "text", ".text": "text", ".rst": "text", ".log": "text", ".docx": "docx",
}
MIME_TYPES = {mime: kind for kind, mime in KINDS.items()} | {
    "application/xhtml+xml": "html", "text/x-markdown": "markdown",
}
GENERIC_MIME = {"", "application/octet-stream", "binary/octet-stream"}


def _sniff(data: bytes) -> str | None:
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else None
        except zipfile.BadZipFile:
            return None
    lowered = head[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def _looks_like_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 4  # a multi-byte character cut by the sample
    return True


def detect_kind(filename: str | None, content_type: str | None, data: bytes) -> str:
    """The parser to use, from the extension, then the MIME type, then the bytes themselves."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in MIME_TYPES:
        return MIME_TYPES[mime]
    sniffed = _sniff(data)
    if sniffed:
        return sniffed
    if (not suffix or mime.startswith("text/")) and _looks_like_text(data):
        return "text"
    shown = suffix or mime or "unknown"
    raise UnsupportedType(
        f"unsupported file type {shown!r}: upload PDF, HTML, Markdown, plain text or DOCX",
        details={"filename": filename, "content_type": content_type},
    )


def _parsers() -> dict[str, Callable[[bytes], ParsedDocument]]:
    from ragline.adapters.parse.docx import parse_docx
    from ragline.adapters.parse.html import parse_html
    from ragline.adapters.parse.markdown import parse_markdown
    from ragline.adapters.parse.pdf import parse_pdf
    from ragline.adapters.parse.text import parse_text

    return {"pdf": parse_pdf, "html": parse_html, "markdown": parse_markdown,
            "text": parse_text, "docx": parse_docx}


def parse(
    filename: str | None, data: bytes, content_type: str | None = None, *, ocr: bool = True
) -> ParsedDocument:
    """Blocking: call it from a worker thread. Raises UnsupportedType or ParseError.

    PDF pages without a text layer are OCRed here, or with `ocr=False` left to the caller
    (listed in `scanned`; ingestion OCRs them as a stage of its own, with progress)."""
    kind = detect_kind(filename, content_type, data)
    if not data.strip():
        raise ParseError("the file is empty")
    parsed = _parsers()[kind](data)
    if parsed.scanned and ocr:
        from ragline.adapters.parse.ocr import ocr_page
        from ragline.adapters.parse.pdf import with_ocr_text

        parsed = with_ocr_text(parsed, {page: ocr_page(data, page) for page in parsed.scanned})
    return parsed
