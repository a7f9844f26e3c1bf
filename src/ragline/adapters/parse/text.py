"""Plain text: decode (UTF-8, UTF-16 with BOM, else Windows-1252) and split on form feeds."""

from __future__ import annotations

import codecs

from ragline.adapters.parse.base import (
    ParsedDocument,
    ParseError,
    Section,
    clean_text,
    first_line,
    pages_for_text,
    require_text,
)


def decode(data: bytes) -> str:
    """Decode bytes that claim to be text; refuse binary content."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data[:8192]:
        raise ParseError("the file looks binary, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_text(data: bytes) -> ParsedDocument:
    raw = decode(data)
    pages = raw.split("\f")
    paged = len(pages) > 1
    sections = [
        Section(text, page=number if paged else None)
        for number, text in enumerate((clean_text(p) for p in pages), start=1)
        if text
    ]
    body = "\n\n".join(s.text for s in sections)
    parsed = ParsedDocument(
        title=first_line(body),
        pages=len(pages) if paged else pages_for_text(len(body)),
        sections=sections,
    )
    return require_text(parsed, "text file")
