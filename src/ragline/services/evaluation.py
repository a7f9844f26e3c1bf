"""Retrieval evaluation at the document level: Recall@k and MRR@k over labelled questions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragline.domain.errors import InvalidInput

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    question: str
    relevant: frozenset[str]


@dataclass
class Scores:
    """Running means of Recall@1/5/10 and MRR@10 over the questions seen so far."""

    questions: int = 0
    recall_sums: dict[int, float] = field(default_factory=lambda: dict.fromkeys(CUTOFFS, 0.0))
    reciprocal_rank_sum: float = 0.0

    def add(self, ranked_sources: Sequence[str], relevant: frozenset[str]) -> None:
        documents = distinct(ranked_sources)
        self.questions += 1
        for k in CUTOFFS:
            self.recall_sums[k] += recall_at(documents, relevant, k)
        self.reciprocal_rank_sum += reciprocal_rank(documents, relevant, 10)

    def recall(self, k: int) -> float:
        return self.recall_sums[k] / self.questions if self.questions else 0.0

    @property
    def mrr(self) -> float:
        return self.reciprocal_rank_sum / self.questions if self.questions else 0.0


def normalize_source(source: str) -> str:
    return source.replace("\\", "/").removeprefix("./")


def distinct(sources: Iterable[str]) -> list[str]:
    """Chunk hits → documents in the order of their best chunk."""
    return list(dict.fromkeys(normalize_source(s) for s in sources))


def recall_at(documents: Sequence[str], relevant: frozenset[str], k: int) -> float:
    if not relevant:
        return 0.0
    return len(relevant.intersection(documents[:k])) / len(relevant)


def reciprocal_rank(documents: Sequence[str], relevant: frozenset[str], k: int) -> float:
    for rank, source in enumerate(documents[:k], start=1):
        if source in relevant:
            return 1.0 / rank
    return 0.0


def load_questions(path: Path) -> list[Question]:
    """JSON lines `{"question": "...", "relevant": ["source", ...]}`; blank lines are skipped."""
    questions: list[Question] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            text, relevant = item["question"], item["relevant"]
            if not isinstance(text, str) or not isinstance(relevant, list) or not relevant:
                raise TypeError("question must be a string and relevant a non-empty list")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: {exc}") from exc
        questions.append(Question(text, frozenset(normalize_source(str(s)) for s in relevant)))
    if not questions:
        raise InvalidInput(f"{path} holds no questions")
    return questions
