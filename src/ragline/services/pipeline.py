"""The answer pipeline: condense a follow-up, retrieve passages, fit the prompt to the window."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ragline.domain.llm import ChatMessage, GenerationParams, ModelSpec, approx_token_count
from ragline.services.generate import SchemaResolver, prepare_structured_run
from ragline.services.run_options import (
    grounded_system,
    plain_system,
    retrieval_top_k,
    sampling_params,
)
from ragline.services.runs import Models, Prepared, RunInput

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

    async def complete(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Any: ...


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
    answer_max_tokens: int = 512
    cache_size: int = 256


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

    async def prepare(self, run: RunInput) -> Prepared:
        prepared = await self._prepare_answer(run)
        if run.response_format is not None:  # structured output (API.md §4)
            prepared = await prepare_structured_run(prepared, run, self.schemas)
        return prepared

    async def _prepare_answer(self, run: RunInput) -> Prepared:
        spec = self.models.spec(run.model)
        params = sampling_params(spec, self.config.answer_max_tokens, run.options)
        if not await self._has_documents(run):
            system = plain_system(run.options, self.prompts.get("system"))
            return Prepared(self._fit(system, [], run, spec, params), None, params)
        query = await self.condense(run) if run.history else run.question
        top_k = retrieval_top_k(run.options, self.config.top_k)
        assert run.collection is not None  # _has_documents said so
        sources = await self.retrieve(run.owner_id, query, run.collection, top_k)
        if sources:
            context_budget = self._context_budget(spec, params, run)
            sources = _fit_sources(sources, context_budget)
            context = "\n\n".join(_format_passage(i + 1, s) for i, s in enumerate(sources))
            system = self.prompts.get("system_rag").replace("{context}", context)
        else:
            system = self.prompts.get("system_no_context")
        system = grounded_system(run.options, system)
        return Prepared(self._fit(system, sources, run, spec, params), sources, params)

    async def _has_documents(self, run: RunInput) -> bool:
        """Plain chat without a collection, or with one that never held a chunk (version 0)."""
        if not run.collection or self.retriever is None:
            return False
        return bool(await self.retriever.collection_version(run.owner_id, run.collection))

    async def condense(self, run: RunInput) -> str:
        """Turn a follow-up into a standalone query with one non-streamed model call."""
        history = "\n".join(f"{m.role}: {_clip(m.content, 600)}" for m in run.history[-6:])
        prompt = (
            self.prompts.get("condense")
            .replace("{history}", history)
            .replace("{question}", run.question)
        )
        try:
            text, _usage, _model = await self.models.complete(
                run.model,
                [ChatMessage("user", prompt)],
                GenerationParams(max_tokens=64, temperature=0.0),
            )
        except Exception:  # a failed rewrite must not fail the answer
            log.warning("condensing the follow-up failed; searching with the question as is")
            return run.question
        query = str(text).strip().splitlines()[0].strip().strip('"') if str(text).strip() else ""
        return f"{query} {run.question}" if query else run.question

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
        relevant = [h for h in hits if h.get("relevance", h["score"]) >= self.config.min_score]
        self._cache[key] = (version, relevant)
        if len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
        return [dict(s) for s in relevant]

    def _context_budget(self, spec: ModelSpec, params: GenerationParams, run: RunInput) -> int:
        reserved = (params.max_tokens or 512) + approx_token_count(run.question) + 200
        return max(256, int(spec.context_window * 0.6) - reserved)

    def _fit(
        self,
        system: str,
        sources: list[dict[str, Any]],
        run: RunInput,
        spec: ModelSpec,
        params: GenerationParams,
    ) -> list[ChatMessage]:
        """System, as much recent history as fits, then the question; oldest turns go first."""
        budget = spec.context_window - (params.max_tokens or 512) - 64
        budget -= approx_token_count(system) + approx_token_count(run.question)
        kept: list[ChatMessage] = []
        for message in reversed(run.history):
            cost = approx_token_count(message.content) + 4
            if cost > budget:
                break
            kept.append(message)
            budget -= cost
        kept.reverse()
        head = [ChatMessage("system", system)] if system else []
        return [*head, *kept, ChatMessage("user", run.question)]


def _fit_sources(sources: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Drop the lowest-scoring passages until the context fits."""
    ranked = sorted(sources, key=lambda s: s["score"], reverse=True)
    kept, used = [], 0
    for source in ranked:
        cost = approx_token_count(source["text"]) + 16
        if used + cost > budget:
            continue
        kept.append(source)
        used += cost
    return kept


def _format_passage(number: int, source: dict[str, Any]) -> str:
    where = source.get("title") or source.get("source") or ""
    if source.get("page"):
        where += f", page {source['page']}"
    return f"[{number}] ({where})\n{source['text']}"


def _normalize(query: str) -> str:
    return " ".join(re.findall(r"\w+", query.lower()))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
