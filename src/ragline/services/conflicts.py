"""Passages that disagree: two documents giving the same measure different values.

A small model rarely notices on its own that passage [1] says "kept for 14 days" and passage [2]
"kept for 45 days"; told so in the prompt, it says that the documents disagree and cites both.
The test is deliberately narrow, because a disagreement announced wrongly spoils a good answer:
- the passages come from different documents, and each covers most of the question's words;
- each has a sentence about the question (two of its words) holding a number;
- the numbers stand next to the same word ("14 days" / "45 days", "port 9464" / "port 9187")
  and differ.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragline.services.claim_text import STOPWORDS, content_terms, split_sentences, strip_markers

QUESTION_COVERAGE = 0.6  # share of the question's content words the passage must hold
SENTENCE_OVERLAP = 2  # question words the number's sentence must hold
MAX_NOTED = 2
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z][a-z'_-]*")


@dataclass(frozen=True)
class Disagreement:
    first: int  # passage numbers, 1-based as the prompt numbers them
    second: int
    first_says: str  # "14 days"
    second_says: str  # "45 days"

    def note(self) -> str:
        return (f"Note: passages [{self.first}] and [{self.second}] disagree "
                f"({self.first_says} in [{self.first}], {self.second_says} in [{self.second}]). "
                "Say that the documents disagree, and give what each one says with its number.")


def _measures(sentence: str) -> dict[str, set[str]]:
    """The numbers of a sentence by the content word beside them: {"days": {"14"}}."""
    tokens = _TOKEN.findall(sentence.lower())
    found: dict[str, set[str]] = {}
    for i, token in enumerate(tokens):
        if not token[0].isdigit():
            continue
        number = token.replace(",", "")
        for j in (i - 1, i + 1):
            if 0 <= j < len(tokens) and not tokens[j][0].isdigit() and tokens[j] not in STOPWORDS:
                found.setdefault(tokens[j], set()).add(number)
    return found


def _document(passage: dict[str, Any]) -> str:
    return str(passage.get("document_id") or passage.get("source") or passage.get("title") or "")


def _about(passage: dict[str, Any], question: set[str]) -> dict[str, set[str]]:
    """The measures of the passage's sentences about the question ({} if it is off topic)."""
    text = str(passage.get("text") or "")
    context = " ".join(str(passage.get(k) or "") for k in ("title", "heading"))
    if len(question & content_terms(f"{context} {text}")) < QUESTION_COVERAGE * len(question):
        return {}
    measures: dict[str, set[str]] = {}
    for sentence in split_sentences(text):
        prose = strip_markers(sentence.text(text))
        if len(question & content_terms(prose)) >= SENTENCE_OVERLAP:
            for word, numbers in _measures(prose).items():
                measures.setdefault(word, set()).update(numbers)
    return measures


def disagreements(question: str, passages: Sequence[dict[str, Any]]) -> list[Disagreement]:
    """Pairs of passages from different documents that give the question different values."""
    terms = content_terms(question)
    if len(terms) < 2:
        return []
    about = [_about(p, terms) for p in passages]
    found: list[Disagreement] = []
    for i in range(len(passages)):
        for j in range(i + 1, len(passages)):
            if not about[i] or not about[j] or _document(passages[i]) == _document(passages[j]):
                continue
            for word in sorted(about[i].keys() & about[j].keys()):
                mine, theirs = about[i][word], about[j][word]
                if mine and theirs and mine.isdisjoint(theirs):
                    found.append(Disagreement(
                        i + 1, j + 1, _say(mine, word), _say(theirs, word)))
                    break
            if len(found) >= MAX_NOTED:
                return found
    return found


_NAMES_FIRST = frozenset({"port", "version", "page", "level", "step", "chapter"})


def _say(numbers: set[str], word: str) -> str:
    values = ", ".join(sorted(numbers))
    return f"{word} {values}" if word in _NAMES_FIRST else f"{values} {word}"


@dataclass(frozen=True)
class Note:
    """The sentence ragline adds to an answer about passages that disagree."""

    lead: str  # what separates it from the answer
    text: str
    sources: list[int]


def _name(passage: dict[str, Any]) -> str:
    return str(passage.get("title") or passage.get("source") or "one document")


def disagreement_note(found: Sequence[Disagreement], sources: Sequence[dict[str, Any]],
                      answer: str) -> Note | None:
    """One sentence naming each disagreement with both passages cited, unless the answer
    already says the documents disagree and gives both values."""
    pending = [d for d in found
               if "disagree" not in answer.lower()
               or not all(_values_in(side, answer) for side in (d.first_says, d.second_says))]
    if not pending:
        return None
    parts = [f"{_name(sources[d.first - 1])} says {d.first_says} [{d.first}], and "
             f"{_name(sources[d.second - 1])} says {d.second_says} [{d.second}]"
             for d in pending]
    text = f"Note: the documents disagree here: {'; '.join(parts)}."
    numbers = sorted({n for d in pending for n in (d.first, d.second)})
    return Note("\n\n" if answer.strip() else "", text, numbers)


def _values_in(said: str, answer: str) -> bool:
    return all(re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", answer)
               for n in re.findall(r"\d+(?:[.,]\d+)*", said))
