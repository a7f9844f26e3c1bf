"""HTML via BeautifulSoup + lxml: main content only, headings kept as the heading path."""

from __future__ import annotations

import warnings
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag

from ragline.adapters.parse.base import (
    ParsedDocument,
    Section,
    clean_text,
    pages_for_text,
    require_text,
)

DROP_TAGS = ["script", "style", "noscript", "template", "nav", "footer", "aside",
             "form", "iframe", "svg", "canvas", "button", "select", "head"]
DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar"}
DROP_CLASSES = {"sphinxsidebar", "related", "sidebar", "navbar", "breadcrumb", "breadcrumbs",
                "skip-link", "headerlink", "toc", "mw-navigation", "footer", "header"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCKS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd",
          "blockquote", "pre", "table", "tr", "td", "th", "caption", "figure", "figcaption",
          "details", "summary", "br", "hr", "body", "tbody", "thead"}


class _Walker:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []
        self.inline: list[str] = []
        self.first_heading: str | None = None

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                self.inline.append(str(child))
            elif isinstance(child, Tag):
                self.element(child)

    def element(self, tag: Tag) -> None:
        name = tag.name.lower()
        if name in HEADINGS:
            self.break_paragraph()
            self.flush_section()
            text = clean_text(tag.get_text(" ")).replace("\n", " ")
            if text:
                self.first_heading = self.first_heading or text
                level = HEADINGS[name]
                self.headings = [h for h in self.headings if h[0] < level] + [(level, text)]
        elif name == "pre":
            self.break_paragraph()
            self.paragraphs.append(tag.get_text())
        elif name in BLOCKS:
            self.break_paragraph()
            self.walk(tag)
            self.break_paragraph()
        else:
            self.walk(tag)

    def break_paragraph(self) -> None:
        text = " ".join("".join(self.inline).split())
        if text:
            self.paragraphs.append(text)
        self.inline = []

    def flush_section(self) -> None:
        text = clean_text("\n\n".join(self.paragraphs))
        if text:
            self.sections.append(Section(text, None, tuple(h[1] for h in self.headings)))
        self.paragraphs = []


def _is_boilerplate(tag: Tag) -> bool:
    if tag.attrs is None:
        return False
    raw: Any = tag.get("class") or []
    classes: list[str] = raw.split() if isinstance(raw, str) else [str(c) for c in raw]
    role = str(tag.get("role") or "").lower()
    return role in DROP_ROLES or any(c.lower() in DROP_CLASSES for c in classes)


def parse_html(data: bytes) -> ParsedDocument:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a file name
        soup = BeautifulSoup(data, "lxml")
    title_tag = soup.find("title")
    title = clean_text(title_tag.get_text(" ")) if title_tag else ""
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all("header"):  # site banners go; an article's own header stays
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    for tag in [t for t in soup.find_all(True) if _is_boilerplate(t)]:
        if not tag.decomposed:
            tag.decompose()
    mains = soup.find_all("main") or soup.find_all(True, attrs={"role": "main"})
    root = mains[0] if len(mains) == 1 else (soup.body or soup)
    walker = _Walker()
    walker.walk(root)
    walker.break_paragraph()
    walker.flush_section()
    body = "\n\n".join(s.text for s in walker.sections)
    parsed = ParsedDocument(
        title=title or walker.first_heading,
        pages=pages_for_text(len(body)),
        sections=walker.sections,
    )
    return require_text(parsed, "HTML page")
