"""What every parser returns: a title, a page count and ordered sections of clean text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragline.domain.errors import Unprocessable


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path on one page (page is None for unpaged formats)."""

    text: str
    page: int | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    title: str | None
    pages: int
    sections: list[Section] = field(default_factory=list)
    scanned: tuple[int, ...] = ()  # PDF pages without a text layer (numbered from 1): OCR them

    @property
    def text_length(self) -> int:
        return sum(len(s.text) for s in self.sections)


class ParseError(Unprocessable):
    """The file is of a supported type but cannot be read (corrupt, encrypted, empty)."""

    code = "parse_failed"


_SPACES = re.compile(r"[ \t\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def clean_text(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks (blank lines), strip control noise."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def first_line(text: str, limit: int = 200) -> str | None:
    for line in text.splitlines():
        line = line.strip(" #*=-_\t")
        if line:
            return line[:limit]
    return None


def require_text(parsed: ParsedDocument, kind: str) -> ParsedDocument:
    if not any(s.text.strip() for s in parsed.sections):
        raise ParseError(f"the {kind} contains no extractable text")
    return parsed


def pages_for_text(length: int) -> int:
    """Unpaged formats count one page per ~3,000 characters (about one printed page)."""
    return max(1, -(-length // 3000))
