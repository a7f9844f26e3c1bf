"""The answer pipeline: retrieve passages for a turn and lay out a prompt the engine can cache."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ragline.domain.llm import ModelSpec, approx_token_count
from ragline.services.conflicts import disagreements
from ragline.services.generate import SchemaResolver, prepare_structured_run
from ragline.services.passages import passage_budget, select_passages
from ragline.services.prompt_layout import DECLINE, Turn, layout, turns_from_history
from ragline.services.question_names import names_unmatched
from ragline.services.run_options import (
    grounded_system,
    plain_system,
    retrieval_top_k,
    sampling_params,
)
from ragline.services.runs import Models, Prepared, RunInput
from ragline.telemetry import tracing
from ragline.telemetry.hooks import stage

log = logging.getLogger(__name__)
PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"


class Retriever(Protocol):
    """What the pipeline needs from the document index."""

    async def search(
        self, owner_id: str, query: str, collection: str | None, top_k: int, mode: str = "hybrid"
    ) -> list[dict[str, Any]]: ...

    async def collection_version(self, owner_id: str, collection: str) -> int | None: ...


class CompletingModels(Models, Protocol):
    def spec(self, name: str) -> ModelSpec: ...

    def prompt_rate(self, name: str) -> float | None: ...


class Prompts:
    """Prompt templates from files; a folder in settings overrides any of them by name."""

    def __init__(self, override_dir: Path | None = None) -> None:
        self._dirs = [d for d in (override_dir, PROMPTS_DIR) if d is not None]
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._cache:
            for folder in self._dirs:
                path = folder / f"{name}.txt"
                if path.is_file():
                    self._cache[name] = path.read_text(encoding="utf-8").strip()
                    break
            else:
                raise FileNotFoundError(f"prompt template {name!r} not found")
        return self._cache[name]


@dataclass
class PipelineConfig:
    top_k: int = 5
    min_score: float = 0.25
    # ... or a hybrid hit holding this share of the query's selective terms (hit `term_match`)
    min_term_match: float = 1.0
    answer_max_tokens: int = 512
    cache_size: int = 256
    # Passage tokens: what the engine reads within `target_wait` seconds at its measured prompt
    # rate, within [passage_tokens_min, passage_tokens_max]; each passage at most `passage_tokens`.
    target_wait: float = 20.0
    passage_tokens_min: int = 400
    passage_tokens_max: int = 800
    passage_tokens: int = 220


Report = Callable[[str], Awaitable[None]]


async def _no_report(stage: str) -> None:
    return None


class AnswerPipeline:
    def __init__(
        self,
        models: CompletingModels,
        retriever: Retriever | None,
        prompts: Prompts,
        config: PipelineConfig,
        schemas: SchemaResolver | None = None,
    ) -> None:
        self.models = models
        self.retriever = retriever
        self.prompts = prompts
        self.config = config
        self.schemas = schemas
        self._cache: OrderedDict[tuple[Any, ...], tuple[int, list[dict[str, Any]]]] = OrderedDict()

    async def prepare(self, run: RunInput, report: Report = _no_report) -> Prepared:
        """The prompt for `run`; `report(stage)` is awaited as each stage starts."""
        prepared = await self._prepare_answer(run, report)
        if run.response_format is not None:  # structured output (docs/api.md §4)
            prepared = await prepare_structured_run(prepared, run, self.schemas)
        return prepared

    async def _prepare_answer(self, run: RunInput, report: Report) -> Prepared:
        spec = self.models.spec(run.model)
        params = sampling_params(spec, self.config.answer_max_tokens, run.options)
        window = spec.context_window - (params.max_tokens or 512) - 64
        count = approx_token_count
        grounded = await self._has_documents(run)
        past = turns_from_history(run.history, run.history_sources, grounded)
        if not grounded:
            system = plain_system(run.options, self.prompts.get("system"))
            current = Turn(run.question, grounded=False)
            return Prepared(layout(system, past, current, window, count), None, params)
        await report("retrieving")
        assert run.collection is not None  # _has_documents said so
        if past:  # a follow-up is searched together with the question before it
            with tracing.span("condense"):
                query = follow_up_query(past, run.question)
        else:
            query = run.question
        hits = await self.retrieve(
            run.owner_id, query, run.collection, retrieval_top_k(run.options, self.config.top_k),
        )
        with tracing.span("prompt"):
            budget = passage_budget(
                self.models.prompt_rate(run.model), self.config.target_wait,
                self.config.passage_tokens_min, self.config.passage_tokens_max,
            )
            sources = select_passages(hits, run.question, budget, self.config.passage_tokens)
            system = grounded_system(run.options, self.prompts.get("system_grounded"))
            current = Turn(run.question, passages=sources)
            return Prepared(
                layout(system, past, current, window, count), sources, params,
                # no passage matched: the answer declines, without asking the model to
                fixed_answer=None if sources or run.response_format is not None else DECLINE,
                disagreements=disagreements(run.question, sources), query=query,
            )

    async def _has_documents(self, run: RunInput) -> bool:
        """Plain chat without a collection, or with one that never held a chunk (version 0)."""
        if not run.collection or self.retriever is None:
            return False
        return bool(await self.retriever.collection_version(run.owner_id, run.collection))

    @stage("retrieve")
    async def retrieve(
        self, owner_id: str, query: str, collection: str, top_k: int | None = None
    ) -> list[dict[str, Any]]:
        assert self.retriever is not None
        top_k = top_k or self.config.top_k
        version = await self.retriever.collection_version(owner_id, collection)
        if version is None:
            return []
        key = (owner_id, collection, _normalize(query), top_k)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            self._cache.move_to_end(key)
            return [dict(s) for s in cached[1]]
        hits = await self.retriever.search(owner_id, query, collection, top_k)
        relevant = focus(
            [h for h in hits if keeps(h, self.config.min_score, self.config.min_term_match)]
        )
        if names_unmatched(query, relevant):
            relevant = []  # it asks about something no passage names: the answer declines
        self._cache[key] = (version, relevant)
        if len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
        return [dict(s) for s in relevant]


def keeps(hit: dict[str, Any], min_score: float, min_term_match: float) -> bool:
    """Whether an answer's prompt carries this search hit: similar enough to the question
    (cosine `relevance`), or holding its selective terms (hybrid search's `term_match`): a
    skills table that lists "Airflow" is what "Who has worked with Airflow?" needs, however far
    its vector lies."""
    if hit.get("relevance", hit["score"]) >= min_score:
        return True
    term_match = hit.get("term_match") or 0.0
    return term_match > 0 and term_match >= min_term_match - 1e-6


FULL_MATCH = 1.0 - 1e-6  # a hit's term_match when it holds every selective term
FOCUS_SHARE = 0.5


def focus(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """When some passage holds all of the question's selective terms, the passages holding
    less than half of their weight go: a small model names whoever a passage shows, and an
    Education section without "Delft" (only "studied") misleads "Who studied in Delft?".

    Only a full match triggers it: with 0.75 it cost one fact of the eval set's passages
    (bench/RESULTS.md, "answer passages")."""
    if not any((h.get("term_match") or 0.0) >= FULL_MATCH for h in hits):
        return hits
    return [h for h in hits if (h.get("term_match") or 0.0) >= FOCUS_SHARE]


def follow_up_query(past: Sequence[Turn], question: str) -> str:
    """The search query of a turn: a follow-up is searched together with the question before it.

    Condensing on the retrieval side costs no model call and no second reading of the history;
    on the eval set's follow-ups it retrieves the right document as often as the model-written
    standalone query did (bench/RESULTS.md, "follow-up retrieval").
    """
    previous = next((t.question for t in reversed(past) if t.question), None)
    return f"{previous} {question}" if previous else question


def _normalize(query: str) -> str:
    return " ".join(re.findall(r"\w+", query.lower()))


