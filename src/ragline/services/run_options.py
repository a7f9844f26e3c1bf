"""Per-thread generation options, read from the thread's metadata, over the pipeline's defaults.

A thread's metadata may carry (the OpenAI-compatible API sets them from each request):
- `system`: the system prompt, replacing the default one ("" sends none); with retrieval on,
  it goes before the grounding instructions instead;
- `sampling`: `max_tokens`, `temperature`, `top_p`, `stop` (list of strings), `seed`;
- `top_k`: how many passages retrieval returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragline.domain.llm import GenerationParams, ModelSpec


def sampling_params(
    spec: ModelSpec, default_max_tokens: int, options: Mapping[str, Any]
) -> GenerationParams:
    sampling = options.get("sampling")
    sampling = sampling if isinstance(sampling, Mapping) else {}
    max_tokens = _positive_int(sampling.get("max_tokens"))
    stop = sampling.get("stop") or ()
    return GenerationParams(
        max_tokens=max_tokens or spec.max_tokens or default_max_tokens,
        temperature=_number(sampling.get("temperature"), spec.temperature),
        top_p=_number(sampling.get("top_p"), None),
        stop=tuple(str(s) for s in stop if s) if isinstance(stop, list | tuple) else (),
        seed=_integer(sampling.get("seed")),
    )


def plain_system(options: Mapping[str, Any], default: str) -> str:
    """The system prompt of an answer without retrieval."""
    custom = options.get("system")
    return custom if isinstance(custom, str) else default


def grounded_system(options: Mapping[str, Any], grounding: str) -> str:
    """The system prompt of an answer with retrieval: the caller's, then the grounding rules."""
    custom = options.get("system")
    if isinstance(custom, str) and custom.strip():
        return f"{custom.strip()}\n\n{grounding}"
    return grounding


def retrieval_top_k(options: Mapping[str, Any], default: int) -> int:
    return _positive_int(options.get("top_k")) or default


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _positive_int(value: Any) -> int | None:
    number = _integer(value)
    return number if number is not None and number > 0 else None


def _number(value: Any, default: float | None) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default
