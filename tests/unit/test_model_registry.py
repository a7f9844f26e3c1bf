"""The model registry: entries from settings, provider resolution, retries, timeouts, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from ragline.config import Settings
from ragline.domain.errors import InvalidInput, ProviderError
from ragline.domain.llm import (
    Capabilities,
    ChatMessage,
    Finish,
    GenerationParams,
    ModelSpec,
    ModelSwitched,
    ProviderEvent,
    Queued,
    TextDelta,
    Usage,
)
from ragline.services.models import ModelRegistry
from ragline.services.retry_policy import RetryPolicy

HELLO = [ChatMessage("user", "hello")]
PARAMS = GenerationParams(max_tokens=8)


class FakeProvider:
    """Replays a script per call: a list of events and exceptions, or a callable."""

    capabilities = Capabilities()
    context_window = 4096

    def __init__(self, name: str, scripts: list[list[object]]) -> None:
        self.name = name
        self.scripts = scripts
        self.calls = 0
        self.closed_streams = 0
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[ProviderEvent]:
        script = self.scripts[min(self.calls, len(self.scripts) - 1)]
        self.calls += 1
        try:
            for step in script:
                if isinstance(step, BaseException):
                    raise step
                if isinstance(step, float):
                    await asyncio.sleep(step)
                    continue
                yield step
        finally:
            self.closed_streams += 1

    async def aclose(self) -> None:
        self.closed = True


def ok(*words: str) -> list[object]:
    return [*(TextDelta(w) for w in words), Usage(3, len(words)), Finish("stop")]


def down(retry_after: float | None = None) -> ProviderError:
    return ProviderError("server down", code="unreachable", retryable=True, retry_after=retry_after)


class Harness:
    def __init__(self, tmp_path: Path, specs: list[ModelSpec], **policy: float) -> None:
        self.sleeps: list[float] = []
        self.fakes: dict[str, FakeProvider] = {}
        settings = Settings(data_dir=tmp_path, model_dir=tmp_path / "models", default_model="a")

        def factory(spec: ModelSpec, settings: Settings) -> FakeProvider:
            return self.fakes[spec.name]

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.registry = ModelRegistry(
            settings,
            {s.name: s for s in specs},
            factories={"fake": factory},
            policy=RetryPolicy(backoff_base=0.1, **policy),
            sleep=sleep,
            rand=lambda: 1.0,
        )

    def fake(self, name: str, *scripts: list[object]) -> FakeProvider:
        self.fakes[name] = FakeProvider(name, list(scripts))
        return self.fakes[name]

    async def events(self, name: str = "a") -> list[ProviderEvent]:
        return [e async for e in self.registry.stream(name, HELLO, PARAMS)]


def spec(name: str, *fallbacks: str, **options: object) -> ModelSpec:
    return ModelSpec(name=name, provider="fake", fallbacks=list(fallbacks), options=dict(options))


def test_builtin_models_are_registered_with_qwen_as_default(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path))
    assert {"scripted", "qwen2.5-coder-1.5b-instruct", "gemma-3-270m"} <= set(registry.names())
    assert registry.default_model == "qwen2.5-coder-1.5b-instruct"
    assert registry.spec("qwen2.5-coder-1.5b-instruct").provider == "llamacpp"
    assert registry.spec("scripted").provider == "scripted"


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_models_file_entries_are_added_to_the_builtins(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"models{suffix}"
    if suffix == ".toml":
        path.write_text(
            '[models.local-qwen]\nprovider = "openai"\nmodel = "qwen"\n'
            'base_url = "http://127.0.0.1:9/v1"\ncontext_window = 8192\n'
            'fallbacks = ["scripted"]\noptions = { first_token_timeout = 5 }\n'
        )
    else:
        path.write_text(
            "local-qwen:\n  provider: openai\n  model: qwen\n  base_url: http://127.0.0.1:9/v1\n"
            "  context_window: 8192\n  fallbacks: [scripted]\n"
            "  options: {first_token_timeout: 5}\n"
        )
    registry = ModelRegistry(Settings(data_dir=tmp_path, models_file=path))
    entry = registry.spec("local-qwen")
    assert (entry.provider, entry.model, entry.context_window) == ("openai", "qwen", 8192)
    assert entry.fallbacks == ["scripted"]
    assert registry.policy("local-qwen").first_token_timeout == 5.0
    assert "scripted" in registry.names()


def test_unknown_model_is_invalid_input_with_code_unknown_model(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path))
    with pytest.raises(InvalidInput) as info:
        registry.spec("Llama2")
    assert info.value.code == "unknown_model"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('provider = "openai"\ncolour = "red"', "unknown settings"),
        ('provider = "nope"', "unknown provider"),
        ('provider = "openai"\nfallbacks = ["missing"]', "bad fallback"),
        ('model = "x"', "'provider' is required"),
    ],
)
def test_bad_models_file_entries_are_refused_at_startup(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f"[m]\n{entry}\n")
    with pytest.raises(InvalidInput, match=message):
        ModelRegistry(Settings(data_dir=tmp_path, models_file=path))


async def test_providers_come_from_entry_points_and_are_created_once(tmp_path: Path) -> None:
    registry = ModelRegistry(Settings(data_dir=tmp_path, default_model="scripted"))
    provider = registry.provider("scripted")
    assert registry.provider("scripted") is provider
    text, usage, used = await registry.complete(
        "scripted", [ChatMessage("user", "[[say:hi there]]")], PARAMS
    )
    assert (text, used) == ("hi there", "scripted")
    assert usage.completion_tokens == 2
    assert registry.readiness()["models"]["scripted"]["loaded"] is True
    await registry.aclose()


async def test_retryable_failure_before_first_token_is_retried_with_backoff(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, [spec("a")])
    fake = h.fake("a", [down()], [down()], ok("fine"))
    events = await h.events()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["fine"]
    assert fake.calls == 3
    assert h.sleeps == [0.1, 0.2]  # base * 2**attempt, full jitter with rand() == 1


async def test_retry_after_from_the_server_is_honoured(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a")])
    h.fake("a", [down(retry_after=3.0)], ok("x"))
    await h.events()
    assert h.sleeps == [3.0]


async def test_fallback_takes_over_when_retries_are_exhausted(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", "b"), spec("b")], max_retries=1)
    primary = h.fake("a", [down()])
    h.fake("b", ok("from", "b"))
    events = await h.events()
    assert primary.calls == 2
    switched = [e for e in events if isinstance(e, ModelSwitched)]
    assert len(switched) == 1 and switched[0].model == "b"
    assert "server down" in switched[0].reason
    assert events.index(switched[0]) == 0
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "fromb"


async def test_non_retryable_failure_goes_straight_to_the_fallback(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", "b"), spec("b")])
    primary = h.fake("a", [ProviderError("bad key", code="auth_failed")])
    h.fake("b", ok("y"))
    events = await h.events()
    assert primary.calls == 1 and h.sleeps == []
    assert isinstance(events[0], ModelSwitched)


async def test_last_error_is_raised_when_the_whole_chain_fails(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", "b"), spec("b")], max_retries=0)
    h.fake("a", [down()])
    h.fake("b", [ProviderError("also down", code="unreachable", retryable=True)])
    with pytest.raises(ProviderError, match="also down"):
        await h.events()


async def test_error_after_partial_output_propagates_without_retry_or_fallback(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, [spec("a", "b"), spec("b")])
    primary = h.fake("a", [TextDelta("partial"), down()])
    fallback = h.fake("b", ok("never"))
    seen: list[ProviderEvent] = []
    with pytest.raises(ProviderError, match="server down"):
        async for event in h.registry.stream("a", HELLO, PARAMS):
            seen.append(event)
    assert seen == [TextDelta("partial")]
    assert primary.calls == 1 and fallback.calls == 0


async def test_unexpected_exception_is_wrapped_as_provider_error(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a")])
    h.fake("a", [RuntimeError("bug in plugin")])
    with pytest.raises(ProviderError, match="bug in plugin"):
        await h.events()


async def test_first_token_timeout_counts_as_a_retryable_failure(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", "b", first_token_timeout=0.05), spec("b")], max_retries=0)
    h.fake("a", [5.0, TextDelta("too late")])
    h.fake("b", ok("quick"))
    events = await h.events()
    assert isinstance(events[0], ModelSwitched) and "first token" in events[0].reason


async def test_idle_timeout_between_tokens_fails_the_run(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", idle_timeout=0.05)])
    h.fake("a", [TextDelta("one"), 5.0, TextDelta("two")])
    with pytest.raises(ProviderError) as info:
        await h.events()
    assert info.value.code == "timeout" and not info.value.retryable


async def test_queue_positions_pass_through_and_do_not_count_as_output(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a")])
    fake = h.fake("a", [Queued(2), Queued(1), down()], ok("z"))
    events = await h.events()
    assert events[:2] == [Queued(2), Queued(1)]
    assert fake.calls == 2  # the failure came before any output, so it was retried


async def test_closing_the_registry_stream_closes_the_provider_stream(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a")])
    fake = h.fake("a", [TextDelta("a"), 10.0, TextDelta("b")])
    events = h.registry.stream("a", HELLO, PARAMS)
    assert await anext(events) == TextDelta("a")
    await events.aclose()
    assert fake.closed_streams == 1


async def test_complete_reports_the_model_that_answered(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a", "b"), spec("b")], max_retries=0)
    h.fake("a", [down()])
    h.fake("b", [TextDelta("two words"), Finish()])
    text, usage, used = await h.registry.complete("a", HELLO, PARAMS)
    assert (text, used) == ("two words", "b")
    assert usage == Usage(prompt_tokens=1, completion_tokens=2)  # counted: no usage reported


async def test_readiness_and_aclose(tmp_path: Path) -> None:
    h = Harness(tmp_path, [spec("a")])
    fake = h.fake("a", ok("x"))
    assert h.registry.readiness()["models"]["a"]["loaded"] is False
    await h.events()
    report = h.registry.readiness()
    assert report["ready"] is True and report["models"]["a"]["loaded"] is True
    await h.registry.aclose()
    assert fake.closed


class LoadingProvider(FakeProvider):
    def __init__(self, name: str, fail: bool) -> None:
        super().__init__(name, [ok("x")])
        self.is_loaded = False
        self.load_error: str | None = None
        self.fail = fail
        self.queue = (0, 0)

    async def load(self) -> None:
        if self.fail:
            self.load_error = "model file missing"
            raise ProviderError(self.load_error, code="model_unavailable")
        self.is_loaded = True


@pytest.mark.parametrize("fail", [False, True])
async def test_start_loads_the_default_model_when_asked_and_readiness_tells(
    tmp_path: Path, fail: bool
) -> None:
    provider = LoadingProvider("a", fail)
    settings = Settings(data_dir=tmp_path, default_model="a", load_model_at_startup=True)
    registry = ModelRegistry(settings, {"a": spec("a")}, factories={"fake": lambda s, _: provider})
    assert registry.readiness()["ready"] is False
    if fail:
        with pytest.raises(ProviderError):
            await registry.start()
    else:
        await registry.start()
    report = registry.readiness()
    assert report["ready"] is not fail
    assert report["models"]["a"]["loaded"] is not fail
    assert ("error" in report["models"]["a"]) is fail
    assert report["models"]["a"]["waiting"] == 0


def test_retry_policy_reads_entry_options_and_caps_retry_after() -> None:
    policy = RetryPolicy().with_options({"max_retries": "4", "first_token_timeout": None})
    assert policy.max_retries == 4 and policy.first_token_timeout is None
    assert policy.delay(0, 60.0) is None  # beyond max_retry_after: go to the fallback now
    assert policy.delay(4, None) is None
    assert policy.delay(10, None, lambda: 1.0) is None
    assert RetryPolicy(max_retries=20).delay(10, None, lambda: 1.0) == 8.0  # backoff_max
