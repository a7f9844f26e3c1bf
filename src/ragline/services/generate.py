"""Structured generation: a prompt in, a JSON value valid against a schema out.

The strategy is the best the model's provider offers: grammar-constrained decoding (local
llama.cpp turns the JSON Schema into a grammar, so the text is valid JSON of the right shape by
construction), the provider's native JSON-schema mode (OpenAI-compatible, Anthropic, Gemini), or
the schema in the prompt alone. Every answer is validated whatever the strategy; violations are
fed back to the model for another attempt, up to `max_attempts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from ragline.domain.errors import InvalidInput, OutputInvalid
from ragline.domain.llm import Capabilities, ChatMessage, GenerationParams, ModelSpec, Usage
from ragline.domain.schemas import OutputSchema
from ragline.services.runs import Prepared, RunInput
from ragline.services.schemas import BUILTINS, inline_schema
from ragline.services.structured import (
    check_output,
    instructions,
    repair_messages,
    request_messages,
    summary,
)

Strategy = Literal["auto", "constrained", "prompt"]
DEFAULT_MAX_TOKENS = 1024


class GeneratingModels(Protocol):
    """What generation needs from the model registry."""

    def spec(self, name: str) -> ModelSpec: ...

    def provider(self, name: str) -> Any: ...  # anything with `.capabilities`

    async def complete(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[str, Usage, str]: ...


class SchemaResolver(Protocol):
    async def resolve(self, owner_id: str, ref: str | dict[str, Any]) -> OutputSchema: ...


@dataclass(frozen=True)
class Generated:
    data: Any
    attempts: int
    model: str
    strategy: str  # "grammar", "native" or "prompt": what was actually used
    usage: Usage


def choose_strategy(capabilities: Capabilities, requested: Strategy = "auto") -> str:
    """The decoding strategy for a provider: `constrained` insists on grammar or native mode."""
    if requested == "prompt":
        return "prompt"
    if capabilities.grammar:
        return "grammar"
    if capabilities.json_schema:
        return "native"
    if requested == "constrained":
        raise InvalidInput(
            "this model supports neither grammar-constrained decoding nor a JSON-schema mode; "
            "use strategy 'prompt' or 'auto'",
            code="strategy_unsupported",
        )
    return "prompt"


async def generate(
    models: GeneratingModels,
    schema: OutputSchema,
    prompt: str,
    *,
    context: Any = None,
    model: str,
    max_attempts: int = 3,
    strategy: Strategy = "auto",
    max_tokens: int | None = None,
    temperature: float = 0.0,
) -> Generated:
    """Generate until the answer validates, repairing with the violations; else `OutputInvalid`
    with the last violations and the last raw answer. `temperature` above 0 lets a caller that
    asks again for what was rejected get another answer, not the same one."""
    if max_attempts < 1:
        raise InvalidInput("max_attempts must be at least 1")
    spec = models.spec(model)
    used_strategy = choose_strategy(models.provider(model).capabilities, strategy)
    params = GenerationParams(
        max_tokens=max_tokens or spec.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=temperature,
        json_schema=schema.decoding_schema(context) if used_strategy != "prompt" else None,
    )
    first_turn = request_messages(schema, prompt, context)
    messages = first_turn
    prompt_tokens = completion_tokens = 0
    for attempt in range(1, max_attempts + 1):
        text, usage, used_model = await models.complete(model, messages, params)
        prompt_tokens += usage.prompt_tokens
        completion_tokens += usage.completion_tokens
        data, violations = check_output(schema, text, context)
        if not violations:
            total = Usage(prompt_tokens, completion_tokens)
            return Generated(data, attempt, used_model, used_strategy, total)
        messages = [*first_turn, *repair_messages(text, violations)]
    raise OutputInvalid(
        f"the model's answer was still invalid after {max_attempts} attempt"
        f"{'s' if max_attempts > 1 else ''}: {summary(violations)}",
        details={"errors": violations, "raw": text, "attempts": max_attempts},
    )


async def prepare_structured_run(
    prepared: Prepared, run: RunInput, schemas: SchemaResolver | None
) -> Prepared:
    """Make a run answer with JSON valid against its `response_format`.

    The schema joins the system prompt and goes to the provider as `json_schema` (grammar or
    native mode where supported). The answer is streamed once, so there is no repair turn here:
    tokens already sent are the answer. `finish` validates it; a violation fails the run with
    `llm_output_invalid` (POST /api/generate is the endpoint with the repair loop).
    """
    schema = await _resolve(schemas, run.owner_id, run.response_format)
    rules = instructions(schema, with_context=True)
    messages = list(prepared.messages)
    if messages and messages[0].role == "system":
        messages[0] = ChatMessage("system", f"{messages[0].content}\n\n{rules}")
    else:
        messages.insert(0, ChatMessage("system", rules))
    context = "\n".join([*(m.content for m in run.history), run.question])
    params = replace(
        prepared.params, json_schema=schema.decoding_schema(context), temperature=0.0
    )
    return replace(
        prepared, messages=messages, params=params, finish=_validator(schema, context)
    )


def _validator(schema: OutputSchema, context: Any) -> Callable[[str], Any]:
    def finish(text: str) -> Any:
        data, violations = check_output(schema, text, context)
        if violations:
            raise OutputInvalid(
                f"the answer does not match the response format: {summary(violations)}",
                details={"errors": violations, "raw": text, "attempts": 1},
            )
        return data

    return finish


async def _resolve(schemas: SchemaResolver | None, owner_id: str, ref: Any) -> OutputSchema:
    if schemas is not None:
        return await schemas.resolve(owner_id, ref)
    if isinstance(ref, str):
        if ref not in BUILTINS:
            raise InvalidInput(f"schema {ref!r} not found", code="schema_not_found")
        return BUILTINS[ref]
    return inline_schema(ref)
