"""Markdown via markdown-it-py: headings become the heading path, markup becomes plain text."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ragline.adapters.parse.base import (
    ParsedDocument,
    Section,
    clean_text,
    first_line,
    pages_for_text,
    require_text,
)
from ragline.adapters.parse.text import decode

_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n(---|\.\.\.)\s*\n", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "html_inline":
            parts.append(_TAGS.sub("", child.content))
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts).strip()


class _Builder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.headings: list[tuple[int, str]] = []
        self.blocks: list[str] = []
        self.title: str | None = None

    def heading(self, level: int, text: str) -> None:
        self.flush()
        if self.title is None and level == 1:
            self.title = text
        self.headings = [h for h in self.headings if h[0] < level] + [(level, text)]

    def block(self, text: str) -> None:
        if text.strip():
            self.blocks.append(text)

    def flush(self) -> None:
        text = clean_text("\n\n".join(self.blocks))
        if text:
            path = tuple(h[1] for h in self.headings)
            self.sections.append(Section(text, None, path))
        self.blocks = []


def parse_markdown(data: bytes) -> ParsedDocument:
    source = _FRONT_MATTER.sub("", decode(data))
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    builder = _Builder()
    list_depth = 0
    row: list[str] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            builder.heading(int(token.tag[1]), _inline_text(tokens[i + 1]))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif token.type == "inline" and tokens[i - 1].type == "paragraph_open":
            text = _inline_text(token)
            builder.block(f"- {text}" if list_depth else text)
        elif token.type == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            row.append(_inline_text(token))
        elif token.type == "tr_close":
            builder.block(" | ".join(row))
            row = []
        elif token.type in ("fence", "code_block"):
            builder.block(token.content.rstrip())
        elif token.type == "html_block":
            builder.block(_TAGS.sub(" ", token.content))
    builder.flush()
    first_heading = next((s.heading_path[0] for s in builder.sections if s.heading_path), None)
    body = "\n\n".join(s.text for s in builder.sections)
    parsed = ParsedDocument(
        title=builder.title or first_heading or first_line(body),
        pages=pages_for_text(len(body)),
        sections=builder.sections,
    )
    return require_text(parsed, "Markdown file")
