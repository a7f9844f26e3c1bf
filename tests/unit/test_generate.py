"""Structured output without I/O: the repair loop, semantic checks, strategies, schema checks."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from ragline.adapters.llm.scripted import ScriptedProvider
from ragline.domain.errors import Conflict, InvalidInput, OutputInvalid, Unprocessable
from ragline.domain.llm import Capabilities, ChatMessage, GenerationParams, ModelSpec, Usage
from ragline.domain.references import known_block_ids
from ragline.domain.schemas import check_json_schema
from ragline.services.generate import choose_strategy, generate, prepare_structured_run
from ragline.services.runs import Prepared, RunInput
from ragline.services.schemas import BUILTINS, SchemaRegistry, inline_schema
from ragline.services.structured import extract_json

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
GHOST = "99999999-9999-4999-8999-999999999999"
CONTEXT = {"blocks": [{"id": A, "block_type": "source", "name": "csv"},
                      {"id": B, "block_type": "model", "name": "classifier"}]}


class _Provider:
    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities


class QueueModels:
    """A model that answers from a queue of texts and records what it was asked."""

    def __init__(self, *answers: str, capabilities: Capabilities | None = None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[ChatMessage], GenerationParams]] = []
        self._provider = _Provider(capabilities or Capabilities(json_schema=True, grammar=True))

    def spec(self, name: str) -> ModelSpec:
        return ModelSpec(name=name, provider="fake")

    def provider(self, name: str) -> _Provider:
        return self._provider

    async def complete(
        self, name: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> tuple[str, Usage, str]:
        self.calls.append((list(messages), params))
        return self.answers.pop(0), Usage(10, 5), name


def pipeline(*edges: tuple[str, str], blocks: tuple[str, ...] = (A, B)) -> str:
    return json.dumps({
        "name": "p",
        "blocks": list(blocks),
        "edges": [{"source_block_id": s, "target_block_id": t, "edge_type": "data"}
                  for s, t in edges],
    })


async def test_repair_loop_feeds_errors_back_until_the_answer_is_valid() -> None:
    models = QueueModels("Sure! here it is: {", '{"name": "p", "blocks": []}', pipeline((A, B)))
    result = await generate(models, BUILTINS["pipeline"], "connect them", context=CONTEXT,
                            model="fake")
    assert result.attempts == 3 and result.strategy == "grammar"
    assert result.data["edges"][0]["source_block_id"] == A
    assert result.usage == Usage(30, 15)
    repair_turn = models.calls[1][0]
    assert repair_turn[-2] == ChatMessage("assistant", "Sure! here it is: {")
    assert "not valid JSON" in repair_turn[-1].content
    last_repair = models.calls[2][0]
    assert "edges: Field required" in last_repair[-1].content
    assert len(last_repair) == 4, "only the latest failed answer is shown, not every attempt"


async def test_gives_up_after_max_attempts_with_last_errors_and_raw_output() -> None:
    models = QueueModels('{"name": 1}', '{"name": 2}')
    with pytest.raises(OutputInvalid) as caught:
        await generate(models, BUILTINS["block"], "a block", model="fake", max_attempts=2)
    assert caught.value.code == "llm_output_invalid"
    details = caught.value.details
    assert details["raw"] == '{"name": 2}' and details["attempts"] == 2
    assert {tuple(e["loc"]) for e in details["errors"]} == {("block_type",), ("name",)}


async def test_edges_to_blocks_missing_from_context_and_answer_are_repaired() -> None:
    models = QueueModels(pipeline((A, GHOST)), pipeline((A, B)))
    result = await generate(models, BUILTINS["pipeline"], "link", context=CONTEXT, model="fake")
    assert result.attempts == 2
    feedback = models.calls[1][0][-1].content
    assert f"edges/0/target_block_id: target_block_id {GHOST} does not reference" in feedback


def test_pipeline_edges_may_reference_blocks_listed_in_the_same_answer() -> None:
    data, violations = BUILTINS["pipeline"].validate(json.loads(pipeline((A, B))), None)
    assert violations == [] and data["blocks"] == [A, B]
    _, violations = BUILTINS["pipeline"].validate(
        json.loads(pipeline((A, GHOST), blocks=(A,))), None
    )
    assert [v["loc"] for v in violations] == [["edges", 0, "target_block_id"]]


def test_pipeline_blocks_must_come_from_the_context_when_it_names_blocks() -> None:
    _, violations = BUILTINS["pipeline"].validate(
        json.loads(pipeline(blocks=(A, GHOST))), CONTEXT
    )
    assert [(v["loc"], v["type"]) for v in violations] == [(["blocks", 1], "unknown_block")]


def test_edge_checks_its_ends_against_the_context_only_when_the_context_has_blocks() -> None:
    edge = {"source_block_id": A, "target_block_id": GHOST, "edge_type": "data"}
    assert BUILTINS["edge"].validate(edge, None)[1] == []
    _, violations = BUILTINS["edge"].validate(edge, json.dumps(CONTEXT))
    assert [v["loc"] for v in violations] == [["target_block_id"]]


def test_known_block_ids_reads_json_structures_and_free_text() -> None:
    assert known_block_ids(CONTEXT) == {A, B}
    assert known_block_ids({"blocks": [A.upper()]}) == {A}
    assert known_block_ids([{"block_id": A, "block_type": "x"}]) == {A}
    assert known_block_ids({"edges": [{"source_block_id": A, "target_block_id": B}]}) == {A, B}
    assert known_block_ids(f"blocks: {A} (csv) and {B}") == {A, B}
    assert known_block_ids({"pipeline_id": A}) == set()


async def test_constrained_decoding_limits_ids_to_the_context_blocks() -> None:
    models = QueueModels(pipeline((A, B)))
    await generate(models, BUILTINS["pipeline"], "link", context=CONTEXT, model="fake")
    decoding = models.calls[0][1].json_schema
    assert decoding["properties"]["blocks"]["items"] == {"enum": [A, B]}
    edge = decoding["$defs"]["EdgeAPIRequest"]["properties"]
    assert edge["source_block_id"] == edge["target_block_id"] == {"enum": [A, B]}
    assert BUILTINS["pipeline"].decoding_schema(None) is BUILTINS["pipeline"].json_schema
    narrowed_edge = BUILTINS["edge"].decoding_schema(f"from {B} to {A}")
    assert narrowed_edge["properties"]["target_block_id"] == {"enum": [A, B]}
    assert "enum" not in json.dumps(BUILTINS["edge"].json_schema), "the original is untouched"


def test_strategy_is_the_best_the_provider_offers_unless_forced() -> None:
    assert choose_strategy(Capabilities(json_schema=True, grammar=True)) == "grammar"
    assert choose_strategy(Capabilities(json_schema=True)) == "native"
    assert choose_strategy(Capabilities()) == "prompt"
    assert choose_strategy(Capabilities(grammar=True), "prompt") == "prompt"
    with pytest.raises(InvalidInput):
        choose_strategy(Capabilities(), "constrained")


async def test_prompt_strategy_puts_the_schema_in_the_prompt_and_not_in_params() -> None:
    models = QueueModels('```json\n{"block_type": "sink", "name": "out"}\n```')
    result = await generate(models, BUILTINS["block"], "a sink", model="fake", strategy="prompt")
    messages, params = models.calls[0]
    assert params.json_schema is None and result.strategy == "prompt"
    assert '"block_type"' in messages[0].content and "title" not in messages[0].content
    assert result.data == {"block_type": "sink", "name": "out", "description": None}


def test_extract_json_finds_the_value_in_prose_and_fences() -> None:
    assert extract_json('Here you go: {"a": [1]} hope it helps') == {"a": [1]}
    assert extract_json("```\n[1, 2]\n```") == [1, 2]
    assert extract_json('Two: [1] and {"b": {"c": 2}}.') == {"b": {"c": 2}}, "the longest"
    with pytest.raises(ValueError, match="not valid JSON"):
        extract_json("no json [here")


@pytest.mark.parametrize("prefix", ["", "```json\n", "Here it is: "])
def test_a_cut_off_answer_is_reported_as_such_not_as_an_inner_value(prefix: str) -> None:
    cut = '{"name": "p", "edges": [{"source_block_id": "a", "edge_type": "x"}, {"source_'
    with pytest.raises(ValueError, match="stops early"):
        extract_json(prefix + cut)


async def test_registered_schemas_are_validated_with_json_schema() -> None:
    schema = inline_schema({"type": "object", "properties": {"n": {"type": "integer"}},
                            "required": ["n"]})
    models = QueueModels('{"n": "three"}', '{"n": 3}')
    result = await generate(models, schema, "a number", model="fake")
    assert result.data == {"n": 3} and result.attempts == 2
    assert "'three' is not of type 'integer'" in models.calls[1][0][-1].content


def test_invalid_json_schema_is_refused_with_the_schema_error() -> None:
    with pytest.raises(Unprocessable) as caught:
        check_json_schema({"type": "object", "properties": {"n": {"type": "nope"}}})
    assert caught.value.code == "invalid_schema"
    assert caught.value.details["loc"] == ["properties", "n", "type"]
    with pytest.raises(Unprocessable):
        check_json_schema(["not", "an", "object"])


async def test_registering_a_builtin_name_or_a_bad_name_is_refused() -> None:
    registry = SchemaRegistry(db=None)  # type: ignore[arg-type]  # refused before any query
    with pytest.raises(Conflict):
        await registry.register("u", "pipeline", {"type": "object"})
    with pytest.raises(Unprocessable):
        await registry.register("u", "has space", {"type": "object"})


async def test_structured_run_sets_the_schema_and_parses_the_final_text() -> None:
    run = RunInput("r", "t", "u", "scripted", f"pipeline of {A}", [], None, "pipeline")
    prepared = Prepared([ChatMessage("system", "Be brief."), ChatMessage("user", "hi")])
    structured = await prepare_structured_run(prepared, run, None)
    assert structured.params.json_schema["properties"]["blocks"]["items"] == {"enum": [A]}
    assert structured.messages[0].content.startswith("Be brief.\n\nYou produce JSON")
    assert structured.finish(pipeline(blocks=(A,)))["blocks"] == [A]
    with pytest.raises(OutputInvalid, match="blocks/0"):
        structured.finish(pipeline(blocks=(GHOST,)))


async def test_scripted_json_directive_emits_raw_text_then_a_valid_instance() -> None:
    provider = ScriptedProvider()
    params = GenerationParams(json_schema=BUILTINS["block"].json_schema)
    first = provider.script([ChatMessage("user", 'x [[json:{"name": [[1]]}]] y')], params)
    assert "".join(first) == '{"name": [[1]]}'
    second = provider.script([ChatMessage("user", "fix it")], params)
    assert json.loads("".join(second)) == {"block_type": "x", "name": "x"}
