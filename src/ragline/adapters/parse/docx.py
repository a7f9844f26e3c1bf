"""DOCX via python-docx, after refusing zip bombs by inspecting the archive's directory."""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragline.adapters.parse.base import (
    ParsedDocument,
    ParseError,
    Section,
    clean_text,
    pages_for_text,
    require_text,
)
from ragline.adapters.parse.tables import markdown_table

MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_RATIO = 100  # uncompressed/compressed, for archives big enough to matter
MAX_ENTRIES = 10_000
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def check_zip(data: bytes) -> None:
    """Refuse archives that would expand to an unreasonable size before anything inflates them."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(f"the DOCX is corrupt (not a valid zip archive): {exc}") from exc
    if len(infos) > MAX_ENTRIES:
        raise ParseError(f"refused: the DOCX holds {len(infos)} files, which looks like a zip bomb")
    expanded = sum(info.file_size for info in infos)
    packed = max(1, sum(info.compress_size for info in infos))
    if expanded > MAX_UNCOMPRESSED_BYTES or (expanded > 10 * 1024 * 1024
                                             and expanded / packed > MAX_RATIO):
        raise ParseError(
            f"refused: the DOCX expands to {expanded // (1024 * 1024)} MiB "
            f"(ratio {expanded // packed}:1), which looks like a zip bomb"
        )
    if "word/document.xml" not in names:
        raise ParseError("the file is a zip archive but not a Word document (no word/document.xml)")


def _heading_level(paragraph: Paragraph) -> int | None:
    try:
        name = (paragraph.style.name if paragraph.style is not None else "") or ""
    except (KeyError, ValueError):
        return None
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name.strip())
    return int(match.group(1)) if match else None


def _table_text(table: Table) -> str:
    """The table as Markdown (a merged cell repeats its text in each column it spans)."""
    rows: list[list[str]] = []
    for row in table.rows:
        try:
            rows.append([cell.text for cell in row.cells])
        except (IndexError, ValueError):  # malformed grids: keep what reads
            continue
    return markdown_table(rows)


def parse_docx(data: bytes) -> ParsedDocument:
    check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many types for broken parts
        raise ParseError(f"the DOCX cannot be read: {exc or type(exc).__name__}") from exc
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    blocks: list[str] = []
    first_heading: str | None = None
    title_style: str | None = None

    def flush() -> None:
        text = clean_text("\n\n".join(blocks))
        if text:
            sections.append(Section(text, None, tuple(h[1] for h in headings)))
        blocks.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.append(_table_text(item))
            continue
        text = " ".join(item.text.split())
        level = _heading_level(item)
        if level is None or not text:
            if text:
                blocks.append(text)
            continue
        flush()
        if level == 0:
            title_style = title_style or text
            continue
        first_heading = first_heading or text
        headings = [h for h in headings if h[0] < level] + [(level, text)]
    flush()
    core_title = (document.core_properties.title or "").strip()
    body_length = sum(len(s.text) for s in sections)
    parsed = ParsedDocument(
        title=core_title or title_style or first_heading,
        pages=pages_for_text(body_length),
        sections=sections,
    )
    return require_text(parsed, "DOCX")
