"""Keyword-query sanitising, evaluation metrics and upload paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragline.adapters.index.keyword import fts5_match, query_terms, tsquery
from ragline.adapters.uploads import UploadStore
from ragline.domain.errors import InvalidInput
from ragline.services.evaluation import Scores, load_questions, recall_at, reciprocal_rank
from ragline.services.library import display_name


def test_query_terms_drop_stopwords_and_punctuation() -> None:
    assert query_terms("What is the capital of France?!") == ["capital", "france"]
    assert query_terms("what is it") == ["what", "is", "it"]  # only stopwords: keep them
    assert query_terms("snake_case AND NEAR(x*)") == ["snake", "case", "near", "x"]


def test_query_terms_keep_dotted_names_whole_and_in_parts() -> None:
    assert query_terms("Who has worked with Vue.js?") == ["worked", "vue.js", "vue", "js"]
    assert query_terms("Python 3.11 on ASP.NET.") == ["python", "3", "11", "asp.net", "asp", "net"]


def test_fts5_match_quotes_every_term_so_syntax_is_inert() -> None:
    assert fts5_match(["near", 'x"y']) == '"near" OR "x""y"'
    assert tsquery(["a1", "b"]) == "a1 | b"


def test_recall_and_mrr_at_the_document_level() -> None:
    ranked = ["a", "b", "c"]
    assert recall_at(ranked, frozenset({"b", "z"}), 1) == 0.0
    assert recall_at(ranked, frozenset({"b", "z"}), 5) == 0.5
    assert reciprocal_rank(ranked, frozenset({"c"}), 10) == pytest.approx(1 / 3)
    scores = Scores()
    scores.add(["a", "a", "b"], frozenset({"b"}))  # chunk hits collapse to documents
    scores.add(["./x"], frozenset({"x"}))
    assert scores.recall(1) == 0.5 and scores.recall(5) == 1.0
    assert scores.mrr == pytest.approx((0.5 + 1.0) / 2)


def test_load_questions_reports_the_bad_line(tmp_path: Path) -> None:
    good = json.dumps({"question": "q", "relevant": ["a.md"]})
    path = tmp_path / "q.jsonl"
    path.write_text(good + "\n\n" + '{"question": "q2"}\n')
    with pytest.raises(InvalidInput, match=":3:"):
        load_questions(path)
    path.write_text(good + "\n")
    assert load_questions(path)[0].relevant == frozenset({"a.md"})


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "a/../../b", "", "x"])
def test_upload_paths_come_only_from_document_ids(tmp_path: Path, bad: str) -> None:
    store = UploadStore(tmp_path)
    with pytest.raises(ValueError, match="not a document id"):
        store.path_for(bad)


def test_upload_store_round_trip_and_display_names(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads")
    document_id = "0b8f6a52-3f27-4a39-9a43-0e8d0c1f4b55"
    assert store.write(document_id, b"x").parent == tmp_path / "uploads"
    assert store.read(document_id) == b"x"
    store.delete(document_id)
    store.delete(document_id)
    assert display_name("..\\..\\evil.pdf") == "evil.pdf"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name(None) == "upload"
