"""The text side of claim checking: an answer cut into sentences with their `[n]` markers and
offsets, and the words and key tokens (numbers, identifiers) that lexical matching compares."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

# `[1]`, `[2, 3]`, `[1; 4]`: passage numbers as the prompt asks the model to cite them.
MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
# A sentence ends at . ! or ? (closing quotes/brackets allowed), then any markers, then a space.
_END = re.compile(
    r"[.!?][\"')\]*_]*(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])*(?=\s|$)"
)
LEADER = re.compile(r"^(?:[-*+>•]\s+|#{1,6}\s+|\d{1,3}[.)]\s+|\*\*\s*)+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_ABBREVIATIONS = frozenset("e.g i.e etc vs cf approx no fig mr dr st".split())
_WORD = re.compile(r"[a-z0-9]+(?:['_][a-z0-9]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_IDENTIFIER = re.compile(
    r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[A-Z][A-Z0-9]{2,}\b"
    r"|\b[A-Za-z][\w.-]*=[\w.-]+"  # settings and query parameters: mode=ro, readonly=true
)
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could do does did for from had has have how i "
    "if in into is it its itself me my no of on or our so such than that the their them then "
    "there these they this those to was we were what when where which while who why will with "
    "would you your also just only very may might must should shall about above after again all "
    "any each few more most other some same both own here via per used use using one yes".split()
)


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets into the answer; text = answer[start:end]
    end: int
    cited: tuple[int, ...]  # the passage numbers its `[n]` markers name, in order

    def text(self, answer: str) -> str:
        return answer[self.start:self.end]


def cited_numbers(text: str) -> tuple[int, ...]:
    found: list[int] = []
    for group in MARKER.findall(text):
        found.extend(int(n) for n in re.findall(r"\d+", group))
    return tuple(dict.fromkeys(found))


def strip_markers(text: str) -> str:
    """The sentence as prose: markers, Markdown emphasis and code ticks removed."""
    text = MARKER.sub("", text)
    return " ".join(text.replace("**", "").replace("`", "").split())


def abbreviated(before: str) -> bool:
    """Whether a full stop after `before` ends an abbreviation ("e.g.", "Dr.", "J.") rather
    than a sentence."""
    words = before.split()
    previous = words[-1].lower().lstrip("(\"'") if words else ""
    return previous in _ABBREVIATIONS or (len(previous) == 1 and previous.isalpha())


def _ends(line: str) -> list[int]:
    """Offsets within the line just past each sentence end (markers included)."""
    return [match.end() for match in _END.finditer(line)
            if line[match.start()] != "." or not abbreviated(line[: match.start()])]


def _not_claims(lines: list[str]) -> set[int]:
    """Lines that state nothing to check: headings, a table's header row and rule, and code."""
    skipped: set[int] = set()
    in_code = False
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
            skipped.add(number)
        elif in_code or _HEADING.match(line):
            skipped.add(number)
        elif _TABLE_RULE.match(line) and "-" in line:
            skipped.add(number)
            if number and "|" in lines[number - 1]:
                skipped.add(number - 1)
    return skipped


def split_sentences(answer: str) -> list[Sentence]:
    """Sentences in order; line breaks end one too (lists). List bullets are left out of the
    span; empty or marker-only pieces, headings, table header rows and code are dropped."""
    sentences: list[Sentence] = []
    offset = 0
    lines = answer.split("\n")
    skipped = _not_claims(lines)
    for number, line in enumerate(lines):
        if number in skipped:
            offset += len(line) + 1
            continue
        cuts = [0, *_ends(line), len(line)]
        for left, right in itertools.pairwise(cuts):
            piece = line[left:right]
            stripped = piece.lstrip()
            lead = len(piece) - len(stripped)
            leader = LEADER.match(stripped)
            if leader:
                lead += leader.end()
            start, end = offset + left + lead, offset + left + len(piece.rstrip())
            if start >= end:
                continue
            text = answer[start:end]
            if not strip_markers(text):
                if sentences:  # markers on a line of their own belong to the sentence before
                    last = sentences[-1]
                    sentences[-1] = Sentence(last.start, end, last.cited + cited_numbers(text))
                continue
            sentences.append(Sentence(start, end, cited_numbers(text)))
        offset += len(line) + 1
    return sentences


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words without stopwords (`_` joins identifiers' parts)."""
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())}


def key_tokens(text: str) -> set[str]:
    """What a passage must contain for the claim to be its: numbers (thousands separators
    dropped) and identifiers (snake_case names, ALL-CAPS keywords, name=value), lower-cased."""
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return numbers | {m.lower() for m in _IDENTIFIER.findall(text)}


def passage_tokens(text: str) -> str:
    """The passage lower-cased with thousands separators dropped, for `key_tokens` lookups."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", text).lower()


# "X rather than Y" says "X, not Y".
NEGATIONS = frozenset("not no never cannot none nor neither without rather".split())


# A negation that bounds a quantity denies only the bound: "does not support R*Trees wider
# than 5 dimensions" denies "wider", so "it supports at most 5" restates it, and "it supports
# R*Trees wider than 5 dimensions" still says the opposite.
_COMPARATIVES = frozenset(
    "more wider larger greater longer bigger higher deeper taller heavier".split())
_COMPARATIVE_STEMS = frozenset(_stem(w) for w in _COMPARATIVES)
_BOUND_REACH = 6


def bound_only(denied: frozenset[str]) -> bool:
    """Whether a sentence's negations only bound quantities (all it denies is comparatives)."""
    return bool(denied) and all(w in _COMPARATIVE_STEMS for w in denied)


def _bound(after: list[str]) -> str | None:
    """The comparative a negation bounds ("not ... wider than"), if any."""
    for word, nxt in itertools.pairwise(after):
        if word in _COMPARATIVES and nxt == "than":
            return word
    return None


def negated_terms(text: str, reach: int = 3) -> set[str]:
    """The content words a negation governs, roughly: those among the `reach` words after it
    ("is not exact" -> exact; "it is not possible to guarantee" -> possible, guarante), or the
    comparative of a bound ("cannot be larger than 5" -> larger)."""
    words = re.findall(r"[a-z0-9_']+", text.lower())
    found: set[str] = set()
    for i, word in enumerate(words):
        if word in NEGATIONS or word.endswith("n't"):
            bound = _bound(words[i + 1:i + 1 + _BOUND_REACH])
            if bound is not None:
                found.add(_stem(bound))
                continue
            found |= {_stem(w) for w in words[i + 1:i + 1 + reach]
                      if w not in STOPWORDS and w not in NEGATIONS and len(w) > 1}
    return found


def negated(text: str) -> bool:
    """Whether the sentence states something in the negative ("is not", "cannot", "never")."""
    words = re.findall(r"[a-z']+", text.lower())
    return any(w in NEGATIONS or w.endswith("n't") for w in words)
