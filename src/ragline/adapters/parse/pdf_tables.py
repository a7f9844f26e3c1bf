"""Tables in PDFs (ruled tables, as pdfplumber finds them) as Markdown inside the page text."""

from __future__ import annotations

import io
import logging
from typing import Any

from ragline.adapters.parse.base import clean_text
from ragline.adapters.parse.tables import markdown_table

log = logging.getLogger(__name__)


def _inside(obj: dict[str, Any], box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    mid_x = (obj["x0"] + obj["x1"]) / 2
    mid_y = (obj["top"] + obj["bottom"]) / 2
    return bool(x0 <= mid_x <= x1 and top <= mid_y <= bottom)


def _page_text(page: Any, tables: list[Any]) -> str:
    """Lines outside the tables and the tables as Markdown, top to bottom."""
    boxes = [t.bbox for t in tables]
    rest = page.filter(lambda o: o.get("object_type") != "char"
                       or not any(_inside(o, b) for b in boxes))
    items: list[tuple[float, str, bool]] = [
        (float(line["top"]), str(line["text"]), False) for line in rest.extract_text_lines()
    ]
    items += [(float(t.bbox[1]), markdown_table(t.extract()), True) for t in tables]
    items.sort(key=lambda item: item[0])
    parts: list[str] = []
    after_table = False
    for _top, text, is_table in items:
        if not text:
            continue
        if parts:  # a table is a paragraph of its own
            parts.append("\n\n" if is_table or after_table else "\n")
        parts.append(text)
        after_table = is_table
    return clean_text("".join(parts))


def pages_with_tables(data: bytes) -> dict[int, str]:
    """Page number → the page's text with its tables as Markdown, for pages holding tables.
    Best effort: a failure here leaves the plain text extraction in place."""
    try:
        import pdfplumber
    except ImportError:  # pragma: no cover - a dependency
        return {}
    found: dict[int, str] = {}
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for number, page in enumerate(pdf.pages, start=1):
                tables = page.find_tables()
                if tables:
                    found[number] = _page_text(page, tables)
                page.close()
    except Exception as exc:
        log.warning("table extraction failed; keeping the plain text: %s", exc)
        return {}
    return found
