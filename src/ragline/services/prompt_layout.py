"""The prompt of a grounded conversation, laid out so the engine's prefix cache can reuse it.

The conversation is append-only: the system instructions come first and never change, and each
turn adds one user message (its passages, then its question) and the answer. Turn N+1's prompt
therefore begins with turn N's prompt plus its answer, token for token, and the engine reads
only the new turn. Past turns are rebuilt from what the thread stored: the question, the answer
and the answer's `sources`, whose `text` is exactly the passage text the prompt carried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragline.domain.llm import ChatMessage
from ragline.services.chunking import HEADING_SEPARATOR
from ragline.services.conflicts import disagreements

# The exact decline is asked for only in a turn without passages: as a rule of the system prompt
# ("if a question says none matched ...") it made the model decline questions that merely say
# "no" ("SQLite has no date storage class; in which formats ...?").
DECLINE = ("The documents do not cover this question; "
           "I cannot find any information about it in them.")
NO_PASSAGES = f'Passages: none of the documents matched this question. Reply exactly: "{DECLINE}"'



@dataclass
class Turn:
    question: str
    answer: str | None = None
    passages: list[dict[str, Any]] = field(default_factory=list)
    grounded: bool = True  # asked while the thread had documents


def format_passage(number: int, passage: dict[str, Any]) -> str:
    """`[n] (document title > heading, page p)`, then the text. Every passage names its
    document, so a CV's "Skills" says whose skills they are; heading levels the title already
    says (a CV's name, under "Name - Role") are left out."""
    where = str(passage.get("title") or passage.get("source") or "")
    heading = passage.get("heading")
    if heading:
        levels = [h for h in str(heading).split(HEADING_SEPARATOR)
                  if h and h != where and not where.startswith(h + " ")]
        if levels:
            where = HEADING_SEPARATOR.join([where, *levels] if where else levels)
    if passage.get("page"):
        where += f", page {passage['page']}"
    return f"[{number}] ({where})\n{passage['text']}"


def render_turn(turn: Turn, *, with_passages: bool = True) -> str:
    if not turn.grounded:
        return turn.question
    if not with_passages:
        return f"Question: {turn.question}"
    if not turn.passages:
        return f"{NO_PASSAGES}\n\nQuestion: {turn.question}"
    body = "\n\n".join(format_passage(i + 1, p) for i, p in enumerate(turn.passages))
    # (from the stored passages, so a past turn renders the same again: the prefix cache holds)
    notes = "".join(f"\n\n{d.note()}" for d in disagreements(turn.question, turn.passages))
    return f"Passages:\n{body}{notes}\n\nQuestion: {turn.question}"


def turns_from_history(
    history: Sequence[ChatMessage], sources: Sequence[list[dict[str, Any]] | None], grounded: bool
) -> list[Turn]:
    """Pair each stored question with the answer after it (a failed run may have none)."""
    turns: list[Turn] = []
    for i, message in enumerate(history):
        if message.role == "user":
            turns.append(Turn(message.content, grounded=grounded))
        elif turns and turns[-1].answer is None:
            turns[-1].answer = message.content
            turns[-1].passages = list((sources[i] if i < len(sources) else None) or [])
        else:  # an answer without its question (not produced by ragline): keep it as is
            turns.append(Turn("", answer=message.content, grounded=False))
    return turns


def layout(
    system: str, past: Sequence[Turn], current: Turn, budget: int, count: Callable[[str], int]
) -> list[ChatMessage]:
    """System, past turns, the current turn; within `budget` tokens.

    When the window fills, the oldest turns lose their passages first (their question and
    answer stay, so follow-ups keep their meaning), and only then do whole turns go, oldest
    first. Each cut changes the prompt from that turn on, so the engine re-reads from there
    once; the turns after it then grow append-only again. The current turn is never cut here:
    the provider shortens it as a last resort.
    """
    stripped = [False] * len(past)
    start = 0

    def render() -> list[ChatMessage]:
        messages = [ChatMessage("system", system)] if system else []
        for turn, bare in zip(past[start:], stripped[start:], strict=True):
            if turn.question:
                messages.append(ChatMessage("user", render_turn(turn, with_passages=not bare)))
            if turn.answer:
                messages.append(ChatMessage("assistant", turn.answer))
        messages.append(ChatMessage("user", render_turn(current)))
        return messages

    def cost(messages: list[ChatMessage]) -> int:
        return sum(count(m.content) + 4 for m in messages)

    messages = render()
    while cost(messages) > budget and start < len(past):
        with_passages = [i for i in range(start, len(past)) if not stripped[i] and past[i].passages]
        if with_passages:
            stripped[with_passages[0]] = True
        else:
            start += 1
        messages = render()
    return messages
