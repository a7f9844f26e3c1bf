"""The answer-quality evaluation's scoring and its shipped question set (no server, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.quality.questions import (
    DEFAULT_CORPUS,
    DEFAULT_QUESTIONS,
    conversations,
    corpus_files,
    load_questions,
    select,
)
from eval.quality.scoring import (
    citations,
    contains_expected,
    hit,
    is_decline,
    percentile,
    recall,
)


@pytest.mark.parametrize("answer", [
    "The documents do not cover this question; I cannot find any information about it in them.",
    "I'm sorry, but the provided passages don\u2019t contain information about that.",
    "The context doesn't mention PostgreSQL replication.",
    "This is not covered by the documents.",
    "There is no information about boiling eggs in the documents.",
    "That question is outside the scope of the provided documents.",
    "It is not in the documents.",
])
def test_declines_are_recognised(answer: str) -> None:
    assert is_decline(answer)


@pytest.mark.parametrize("answer", [
    "SQLite does not have a separate Boolean storage class [1].",
    "No, the zipfile module does not support encrypted ZIP archives [1].",
    "Boil it for six minutes.",
    "AUTOINCREMENT prevents the reuse of ROWIDs from previously deleted rows [2].",
])
def test_answers_are_not_declines(answer: str) -> None:
    assert not is_decline(answer)


def test_citations_and_expected_facts() -> None:
    assert citations("a [1][2] b [3, 4] c [x] d [10]") == [1, 2, 3, 4, 10]
    assert contains_expected("Stored as 0 and 1 INTEGERs", ["integer", "0"], "all")
    assert not contains_expected("Stored as INTEGER", ["integer", "0"], "all")
    assert contains_expected("the default is deferred", ["EXCLUSIVE", "DEFERRED"], "any")
    assert not contains_expected("anything", [], "any")
    # a hyphen between words is spelling; one between digits is not
    assert contains_expected("the WAL file and the shared-memory file", ["shared memory"])
    assert contains_expected("enabled per connection", ["per-connection"])
    assert not contains_expected("up to 231-1", ["231 1"])


def test_document_level_retrieval_scores() -> None:
    found = ["docs/a.html", "b.html", "a.html", "c.html"]
    assert hit(found, ["a.html"]) and not hit(found, ["d.html"])
    assert recall(found, ["a.html", "d.html"]) == 0.5
    assert recall(found, ["c.html"], k=2) == 0.0  # distinct documents: docs/a, b, a, c
    # one source normalisation with `ragline eval`: `./` and `\\` are spelling, folders are not
    assert recall(["./docs\\a.html"], ["docs/a.html"]) == 1.0
    assert not hit(["docs/a.html"], ["other/a.html"])


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([1.0, 2.0], 100) == 2.0


def test_the_shipped_question_set() -> None:
    questions = load_questions(DEFAULT_QUESTIONS)
    kinds = [q.type for q in questions]
    assert len(questions) >= 40
    assert kinds.count("followup") >= 8 and kinds.count("unanswerable") >= 8
    names = {p.name for p in corpus_files(DEFAULT_CORPUS)}
    for q in questions:
        assert set(q.relevant) <= names, q.id
        assert q.answerable == bool(q.expect)
        if q.type == "conflict":  # two documents, one value each
            assert len(q.relevant) == 2 and q.expect_mode == "all" and len(q.expect) == 2
    by_id = {q.id: q for q in questions}
    assert all(by_id[q.follow_of].type == "single" for q in questions if q.follow_of)


def test_a_quick_run_takes_whole_conversations_of_every_kind() -> None:
    threads = conversations(load_questions(DEFAULT_QUESTIONS))
    chosen = select(threads, 6)
    conflicts = [t for t in chosen if t[0].type == "conflict"]  # always asked, beyond the limit
    assert len(conflicts) == sum(q.type == "conflict" for t in threads for q in t) >= 2
    assert sum(len(t) for t in chosen) == 6 + len(conflicts)
    assert {t[0].type for t in chosen} == {"single", "unanswerable", "conflict"}
    assert any(len(t) == 2 and t[1].follow_of == t[0].id for t in chosen)


def test_invalid_questions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "f", "type": "followup", "question": "and its default?",
                                "follow_of": "missing", "relevant": ["a"], "expect": ["b"]}))
    with pytest.raises(ValueError, match="must follow"):
        load_questions(path)


def test_a_conflict_answer_is_scored_on_both_values_their_passages_and_saying_so() -> None:
    from eval.quality.questions import EvalQuestion
    from eval.quality.scoring import Turn, says_disagreement, score_turn

    question = EvalQuestion("c", "How long?", "conflict", ("a.md", "b.md"), ("14", "45"), "all")
    turn = Turn("c", "conflict", "How long?", thread_id="t")
    turn.status = "done"
    turn.answer = "The documents disagree: one says 14 days [1], the other 45 days [2]."
    turn.sources = ["a.md", "b.md"]
    turn.source_texts = ["kept for 14 days", "kept for 45 days"]
    score_turn(turn, question)
    assert turn.facts_ok and turn.cited_fact and says_disagreement(turn.answer)
    turn.answer = "It is kept for 14 days [1] or 45 days [1]."
    score_turn(turn, question)
    assert turn.facts_ok and not turn.cited_fact and not says_disagreement(turn.answer)
