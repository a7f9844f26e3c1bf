"""Names a question asks about that none of its passages mention: a sign that the documents are
about something else.

"How many nodes can an Oracle Real Application Clusters database have?" finds R*Tree passages
about nodes; "streaming replication between two PostgreSQL servers" finds SQLite's WAL pages.
Their vectors are close enough, but neither passage says "Oracle" or "PostgreSQL", and the model
answered from its own knowledge (eval/questions.jsonl, the `un-` questions). Only strong names
count, so ordinary capitalised words (a German noun, "API" in a paraphrase) never do: a word
with a capital inside it (PostgreSQL, MongoDB, PyTorch), or two or more capitalised words in a
row that do not start the question (Oracle Real Application Clusters, Redis Sentinel).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_WORD = re.compile(r"[^\W\d_][\w*+#.-]*[\w+#]|[^\W\d_]", re.UNICODE)


def strong_names(question: str) -> list[str]:
    words = [m.group() for m in _WORD.finditer(question)]
    names: list[str] = []
    run: list[str] = []
    for index, word in enumerate([*words, ""]):
        capital = bool(word) and word[0].isupper() and index > 0
        if capital and any(c.isupper() for c in word[1:]) and any(c.islower() for c in word):
            names.append(word)  # PostgreSQL, MongoDB (not ALL-CAPS: API, WAL, BLOB)
        if capital and word[1:].islower():
            run.append(word)
            continue
        if len(run) >= 2:
            names.extend(run)
        run = []
    return list(dict.fromkeys(names))


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", text) is not None


def names_unmatched(question: str, passages: Sequence[dict[str, Any]]) -> bool:
    """The question names something, and no passage mentions any of its names."""
    names = strong_names(question)
    if not names or not passages:
        return False
    text = " ".join(
        str(p.get(k) or "") for p in passages for k in ("title", "heading", "text")).lower()
    return not any(_mentions(text, name) for name in names)
