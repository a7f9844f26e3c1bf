"""Model registry entries: the built-in models plus those named in `RAGLINE_MODELS_FILE`.

The file (TOML or YAML) maps a model name to its entry, at the top level or under `models`:

    [models.gpt-4o-mini]
    provider = "openai"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"
    fallbacks = ["qwen2.5-coder-1.5b-instruct"]
    options = { first_token_timeout = 30 }
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ragline.domain.errors import InvalidInput
from ragline.domain.llm import ModelSpec

if TYPE_CHECKING:
    from ragline.config import Settings

# A local model's first token may wait for the model to load and for a long prompt to be read
# on a couple of cores (tens of prompt tokens a second), so it gets far longer than a server.
LOCAL_FIRST_TOKEN_TIMEOUT = 600.0

BUILTIN_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="scripted",
        provider="scripted",
        model="scripted",
        context_window=32768,
        description="Deterministic test model (no real language model).",
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b-instruct",
        provider="llamacpp",
        model="qwen2.5-coder-1.5b-instruct",
        context_window=32768,
        description="Qwen2.5-Coder 1.5B Instruct (Q4_K_M), run locally by llama.cpp.",
        # Greedy by default: a grounded answer is the same each time it is asked, as the eval
        # measures it (llama.cpp's own default, 0.8, let a sampled decline replace the answer).
        temperature=0.0,
        options={"first_token_timeout": LOCAL_FIRST_TOKEN_TIMEOUT},
    ),
    ModelSpec(
        name="gemma-3-270m",
        provider="llamacpp",
        model="gemma-3-270m",
        context_window=32768,
        description="Gemma 3 270M base model (Q4_K_M), local and fast; not instruction-tuned.",
        options={"first_token_timeout": LOCAL_FIRST_TOKEN_TIMEOUT},
    ),
)

_FIELDS = {
    "provider",
    "model",
    "base_url",
    "api_key_env",
    "context_window",
    "max_tokens",
    "temperature",
    "fallbacks",
    "options",
    "description",
}


def load_model_specs(settings: Settings) -> dict[str, ModelSpec]:
    """Built-ins, then the models file's entries (an entry may redefine a built-in)."""
    specs = {spec.name: spec for spec in BUILTIN_SPECS}
    if settings.models_file is not None:
        for spec in parse_models(read_models_file(Path(settings.models_file))):
            specs[spec.name] = spec
    return specs


def read_models_file(path: Path) -> Mapping[str, Any]:
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read the models file {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = yaml.safe_load(text) or {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"the models file {path} is not valid: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput(f"the models file {path} must map model names to entries")
    return data


def parse_models(data: Mapping[str, Any]) -> Iterable[ModelSpec]:
    entries = data.get("models", data) if isinstance(data.get("models"), Mapping) else data
    for name, entry in entries.items():
        yield parse_entry(str(name), entry)


def parse_entry(name: str, entry: Any) -> ModelSpec:
    if not isinstance(entry, Mapping):
        raise InvalidInput(f"model {name!r}: the entry must be a table of settings")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise InvalidInput(
            f"model {name!r}: unknown settings {sorted(unknown)}; allowed: {sorted(_FIELDS)}"
        )
    if not isinstance(entry.get("provider"), str):
        raise InvalidInput(f"model {name!r}: 'provider' is required")
    fallbacks = entry.get("fallbacks", [])
    options = entry.get("options", {})
    if not isinstance(fallbacks, list) or not all(isinstance(f, str) for f in fallbacks):
        raise InvalidInput(f"model {name!r}: 'fallbacks' must be a list of model names")
    if not isinstance(options, Mapping):
        raise InvalidInput(f"model {name!r}: 'options' must be a table")
    try:
        return ModelSpec(
            name=name,
            provider=entry["provider"],
            model=str(entry.get("model", name)),
            base_url=_optional_str(entry.get("base_url")),
            api_key_env=_optional_str(entry.get("api_key_env")),
            context_window=int(entry.get("context_window", 8192)),
            max_tokens=_optional_int(entry.get("max_tokens")),
            temperature=None if entry.get("temperature") is None else float(entry["temperature"]),
            fallbacks=list(fallbacks),
            options=dict(options),
            description=str(entry.get("description", "")),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"model {name!r}: {exc}") from exc


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
