"""Structure-aware chunking: sections never mix, paragraphs and sentences stay whole if they fit.

A chunk holds at most `target` tokens (words and punctuation marks, close to what the embedding
model's tokenizer sees) and starts with up to `overlap` tokens carried over from the previous
chunk of the same section, cut at sentence or paragraph boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ragline.adapters.parse.base import Section

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=\S)")
HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class ChunkDraft:
    ord: int
    text: str
    page: int | None
    heading_path: tuple[str, ...]

    @property
    def heading(self) -> str | None:
        return HEADING_SEPARATOR.join(self.heading_path) or None


@dataclass(frozen=True)
class _Unit:
    text: str
    tokens: int
    paragraph: int


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def _split_long(text: str, target: int) -> Iterator[str]:
    """Sentences if they fit, else windows of whole words."""
    for sentence in _SENTENCE_END.split(text):
        if count_tokens(sentence) <= target:
            yield sentence
            continue
        words: list[str] = []
        size = 0
        for word in sentence.split():
            cost = count_tokens(word)
            if words and size + cost > target:
                yield " ".join(words)
                words, size = [], 0
            words.append(word)
            size += cost
        if words:
            yield " ".join(words)


def _units(text: str, target: int) -> list[_Unit]:
    units: list[_Unit] = []
    for index, paragraph in enumerate(p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        tokens = count_tokens(paragraph)
        if tokens <= target:
            units.append(_Unit(paragraph, tokens, index))
        else:
            units.extend(
                _Unit(piece, count_tokens(piece), index) for piece in _split_long(paragraph, target)
            )
    return units


def _join(units: list[_Unit]) -> str:
    parts: list[str] = []
    for i, unit in enumerate(units):
        if i:
            parts.append("\n\n" if unit.paragraph != units[i - 1].paragraph else " ")
        parts.append(unit.text)
    return "".join(parts)


def _tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    kept: list[_Unit] = []
    size = 0
    for unit in reversed(units):
        if size + unit.tokens > overlap:
            break
        kept.insert(0, unit)
        size += unit.tokens
    return kept


def _pack(units: list[_Unit], target: int, overlap: int) -> Iterator[str]:
    current: list[_Unit] = []
    size = 0
    fresh = False  # whether `current` holds anything not already emitted
    for unit in units:
        if current and fresh and size + unit.tokens > target:
            yield _join(current)
            current = _tail(current, overlap)
            size = sum(u.tokens for u in current)
            fresh = False
            if size + unit.tokens > target:
                current, size = [], 0
        current.append(unit)
        size += unit.tokens
        fresh = True
    if current and fresh:
        yield _join(current)


def chunk_sections(
    sections: Iterable[Section], *, target: int, overlap: int, first_ord: int = 0
) -> list[ChunkDraft]:
    """Chunks in document order, numbered from `first_ord` (a document chunked piece by
    piece); each knows its page and heading path."""
    drafts: list[ChunkDraft] = []
    for section in sections:
        for text in _pack(_units(section.text, target), target, overlap):
            drafts.append(ChunkDraft(first_ord + len(drafts), text, section.page,
                                     section.heading_path))
    return drafts
