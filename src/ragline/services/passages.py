"""Passages for a prompt: fewer, better tokens.

Retrieval returns whole chunks ranked by relevance. Before they reach the model they are
deduplicated (overlapping chunks repeat each other), trimmed to the sentences around their best
match with the question (headings kept, so the model knows where a passage sits), and taken best
first until a token budget is spent. The budget comes from how fast the engine reads prompts and
how long a user should wait (see `passage_budget`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ragline.domain.llm import approx_token_count

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
# Words too common to say which sentence answers a question.
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i if in is it its of on or so"
    " that the their then there these this to was what when where which who why will with you"
    " your".split()
)
NEAR_DUPLICATE = 0.7  # Jaccard overlap of word sets above which the lower-ranked chunk goes


def passage_budget(
    prompt_rate: float | None, target_wait: float, floor: int, ceiling: int
) -> int:
    """Tokens of passages the engine reads within `target_wait` seconds, within [floor, ceiling].

    Remote providers (no measured rate) and the first request get the ceiling."""
    if not prompt_rate:
        return ceiling
    return max(floor, min(ceiling, int(prompt_rate * target_wait)))


def select_passages(
    hits: Sequence[dict[str, Any]], query: str, budget: int, per_passage: int
) -> list[dict[str, Any]]:
    """Best first: drop near-duplicates, trim each to `per_passage` tokens, stop at `budget`."""
    terms = _terms(query)
    kept: list[dict[str, Any]] = []
    seen: list[frozenset[str]] = []
    used = 0
    for hit in sorted(hits, key=lambda h: h["score"], reverse=True):
        words = frozenset(w.lower() for w in _WORD.findall(hit["text"]))
        if any(_near_duplicate(words, other) for other in seen):
            continue
        text = trim_passage(hit["text"], terms, per_passage)
        cost = approx_token_count(text) + 12  # the "[n] (title, page)" line
        if kept and used + cost > budget:
            continue  # a shorter, lower-ranked passage may still fit
        seen.append(words)
        kept.append({**hit, "text": text})
        used += cost
    return kept


def trim_passage(text: str, terms: frozenset[str], limit: int) -> str:
    """The window of whole sentences around the sentence that matches the most query terms.

    A chunk's first line is kept when it looks like a heading (short, no final stop)."""
    if approx_token_count(text) <= limit:
        return text
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    if len(sentences) <= 1:
        return text[: limit * 4].rsplit(" ", 1)[0] + " …"
    heading = ""
    if len(sentences[0]) < 80 and not sentences[0].endswith((".", "!", "?")):
        heading = sentences.pop(0)
    scores = [len(terms & _terms(s)) for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    lo = hi = best
    used = approx_token_count(heading) + approx_token_count(sentences[best])
    # The chunk's first sentence says what the rest is about ("the ABORT algorithm ...", then
    # "This is the default behavior"), and a chunk often begins with the fact that the
    # sentence before it introduced: it stays when it fits.
    lead = ""
    if best > 0 and used + approx_token_count(sentences[0]) <= limit:
        lead = sentences[0]
        used += approx_token_count(lead)
    # Grow the window on the side whose next sentence matches more; ties favour what follows,
    # since answers tend to come after the sentence that names the subject.
    while True:
        options = []
        if hi + 1 < len(sentences):
            options.append((scores[hi + 1], 1, hi + 1))
        if lo > (1 if lead else 0):
            options.append((scores[lo - 1], 0, lo - 1))
        if not options:
            break
        _, _, nxt = max(options)
        cost = approx_token_count(sentences[nxt])
        if used + cost > limit:
            break
        used += cost
        lo, hi = min(lo, nxt), max(hi, nxt)
    body = " ".join(sentences[lo : hi + 1])
    if lead:
        body = f"{lead} {body}" if lo == 1 else f"{lead} … {body}"
    elif lo > 0:
        body = "… " + body
    if hi < len(sentences) - 1:
        body += " …"
    return f"{heading}\n{body}" if heading else body


def _terms(text: str) -> frozenset[str]:
    return frozenset(w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP)


def _near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Mostly the same words, and the same numbers: two versions of a note that say "14 days"
    and "45 days" disagree, and the answer must see both (services/conflicts.py)."""
    return _jaccard(a, b) > NEAR_DUPLICATE and not any(w[:1].isdigit() for w in a ^ b)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
