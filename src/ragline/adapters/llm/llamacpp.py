"""The `llamacpp` provider: a local GGUF model run in-process by llama.cpp (xllamacpp).

Generation runs in a dedicated thread pool; the engine's parallel slots bound concurrency and
further requests wait in a bounded queue, reporting their position as `Queued` events.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ragline.adapters.llm.llama_engine import ContextOverflow, EngineConfig, LlamaEngine
from ragline.adapters.llm.llama_request import build_request, fit_messages
from ragline.adapters.llm.local_models import PACKAGED_MODELS, ensure_model_file
from ragline.adapters.llm.slot_gate import SlotGate, SlotLease
from ragline.domain.errors import ProviderError
from ragline.domain.llm import (
    Capabilities,
    ChatMessage,
    GenerationParams,
    ModelSpec,
    ProviderEvent,
    Queued,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    from ragline.config import Settings

_END = object()


class LlamaCppProvider:
    capabilities = Capabilities(streaming=True, json_schema=True, grammar=True)

    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        opts = spec.options
        self.name = spec.name
        self.model = spec.model or spec.name
        self.settings = settings
        self.parallel = int(opts.get("parallel", settings.llama_parallel))
        ctx = int(opts.get("ctx_per_slot", settings.llama_ctx_per_slot))
        self.context_window = min(spec.context_window, ctx)
        self.n_threads = int(opts.get("n_threads", settings.engine_threads))
        self.n_threads_batch = int(
            opts.get("n_threads_batch", settings.llama_batch_threads or self.n_threads)
        )
        self.n_batch = int(opts.get("n_batch", settings.llama_n_batch))
        self.cache_ram_mib = int(opts.get("cache_ram_mib", 1024))
        self.default_max_tokens = spec.max_tokens or settings.answer_max_tokens
        self.default_temperature = spec.temperature
        packaged = PACKAGED_MODELS.get(self.model)
        self.chat = bool(opts.get("chat_template", packaged.chat_template if packaged else True))
        self.load_error: str | None = None
        self._gate = SlotGate(
            self.parallel, int(opts.get("queue_limit", settings.llama_queue_limit))
        )
        self._pool = ThreadPoolExecutor(self.parallel + 1, thread_name_prefix=f"llama-{self.name}")
        self._engine: LlamaEngine | None = None
        self._load_lock = threading.Lock()
        self._active: set[threading.Event] = set()
        self._chars_per_token = 3.0  # conservative until the engine has reported real counts

    @property
    def is_loaded(self) -> bool:
        return self._engine is not None and self._engine.is_loaded

    @property
    def ready(self) -> bool:
        return self.is_loaded

    @property
    def queue(self) -> tuple[int, int]:
        """(running, waiting) requests."""
        return self._gate.busy, self._gate.waiting

    def engine_metrics(self) -> dict[str, float]:
        """Counters from the engine itself (empty until the model is loaded)."""
        return self._engine.metrics() if self._engine is not None else {}

    async def load(self) -> None:
        """Assemble/verify the model file and start the engine; later calls return at once."""
        if self.is_loaded:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self._load_sync)
        except ProviderError as exc:
            self.load_error = exc.message
            raise
        self.load_error = None

    def _load_sync(self) -> None:
        with self._load_lock:  # concurrent first requests: one assembles and loads, the rest wait
            if self._engine is None:
                config = EngineConfig(
                    model_path=ensure_model_file(self.model, self.settings),
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads_batch,
                    parallel=self.parallel,
                    ctx_per_slot=self.context_window,
                    n_batch=self.n_batch,
                    cache_ram_mib=self.cache_ram_mib,
                )
                self._engine = LlamaEngine(config)
            self._engine.load()

    @property
    def prompt_rate(self) -> float | None:
        """Prompt tokens the engine reads per second, measured on real requests."""
        return self._engine.prompt_rate if self._engine is not None else None

    def count_tokens(self, text: str) -> int:
        """An estimate calibrated on the engine's own prompt counts (exact counting would mean a
        round trip through the engine for every call)."""
        return int(len(text) / self._chars_per_token) + 1 if text else 0

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]:
        await self.load()
        async with aclosing(self._gate.acquire()) as positions:
            async for position in positions:
                yield Queued(position)
        lease = SlotLease(self._gate)
        try:
            max_tokens = min(params.max_tokens or self.default_max_tokens, self.context_window // 2)
            if params.temperature is None and self.default_temperature is not None:
                params = replace(params, temperature=self.default_temperature)
            budget = self.context_window - max_tokens
            fitted = fit_messages(messages, budget, self.count_tokens)
            for attempt in range(3):
                body = build_request(fitted, params, chat=self.chat, max_tokens=max_tokens)
                emitted = False
                try:
                    async with aclosing(self._generate(body, fitted, lease)) as events:
                        async for event in events:
                            emitted = emitted or isinstance(event, TextDelta)
                            yield event
                    return
                except ContextOverflow as exc:
                    if emitted or attempt == 2 or exc.prompt_tokens <= 0:
                        raise
                    # The estimate was off: shrink by what the engine measured, with a margin.
                    budget = int(budget * exc.n_ctx / exc.prompt_tokens * 0.9)
                    fitted = fit_messages(fitted, budget, self.count_tokens)
        finally:
            lease.drop()

    async def next_token_logprobs(
        self, messages: Sequence[ChatMessage], top: int = 10
    ) -> dict[str, float] | None:
        """The reply's likely first tokens with their logprobs, on a slot that is free now;
        None when every slot is taken or the model is not loaded (nothing waits for it)."""
        engine = self._engine
        if engine is None or not engine.is_loaded or not self.chat:
            return None
        if not self._gate.try_acquire():
            return None
        lease = SlotLease(self._gate)
        chat = [{"role": m.role, "content": m.content} for m in messages]

        def run() -> dict[str, float]:
            try:
                return engine.next_token_logprobs(chat, top)
            finally:
                lease.drop()  # the slot is free when the engine is, even if nobody waits

        lease.share()
        try:
            future = self._pool.submit(run)
        except RuntimeError:  # the pool is shut down: this provider was closed
            lease.drop()
            return None
        finally:
            lease.drop()
        return await asyncio.wrap_future(future)

    async def _generate(
        self, body: dict[str, Any], messages: Sequence[ChatMessage], lease: SlotLease
    ) -> AsyncGenerator[ProviderEvent, None]:
        """Run one request in a pool thread. Leaving early only flags it: the thread stops at
        the next token and then gives the slot back, without making the caller wait."""
        engine = self._engine
        assert engine is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancelled.set()

        def run() -> None:
            try:
                engine.generate(body, chat=self.chat, emit=emit, cancelled=cancelled)
            finally:
                self._active.discard(cancelled)
                lease.drop()  # before _END: a stream that ran to the end finds its slot free
                emit(_END)

        lease.share()
        self._active.add(cancelled)
        try:
            self._pool.submit(run)
        except RuntimeError as exc:  # the pool is shut down: this provider was closed
            lease.drop()
            raise ProviderError("the local model was closed", code="model_unavailable") from exc
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, ProviderError):
                    raise item
                if isinstance(item, Usage):
                    self._calibrate(messages, item.prompt_tokens)
                yield item
        finally:
            cancelled.set()  # stops decoding at the next token if we leave early

    def _calibrate(self, messages: Sequence[ChatMessage], prompt_tokens: int) -> None:
        chars = sum(len(m.content) for m in messages)
        if prompt_tokens > 0 and chars > 200:
            observed = max(1.5, min(6.0, chars / prompt_tokens))
            self._chars_per_token = 0.8 * self._chars_per_token + 0.2 * observed

    async def aclose(self) -> None:
        """Stop every generation, wait for the threads, then unload the model."""
        for cancelled in list(self._active):
            cancelled.set()
        engine, self._engine = self._engine, None
        await asyncio.to_thread(self._pool.shutdown)
        if engine is not None:
            await asyncio.to_thread(engine.close)


def create(spec: ModelSpec, settings: Settings) -> LlamaCppProvider:
    return LlamaCppProvider(spec, settings)
