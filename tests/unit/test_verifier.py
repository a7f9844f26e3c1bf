"""The verifier's second opinion on borderline claims (services/verifier.py and its use in
ClaimChecker.sentence_checker), with a fake verifier and fake logprobs (our own ports); the
local model's side is tested in tests/integration/test_llamacpp_provider.py."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from ragline.adapters.llm.slot_gate import SlotGate
from ragline.domain.llm import ChatMessage
from ragline.services.claims import ClaimChecker, Thresholds, in_band, second_opinion
from ragline.services.verifier import ModelVerifier, excerpt, log_odds
from tests.unit.test_claims import PASSAGES, WordsEmbedder

RESTATED = "Employees receive twenty-five days of paid vacation each year."


class FakeVerifier:
    def __init__(self, margin: float | None = None, fails: bool = False) -> None:
        self.margin, self.fails = margin, fails
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, statement: str, passage: str) -> float | None:
        self.asked.append((statement, passage))
        if self.fails:
            raise RuntimeError("engine gone")
        return self.margin


def test_log_odds_add_up_every_spelling_of_each_answer() -> None:
    logprobs = {"Yes": math.log(0.5), " yes": math.log(0.2), "No": math.log(0.1), ".": -9.0}
    assert log_odds(logprobs) == pytest.approx(math.log(0.7 / 0.1))
    assert log_odds({"No": -0.1, "Maybe": -3.0}) == pytest.approx(-3.0 + 0.1)  # yes: the floor
    assert log_odds({}) is None


def test_the_excerpt_keeps_the_sentences_sharing_most_words_in_their_order() -> None:
    passage = ("The WAL file grows. Checkpoints run when the WAL reaches 1000 pages. "
               "Readers never block. A checkpoint copies pages back to the database file. "
               "Writers append.")
    got = excerpt("A checkpoint runs when the WAL reaches 1000 pages.", passage, size=2)
    assert got == ("Checkpoints run when the WAL reaches 1000 pages. "
                   "A checkpoint copies pages back to the database file.")
    assert excerpt("anything", "One sentence only.") == "One sentence only."


async def test_the_model_verifier_asks_one_question_and_reads_the_odds() -> None:
    seen: list[Sequence[ChatMessage]] = []

    async def next_token_logprobs(messages: Sequence[ChatMessage]) -> dict[str, float] | None:
        seen.append(messages)
        return {"No": -0.2, "Yes": -2.0}

    verify = ModelVerifier(next_token_logprobs)
    assert await verify("The office opens at 9 [1].", "The office opens at 8.") == (
        pytest.approx(-1.8))
    system, user = seen[0]
    assert system.role == "system" and "yes or no" in system.content
    assert "Statement: The office opens at 9." in user.content and "[1]" not in user.content

    async def busy(messages: Sequence[ChatMessage]) -> dict[str, float] | None:
        return None

    assert await ModelVerifier(busy)("a b c", "d e f") is None


def test_the_band_and_the_second_opinion() -> None:
    t = Thresholds(supported=0.52, veto_below=0.75, rescue_from=0.30)
    assert in_band(True, 0.6, t) and not in_band(True, 0.8, t)
    assert in_band(False, 0.4, t) and not in_band(False, 0.2, t)
    assert not in_band(False, 0.0, t)  # a gate failed: a number or a word is missing
    assert second_opinion(True, -0.5) is False and second_opinion(True, 0.0) is True
    assert second_opinion(False, 0.5) is True and second_opinion(False, -0.1) is False
    assert second_opinion(True, None) is True and second_opinion(False, None) is False


async def test_a_borderline_supported_sentence_is_vetoed() -> None:
    verifier = FakeVerifier(margin=-1.0)
    checker = ClaimChecker(WordsEmbedder(), Thresholds(veto_below=1.01), verifier=verifier)
    verdict = await checker.sentence_checker(PASSAGES)(RESTATED, (1,))
    assert verdict is not None and not verdict.supported and verdict.sources == []
    statement, passage = verifier.asked[0]
    assert statement == RESTATED and "twenty-five days" in passage


async def test_a_borderline_unsupported_sentence_is_rescued_with_its_best_passage() -> None:
    verifier = FakeVerifier(margin=2.0)
    checker = ClaimChecker(WordsEmbedder(), Thresholds(supported=1.01, rescue_from=0.3),
                           verifier=verifier)
    verdict = await checker.sentence_checker(PASSAGES)("The office opens at 8 in the morning.", ())
    assert verdict is not None and verdict.supported and verdict.sources == [2]


@pytest.mark.parametrize("verifier", [FakeVerifier(margin=None), FakeVerifier(fails=True)])
async def test_a_busy_or_failing_verifier_leaves_the_verdict(verifier: FakeVerifier) -> None:
    checker = ClaimChecker(WordsEmbedder(), Thresholds(veto_below=1.01), verifier=verifier)
    verdict = await checker.sentence_checker(PASSAGES)(RESTATED, (1,))
    assert verdict is not None and verdict.supported and verdict.sources == [1]
    assert verifier.asked


async def test_clear_verdicts_are_not_put_to_the_verifier() -> None:
    verifier = FakeVerifier(margin=-5.0)
    checker = ClaimChecker(WordsEmbedder(), verifier=verifier)
    check = checker.sentence_checker(PASSAGES)
    assert (await check(RESTATED, ())).supported  # type: ignore[union-attr]
    unrelated = await check("ragline streams grounded answers token by token.", ())
    assert unrelated is not None and not unrelated.supported
    assert verifier.asked == []


async def test_try_acquire_takes_only_a_free_slot_nobody_waits_for() -> None:
    gate = SlotGate(slots=2, queue_limit=4)
    assert gate.try_acquire() and gate.try_acquire()
    assert not gate.try_acquire() and gate.busy == 2
    gate.release()
    assert gate.try_acquire()
