"""Reading a stored upload in bounded pieces, so a large file never sits whole in memory.

Plain text streams: the file is read in pieces of about `piece_chars` characters, each cut at
a paragraph break, decoded incrementally, cleaned and handed on as the sections of that piece.
The other kinds (PDF, DOCX, HTML, Markdown) need the whole document to find their structure;
they are parsed whole, as before, and their sections handed on in groups. Every call here is
blocking: ingestion runs them in a worker thread, one piece at a time.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ragline.adapters.parse import detect_kind, parse
from ragline.adapters.parse.base import (
    ParsedDocument,
    ParseError,
    Section,
    clean_text,
    first_line,
    pages_for_text,
)

PIECE_CHARS = 1 << 20  # about 1 MiB of text per piece
_READ = 1 << 20
_HEAD = 64 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass
class SectionStream:
    """A document's sections, piece by piece; `title` and `pages` are final once exhausted
    (a streamed text knows its title after the first piece). `whole` is the parse of a kind
    that does not stream (the caller may still OCR its scanned pages)."""

    path: Path
    kind: str
    total_bytes: int
    whole: ParsedDocument | None = None
    title: str | None = None
    pages: int = 0
    read_bytes: int = 0
    encoding: str = "utf-8"
    form_feeds: int = 0
    piece_chars: int = PIECE_CHARS
    _chars: int = field(default=0, repr=False)
    _sections: int = field(default=0, repr=False)

    @property
    def fraction(self) -> float:
        return min(1.0, self.read_bytes / self.total_bytes) if self.total_bytes else 1.0

    def pieces(self) -> Iterator[list[Section]]:
        """Lists of sections of bounded total size; iterate in a worker thread."""
        if self.whole is not None:
            yield from self._whole_pieces(self.whole)
        else:
            yield from self._text_pieces()

    def _whole_pieces(self, parsed: ParsedDocument) -> Iterator[list[Section]]:
        self.title, self.pages = parsed.title, parsed.pages
        group: list[Section] = []
        size = 0
        for section in parsed.sections:
            group.append(section)
            size += len(section.text)
            if size >= self.piece_chars:
                yield group
                group, size = [], 0
        self.read_bytes = self.total_bytes
        if group:
            yield group

    def _text_pieces(self) -> Iterator[list[Section]]:
        paged = self.form_feeds > 0
        page = 1
        for text in _decoded_pieces(self.path, self.encoding, self.piece_chars, self):
            sections: list[Section] = []
            parts = text.split("\f")
            for index, part in enumerate(parts):
                if index:
                    page += 1
                cleaned = clean_text(part)
                if cleaned:
                    sections.append(Section(cleaned, page=page if paged else None))
            for section in sections:
                if self.title is None:
                    self.title = first_line(section.text)
                self._chars += len(section.text)
                self._sections += 1
            if sections:
                yield sections
        if not self._sections:
            raise ParseError("the text file contains no extractable text")
        body = self._chars + 2 * (self._sections - 1)
        self.pages = self.form_feeds + 1 if paged else pages_for_text(body)


def _cut(buffer: str, limit: int) -> int:
    """Where to end a piece of at most `limit` characters: a blank line, else a line break,
    else a space, else the limit."""
    for mark in ("\n\n", "\f", "\n", " "):
        at = buffer.rfind(mark, 0, limit)
        if at > 0:
            return at + len(mark)
    return limit


def _decoded_pieces(
    path: Path, encoding: str, piece_chars: int, progress: SectionStream
) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    buffer = ""
    with path.open("rb") as file:
        while block := file.read(_READ):
            progress.read_bytes += len(block)
            buffer += decoder.decode(block)
            while len(buffer) >= piece_chars:
                at = _cut(buffer, piece_chars)
                yield buffer[:at]
                buffer = buffer[at:]
        buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer


def _text_encoding(path: Path, head: bytes) -> tuple[str, int]:
    """The encoding `parse_text` would choose (BOM, else UTF-8 if the whole file is, else
    Windows-1252) and the number of form feeds, in one pass of bounded memory."""
    encoding = next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8")
    if encoding == "utf-8" and b"\x00" in head[:8192]:
        raise ParseError("the file looks binary, not text")
    feeds = 0
    strict = "strict" if encoding == "utf-8" else "replace"
    decoder = codecs.getincrementaldecoder(encoding)(errors=strict)
    with path.open("rb") as file:
        try:
            while block := file.read(_READ):
                feeds += decoder.decode(block).count("\f")
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            if encoding != "utf-8":
                raise
            encoding, feeds = "cp1252", 0
            file.seek(0)
            while block := file.read(_READ):
                feeds += block.count(b"\f")
    return encoding, feeds


def open_sections(
    path: Path, filename: str | None, content_type: str | None, *, piece_chars: int = PIECE_CHARS
) -> SectionStream:
    """Blocking. Plain text streams; other kinds are parsed whole here (without OCR)."""
    total = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(_HEAD)
    streams = total <= _HEAD or not head.lstrip().startswith((b"PK\x03\x04", b"%PDF-"))
    kind = detect_kind(filename, content_type, head) if streams else ""
    if kind != "text":
        data = path.read_bytes()
        parsed = parse(filename, data, content_type, ocr=False)
        return SectionStream(path, detect_kind(filename, content_type, data), total,
                             whole=parsed, piece_chars=piece_chars)
    if not head.strip() and not _has_text(path):
        raise ParseError("the file is empty")
    encoding, feeds = _text_encoding(path, head)
    return SectionStream(path, kind, total, encoding=encoding, form_feeds=feeds,
                         piece_chars=piece_chars)


def _has_text(path: Path) -> bool:
    with path.open("rb") as file:
        while block := file.read(_READ):
            if block.strip():
                return True
    return False
