"""The question set and the corpus: loading, conversations, a quick run's sample (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

EVAL_DIR = Path(__file__).resolve().parents[1]  # the repository's eval/, not the package's
DEFAULT_CORPUS = EVAL_DIR / "corpus"  # sqlite/ (the documentation) and conflicts/
DEFAULT_QUESTIONS = EVAL_DIR / "questions.jsonl"
DEFAULT_COLLECTION = "eval-sqlite"
CORPUS_SUFFIXES = {".html", ".htm", ".md", ".markdown", ".txt", ".pdf", ".docx"}

# `conflict`: the documents disagree; the answer should give both values (`expect`, all) and say so.
QuestionType = Literal["single", "followup", "unanswerable", "conflict"]
ExpectMode = Literal["any", "all"]


class EvalError(RuntimeError):
    pass


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    type: QuestionType
    relevant: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    expect_mode: ExpectMode = "any"
    follow_of: str | None = None
    paraphrase: bool = False  # worded unlike its document (reported apart)

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @property
    def ordinary(self) -> bool:
        """Counted in the answerable figures (a conflict is reported on its own)."""
        return self.type in ("single", "followup")


def load_questions(path: Path) -> list[EvalQuestion]:
    """JSON lines; a follow-up must come after the question it follows."""
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _parse_question(json.loads(line), seen)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise ValueError(f"{path} holds no questions")
    return questions


def _parse_question(item: dict[str, Any], seen: set[str]) -> EvalQuestion:
    qid, text, kind = str(item["id"]), str(item["question"]), item.get("type", "single")
    if kind not in ("single", "followup", "unanswerable", "conflict"):
        raise ValueError(f"unknown type {kind!r}")
    if qid in seen:
        raise ValueError(f"duplicate id {qid!r}")
    mode = item.get("expect_mode", "any")
    if mode not in ("any", "all"):
        raise ValueError(f"expect_mode must be 'any' or 'all', not {mode!r}")
    relevant = tuple(str(s) for s in item.get("relevant") or ())
    expect = tuple(str(s) for s in item.get("expect") or ())
    follow_of = item.get("follow_of")
    if kind == "followup" and (not follow_of or follow_of not in seen):
        raise ValueError(f"follow-up {qid!r} must follow an earlier question (follow_of)")
    if kind != "unanswerable" and (not relevant or not expect):
        raise ValueError(f"answerable question {qid!r} needs `relevant` and `expect`")
    return EvalQuestion(qid, text, kind, relevant, expect, mode,
                        str(follow_of) if follow_of else None, bool(item.get("paraphrase")))


def conversations(questions: Sequence[EvalQuestion]) -> list[list[EvalQuestion]]:
    """A thread per question that follows nothing; follow-ups join their question's thread."""
    threads: list[list[EvalQuestion]] = []
    where: dict[str, int] = {}
    for q in questions:
        if q.follow_of is not None and q.follow_of in where:
            index = where[q.follow_of]
            threads[index].append(q)
        else:
            index = len(threads)
            threads.append([q])
        where[q.id] = index
    return threads


def select(threads: Sequence[list[EvalQuestion]], limit: int | None) -> list[list[EvalQuestion]]:
    """At most `limit` questions, whole conversations, taken in turn from each kind of
    conversation (follow-up pairs, singles, unanswerables) so a quick run samples all kinds;
    plus the few `conflict` questions, always (so a quick run's other picks stay the same)."""
    if limit is None:
        return list(threads)
    groups: dict[str, list[list[EvalQuestion]]] = {}
    conflicts = [t for t in threads if t[0].type == "conflict"]  # few: always asked, beyond limit
    for thread in (t for t in threads if t[0].type != "conflict"):
        kind = "followup" if len(thread) > 1 else thread[0].type
        groups.setdefault(kind, []).append(thread)
    queues = [list(reversed(g)) for g in groups.values()]
    chosen: list[list[EvalQuestion]] = []
    total = 0
    while total < limit and any(queues):
        for queue in queues:
            if queue and total < limit:
                thread = queue.pop()
                chosen.append(thread)
                total += len(thread)
    order = {id(t): i for i, t in enumerate(threads)}
    return sorted(chosen + conflicts, key=lambda t: order[id(t)])


def corpus_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file()
                   and p.suffix.lower() in CORPUS_SUFFIXES and p.name.lower() != "readme.md")
    if not files:
        raise EvalError(f"no documents under {folder}")
    return files
