"""Thread metadata steering a run: system prompt and sampling overrides read by the pipeline."""

from __future__ import annotations

import asyncio

from ragline.domain.llm import ChatMessage, GenerationParams, ModelSpec
from ragline.services.pipeline import AnswerPipeline, PipelineConfig, Prompts
from ragline.services.run_options import grounded_system, plain_system, sampling_params
from ragline.services.runs import RunInput
from tests.fakes import FakeModels

SPEC = ModelSpec(name="m", provider="scripted", max_tokens=None, temperature=0.7)


def run_input(options: dict[str, object]) -> RunInput:
    return RunInput(
        run_id="r", thread_id="t", owner_id="o", model="scripted", question="q?",
        history=[ChatMessage("user", "earlier"), ChatMessage("assistant", "reply")],
        collection=None, response_format=None, options=dict(options),
    )


def test_sampling_overrides_apply_and_bad_values_fall_back_to_defaults() -> None:
    assert sampling_params(SPEC, 512, {}) == GenerationParams(max_tokens=512, temperature=0.7)
    sampling = {"max_tokens": 9, "temperature": 0, "top_p": 0.5, "stop": ["x"], "seed": 3}
    given = {"sampling": sampling}
    assert sampling_params(SPEC, 512, given) == GenerationParams(
        max_tokens=9, temperature=0.0, top_p=0.5, stop=("x",), seed=3
    )
    junk = {"sampling": {"max_tokens": -1, "temperature": "hot", "stop": "x", "seed": True}}
    assert sampling_params(SPEC, 512, junk) == GenerationParams(max_tokens=512, temperature=0.7)


def test_system_prompt_replaces_the_default_or_leads_the_grounding_rules() -> None:
    assert plain_system({}, "default") == "default"
    assert plain_system({"system": ""}, "default") == ""
    assert grounded_system({"system": "Be brief."}, "Use the passages.") == (
        "Be brief.\n\nUse the passages."
    )
    assert grounded_system({"system": "  "}, "Use the passages.") == "Use the passages."


def test_pipeline_sends_the_callers_system_prompt_and_none_when_it_is_empty() -> None:
    pipeline = AnswerPipeline(FakeModels(), None, Prompts(), PipelineConfig())
    custom = asyncio.run(pipeline.prepare(run_input({"system": "Be brief."})))
    assert custom.messages[0] == ChatMessage("system", "Be brief.")
    none = asyncio.run(pipeline.prepare(run_input({"system": "", "sampling": {"max_tokens": 4}})))
    assert [m.role for m in none.messages] == ["user", "assistant", "user"]
    assert none.params.max_tokens == 4
    default = asyncio.run(pipeline.prepare(run_input({})))
    assert default.messages[0].role == "system" and "ragline" in default.messages[0].content
