"""The words and checks around structured output: instructions that put the schema in the
prompt, extraction of the JSON value from a model's text, and the repair request."""

from __future__ import annotations

import json
import re
from typing import Any

from ragline.domain.llm import ChatMessage
from ragline.domain.schemas import OutputSchema, Violation

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
MAX_REPORTED = 20  # violations quoted back to the model or the caller


def instructions(schema: OutputSchema, *, with_context: bool) -> str:
    """System text telling the model to answer with one JSON value valid against `schema`."""
    lines = [
        "You produce JSON that other programs consume. Answer with exactly one JSON value that "
        "validates against the JSON Schema below: no prose, no comments, no code fences.",
        f"JSON Schema: {json.dumps(_prompt_schema(schema.json_schema), separators=(',', ':'))}",
    ]
    if schema.semantic is not None or with_context:
        lines.append(
            "Ids you reference must be ids that appear in the context or in your own answer; "
            "never invent them."
        )
    return "\n".join(lines)


def request_messages(schema: OutputSchema, prompt: str, context: Any) -> list[ChatMessage]:
    """The first turn of a generation: instructions, then the context and the task."""
    system = instructions(schema, with_context=context is not None)
    if context is None:
        return [ChatMessage("system", system), ChatMessage("user", prompt)]
    shown = context if isinstance(context, str) else json.dumps(context, ensure_ascii=False)
    return [
        ChatMessage("system", system),
        ChatMessage("user", f"Context:\n{shown}\n\nTask: {prompt}"),
    ]


def repair_messages(raw: str, violations: list[Violation]) -> list[ChatMessage]:
    """The turns that show the model its last answer and what was wrong with it."""
    problems = "\n".join(f"- {_where(v['loc'])}: {v['msg']}" for v in violations[:MAX_REPORTED])
    return [
        ChatMessage("assistant", raw),
        ChatMessage(
            "user",
            "That answer is not acceptable:\n"
            f"{problems}\n"
            "Answer again with the whole corrected JSON value only.",
        ),
    ]


def check_output(
    schema: OutputSchema, text: str, context: Any
) -> tuple[Any, list[Violation]]:
    """Parse the JSON value out of `text` and validate it; (data, violations)."""
    try:
        value = extract_json(text)
    except ValueError as exc:
        return None, [{"loc": [], "msg": str(exc), "type": "json_invalid"}]
    data, violations = schema.validate(value, context)
    return data, violations[:MAX_REPORTED]


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer: the whole text, a fenced block, or the longest value
    embedded in prose (models without constrained decoding like to add words).

    An answer cut off mid-value is reported as such, never mistaken for a value nested in it.
    """
    body = _unfence(text.strip())
    if not body:
        raise ValueError("the answer is empty, expected a JSON value")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        if body[0] in "{[":
            raise _not_json(body, exc) from None
        first_error = exc
    found: list[tuple[int, Any]] = []
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", body):
        try:
            value, end = decoder.raw_decode(body, match.start())
        except json.JSONDecodeError as exc:
            if _cut_off(body, exc):
                raise _not_json(body, exc) from None
            continue
        found.append((end - match.start(), value))
    if found:
        return max(found, key=lambda length_value: length_value[0])[1]
    raise _not_json(body, first_error)


def _unfence(text: str) -> str:
    """The content of the first ``` fence, also when the answer ends before the fence closes."""
    fenced = _FENCE.search(text)
    if fenced is not None:
        return fenced.group(1).strip()
    if text.startswith("```"):
        return text.partition("\n")[2].strip()
    return text


def _cut_off(text: str, error: json.JSONDecodeError) -> bool:
    return error.pos >= len(text) - 1 or error.msg.startswith("Unterminated string")


def _not_json(text: str, error: json.JSONDecodeError) -> ValueError:
    hint = " (it stops early: keep the answer shorter)" if _cut_off(text, error) else ""
    return ValueError(f"the answer is not valid JSON: {error}{hint}")


def summary(violations: list[Violation]) -> str:
    shown = "; ".join(f"{_where(v['loc'])}: {v['msg']}" for v in violations[:3])
    more = f" (and {len(violations) - 3} more)" if len(violations) > 3 else ""
    return shown + more


def _where(loc: list[Any]) -> str:
    return "/".join(str(p) for p in loc) or "(root)"


def _prompt_schema(node: Any) -> Any:
    """The schema without its `title` annotations, which cost tokens and say nothing new."""
    if isinstance(node, dict):
        return {
            k: _prompt_schema(v)
            for k, v in node.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_prompt_schema(v) for v in node]
    return node
