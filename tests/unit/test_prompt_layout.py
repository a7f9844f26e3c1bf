"""The grounded prompt: append-only across turns (so the engine's cache serves it), budgeted
passages, and follow-ups searched together with the question before them."""

from __future__ import annotations

import asyncio
from typing import Any

from ragline.domain.llm import ChatMessage
from ragline.services.passages import passage_budget, select_passages, trim_passage
from ragline.services.pipeline import AnswerPipeline, PipelineConfig, Prompts, focus, keeps
from ragline.services.prompt_layout import NO_PASSAGES, Turn, format_passage, layout
from ragline.services.runs import RunInput
from tests.fakes import FakeModels

LONG = " ".join(f"Filler sentence number {i} about nothing in particular." for i in range(40))


class FakeRetriever:
    def __init__(self) -> None:
        self.queries: list[str] = []

    async def search(
        self, owner_id: str, query: str, collection: str | None, top_k: int, mode: str = "hybrid"
    ) -> list[dict[str, Any]]:
        self.queries.append(query)
        topic = query.split()[-1].strip("?")
        return [
            {"chunk_id": f"{topic}-{i}", "document_id": "d", "source": f"{topic}.html",
             "title": topic.title(), "page": None, "heading": "Usage",
             "text": f"The {topic} passage {i} says {topic} matters. {LONG}", "score": 1.0 - i / 10,
             "relevance": 0.8}
            for i in range(3)
        ]

    async def collection_version(self, owner_id: str, collection: str) -> int | None:
        return 1


def run_input(question: str, history: list[ChatMessage], sources: list[Any]) -> RunInput:
    return RunInput(
        run_id="r", thread_id="t", owner_id="o", model="scripted", question=question,
        history=history, collection="docs", response_format=None, history_sources=sources,
    )


def test_next_turn_prompt_begins_with_the_previous_prompt_and_its_answer() -> None:
    retriever = FakeRetriever()
    pipeline = AnswerPipeline(FakeModels(), retriever, Prompts(), PipelineConfig())
    first = asyncio.run(pipeline.prepare(run_input("What about zipfile?", [], [])))
    assert first.messages[0].role == "system" and first.sources
    history = [ChatMessage("user", "What about zipfile?"), ChatMessage("assistant", "It is [1].")]
    second = asyncio.run(
        pipeline.prepare(run_input("And vacuum?", history, [None, first.sources]))
    )
    n = len(first.messages)
    assert second.messages[:n] == first.messages
    assert second.messages[n] == ChatMessage("assistant", "It is [1].")
    assert "Question: And vacuum?" in second.messages[-1].content


def test_follow_up_is_searched_with_the_question_before_it() -> None:
    retriever = FakeRetriever()
    pipeline = AnswerPipeline(FakeModels(), retriever, Prompts(), PipelineConfig())
    history = [ChatMessage("user", "Does zipfile support encryption?"),
               ChatMessage("assistant", "Yes [1].")]
    asyncio.run(pipeline.prepare(run_input("Which algorithm does it use?", history, [None, []])))
    assert retriever.queries == ["Does zipfile support encryption? Which algorithm does it use?"]


def test_full_window_drops_the_oldest_passages_before_whole_turns() -> None:
    passages = [{"text": "x " * 400, "title": "T", "page": 1}]
    past = [Turn(f"q{i}", f"a{i}", passages=list(passages)) for i in range(3)]
    current = Turn("now", passages=list(passages))

    def count(text: str) -> int:
        return len(text) // 4

    roomy = layout("sys", past, current, 10_000, count)
    assert sum("Passages:" in m.content for m in roomy) == 4
    tight = layout("sys", past, current, 700, count)
    contents = [m.content for m in tight]
    assert contents[1] == "Question: q0" and "a0" in contents  # passages gone, turn kept
    assert "Passages:" in contents[-1]  # the current turn keeps its passages
    tiny = layout("sys", past, current, 100, count)
    assert [m.role for m in tiny] == ["system", "user"]


def test_passages_are_deduplicated_trimmed_around_the_match_and_budgeted() -> None:
    base = {"document_id": "d", "source": "s", "title": "T", "page": None, "relevance": 0.9}
    text = f"Heading line\n{LONG} The checkpoint runs after 1000 pages. {LONG}"
    hits = [
        {**base, "chunk_id": "1", "text": text, "score": 0.9},
        {**base, "chunk_id": "2", "text": text + " extra", "score": 0.8},  # near-duplicate
        {**base, "chunk_id": "3", "text": "Short other passage.", "score": 0.7},
    ]
    chosen = select_passages(hits, "when does the checkpoint run?", 400, 60)
    assert [c["chunk_id"] for c in chosen] == ["1", "3"]
    assert "checkpoint runs after 1000 pages" in chosen[0]["text"]
    assert chosen[0]["text"].startswith("Heading line\n")
    assert len(chosen[0]["text"]) < len(text) / 4


def test_a_near_duplicate_with_other_numbers_is_kept_it_may_disagree() -> None:
    base = {"document_id": "d", "source": "s", "title": "T", "page": None, "relevance": 0.9}
    text = f"{LONG} The checkpoint runs after 1000 pages."
    hits = [{**base, "chunk_id": "1", "text": text, "score": 0.9},
            {**base, "chunk_id": "2", "text": text.replace("1000", "2000"), "score": 0.8}]
    chosen = select_passages(hits, "when does the checkpoint run?", 400, 60)
    assert [c["chunk_id"] for c in chosen] == ["1", "2"]
    assert trim_passage("short", frozenset(), 50) == "short"


def test_passage_budget_follows_the_engines_prompt_rate() -> None:
    assert passage_budget(None, 20, 400, 800) == 800
    assert passage_budget(10.0, 20, 400, 800) == 400
    assert passage_budget(30.0, 20, 400, 800) == 600


class ScoredRetriever(FakeRetriever):
    """Hits with set cosine relevance and term match."""

    def __init__(self, scored: list[tuple[float, float]]) -> None:
        super().__init__()
        self.scored = scored

    async def search(
        self, owner_id: str, query: str, collection: str | None, top_k: int, mode: str = "hybrid"
    ) -> list[dict[str, Any]]:
        return [
            {"chunk_id": str(i), "document_id": f"d{i}", "source": f"cv{i}.pdf",
             "title": f"Person {i}", "page": 1, "heading": "Skills", "text": f"Skill list {i}.",
             "score": 1.0 - i / 10, "relevance": relevance, "term_match": term_match}
            for i, (relevance, term_match) in enumerate(self.scored)
        ]


def test_passages_holding_every_selective_term_stay_under_the_cosine_floor() -> None:
    retriever = ScoredRetriever([(0.45, 0.6), (0.22, 1.0), (0.12, 0.76), (0.10, 0.0)])
    pipeline = AnswerPipeline(FakeModels(), retriever, Prompts(),
                              PipelineConfig(min_score=0.30, min_term_match=1.0))
    prepared = asyncio.run(pipeline.prepare(run_input("Who has worked with Airflow?", [], [])))
    assert [s["chunk_id"] for s in prepared.sources or []] == ["0", "1"]
    assert keeps({"score": 0.1, "relevance": 0.1, "term_match": 0.76}, 0.30, 0.75)
    assert not keeps({"score": 0.1, "relevance": 0.1, "term_match": 0.0}, 0.30, 0.0)


def test_passages_with_few_selective_terms_go_when_others_hold_them_all() -> None:
    """ "Who studied in Delft?": Education sections that lack "Delft" (0.3: "studied") go."""
    hits = [{"score": 1.0, "relevance": r, "term_match": t}
            for r, t in [(0.47, 1.0), (0.38, 0.0), (0.36, 0.3), (0.33, 1.0), (0.31, 0.6)]]
    assert [h["relevance"] for h in focus(hits)] == [0.47, 0.33, 0.31]
    partial = [{**h, "term_match": min(h["term_match"], 0.7)} for h in hits]
    assert focus(partial) == partial  # no passage holds them all: nothing to go by
    assert focus([{"score": 1.0, "relevance": 0.5}]) == [{"score": 1.0, "relevance": 0.5}]


def test_no_relevant_passage_says_so_in_the_prompt() -> None:
    retriever = ScoredRetriever([(0.2, 0.0), (0.1, 0.5)])
    pipeline = AnswerPipeline(FakeModels(), retriever, Prompts(), PipelineConfig(min_score=0.30))
    prepared = asyncio.run(pipeline.prepare(run_input("best chocolate cake recipe", [], [])))
    assert prepared.sources == []
    assert prepared.messages[-1].content.startswith(NO_PASSAGES)


def test_every_passage_names_its_document_once() -> None:
    """A two-column CV's sidebar ("Skills") and its main column ("Name > Education") both say
    whose they are; heading levels repeating the title are left out."""
    cv = {"title": "Pier Carducci - Security Engineer", "source": "011-pier-carducci.pdf",
          "page": 1, "text": "Skills\n• Burp Suite"}
    assert format_passage(1, {**cv, "heading": "Skills"}).startswith(
        "[1] (Pier Carducci - Security Engineer > Skills, page 1)\n")
    assert format_passage(2, {**cv, "heading": "Pier Carducci > Education"}).startswith(
        "[2] (Pier Carducci - Security Engineer > Education, page 1)\n")
    assert format_passage(3, {**cv, "heading": "Pier Carducci"}).startswith(
        "[3] (Pier Carducci - Security Engineer, page 1)\n")
    untitled = {"title": None, "source": "notes.md", "page": None, "text": "x"}
    assert format_passage(4, {**untitled, "heading": "Setup > Linux"}) == (
        "[4] (notes.md > Setup > Linux)\nx")
    assert format_passage(5, {**untitled, "source": "", "heading": "Setup"}) == "[5] (Setup)\nx"


def test_a_trimmed_passage_keeps_its_first_sentence_where_the_fact_often_is() -> None:
    from ragline.services.passages import _terms, trim_passage

    chunk = ("The current implementation supports lengths up to 2147483647. " + " ".join(
        f"Filler sentence number {i} talks about nothing much at all." for i in range(40))
        + " You can raise the value at compile time with a larger limit.")
    trimmed = trim_passage(chunk, _terms("What is the largest value it can be raised to at "
                                         "compile time?"), 60)
    assert trimmed.startswith("The current implementation supports lengths up to 2147483647.")
    assert "compile time" in trimmed and " … " in trimmed
