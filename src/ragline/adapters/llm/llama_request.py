"""Requests for the llama.cpp engine: chat (template from the GGUF) or a plain prompt for base
models, with the history trimmed so that prompt and answer fit one slot's context."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ragline.domain.errors import ProviderError
from ragline.domain.llm import ChatMessage, GenerationParams

_PLAIN_ROLES = {"system": "", "user": "User: ", "assistant": "Assistant: "}
_PLAIN_STOP = ("\nUser:", "\nAssistant:")
_TRUNCATION_MARK = "\n[...]\n"
COMPACT_JSON = {"whitespace_flexible": False}


def build_request(
    messages: Sequence[ChatMessage], params: GenerationParams, *, chat: bool, max_tokens: int
) -> dict[str, Any]:
    """The JSON body for `handle_chat_completions` (chat) or `handle_completions` (plain)."""
    body: dict[str, Any] = {
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": max_tokens,
        "cache_prompt": True,
        "return_progress": True,  # prompt-reading progress; also lets a cancel stop the reading
    }
    stop = list(params.stop)
    if chat:
        body["messages"] = [{"role": m.role, "content": m.content} for m in messages]
    else:
        body["prompt"] = plain_prompt(messages)
        stop += [s for s in _PLAIN_STOP if s not in stop]
    if stop:
        body["stop"] = stop
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.seed is not None:
        body["seed"] = params.seed
    if params.json_schema is not None:
        body["grammar"] = json_grammar(params.json_schema)
    return body


def json_grammar(schema: dict[str, Any]) -> str:
    """An llguidance grammar for a JSON Schema, compact (no free whitespace).

    Sent as `grammar` rather than `json_schema`: on the chat path llama.cpp would convert the
    schema with its GBNF converter, which allows indentation that eats the token budget (and
    with free whitespace small models can loop on newlines until the limit)."""
    return "%llguidance {}\nstart: %json " + json.dumps({"x-guidance": COMPACT_JSON, **schema})


def plain_prompt(messages: Sequence[ChatMessage]) -> str:
    """A transcript a base model continues: system text first, then User:/Assistant: turns."""
    lines = [f"{_PLAIN_ROLES[m.role]}{m.content.strip()}" for m in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


def fit_messages(
    messages: Sequence[ChatMessage], budget: int, count: Callable[[str], int]
) -> list[ChatMessage]:
    """Drop the oldest turns, then shorten the longest message, until the prompt fits `budget`.

    System messages and the last message are kept; the history in between goes oldest first.
    Raises `ProviderError("context_overflow")` only when nothing sensible is left to cut.
    """
    if budget <= 0:
        raise ProviderError(
            "the answer budget alone exceeds the model's context window", code="context_overflow"
        )
    kept = list(messages)

    def total() -> int:
        return sum(count(m.content) + 4 for m in kept)

    while total() > budget:
        droppable = [i for i, m in enumerate(kept[:-1]) if m.role != "system"]
        if not droppable:
            break
        del kept[droppable[0]]
    for _ in range(len(kept) + 3):  # each round cuts the longest message by the excess
        excess = total() - budget
        if excess <= 0:
            return kept
        longest = max(range(len(kept)), key=lambda i: len(kept[i].content))
        if not kept[longest].content:
            break
        kept[longest] = _shorten(kept[longest], excess, count)
    raise ProviderError(
        "the message does not fit the model's context window", code="context_overflow"
    )


def _shorten(message: ChatMessage, excess_tokens: int, count: Callable[[str], int]) -> ChatMessage:
    """Cut the middle of a message (keeping its start and end) by about `excess_tokens`."""
    text = message.content
    tokens = max(1, count(text))
    keep_chars = int(len(text) * max(0.0, 1 - (excess_tokens + 8) / tokens))
    if keep_chars <= 0:
        return replace(message, content="")
    head = keep_chars * 2 // 3
    tail = keep_chars - head
    return replace(message, content=text[:head] + _TRUNCATION_MARK + text[len(text) - tail :])
