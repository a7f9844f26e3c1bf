"""A second opinion on borderline claims, from the local model itself.

The claim check (services/claims.py) scores a sentence by embedding similarity and word overlap;
in a band near its cut the score cannot tell a restatement from a same-topic sentence with
another fact ("checkpoints happen on every commit" beside "... when the WAL reaches 1000
pages"). For those sentences only, the model is asked one yes/no question about the passage's
closest sentences, and the answer is read as odds from the first token's logprobs: one short
prompt read, no decoding (1-4 s on 2 cores for 30-130 prompt tokens).

It runs only on an engine slot that is free at that moment: it never queues behind a run and
never makes one wait for a slot it took from the queue. Without a free slot (or a local model)
the embedding verdict stands.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ragline.domain.llm import ChatMessage
from ragline.services.claim_text import content_terms, split_sentences, strip_markers

if TYPE_CHECKING:
    from ragline.services.models import ModelRegistry

# (statement, passage) -> log-odds that the passage says what the statement says; None: not asked
Verify = Callable[[str, str], Awaitable[float | None]]
NextTokenLogprobs = Callable[[Sequence[ChatMessage]], Awaitable[dict[str, float] | None]]

SYSTEM = "You check whether a statement is supported by a passage. Reply with yes or no."
QUESTION = (
    "Passage:\n{passage}\n\nStatement: {statement}\n\n"
    "Does the passage say what the statement says? Answer yes or no."
)
_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
EXCERPT_SENTENCES = 3  # the whole passage (200-330 tokens) took 5-20 s and agreed in sign


def excerpt(statement: str, passage: str, size: int = EXCERPT_SENTENCES) -> str:
    """The passage's `size` sentences sharing most words with the statement, in their order."""
    sentences = [s.text(passage) for s in split_sentences(passage)]
    sentences = [" ".join(s.split()) for s in sentences if s.strip()]
    if len(sentences) <= size:
        return " ".join(sentences) or passage
    terms = content_terms(statement)
    shared = [len(terms & content_terms(s)) for s in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-shared[i], i))
    return " ".join(sentences[i] for i in sorted(ranked[:size]))


def log_odds(logprobs: dict[str, float], yes: str = "yes", no: str = "no") -> float | None:
    """log P(yes) - log P(no) over the tokens that spell either answer (" Yes", "yes", ...);
    an answer missing from the top tokens counts as likely as the least likely of them."""
    if not logprobs:
        return None
    floor = min(logprobs.values())

    def total(word: str) -> float:
        found = [lp for token, lp in logprobs.items() if token.strip().lower() == word]
        return math.log(sum(math.exp(lp) for lp in found)) if found else floor

    return total(yes) - total(no)


class ModelVerifier:
    """`Verify` on a chat model's first-token logprobs (the local model's `next_token_logprobs`)."""

    def __init__(self, next_token_logprobs: NextTokenLogprobs) -> None:
        self.next_token_logprobs = next_token_logprobs

    async def __call__(self, statement: str, passage: str) -> float | None:
        prose = _BEFORE_PUNCTUATION.sub(r"\1", strip_markers(statement))  # "9 [1]." -> "9."
        prompt = QUESTION.format(passage=excerpt(statement, passage), statement=prose)
        logprobs = await self.next_token_logprobs(
            [ChatMessage("system", SYSTEM), ChatMessage("user", prompt)])
        return log_odds(logprobs) if logprobs is not None else None


def default_model_verifier(models: ModelRegistry) -> ModelVerifier:
    """The verifier on the registry's default model, resolved when first asked; a model that
    gives no logprobs (scripted, remote) is never asked."""

    async def next_token_logprobs(messages: Sequence[ChatMessage]) -> dict[str, float] | None:
        provider = models.provider(models.default_model)
        ask = getattr(provider, "next_token_logprobs", None)
        return await ask(messages) if ask is not None else None

    return ModelVerifier(next_token_logprobs)
