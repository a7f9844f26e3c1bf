"""Scoring: facts, declines, citations, document-level retrieval, and the summary (pure).

Retrieval is scored with `ragline.services.evaluation` (the `ragline eval` CLI's recall and
source normalisation), so the two evaluations count documents the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragline.services.evaluation import distinct, normalize_source, recall_at

from .questions import EvalQuestion, ExpectMode, QuestionType

TOP_K = 5


def hit(sources: Iterable[str], relevant: Iterable[str]) -> bool:
    """A relevant document among the sources."""
    wanted = {normalize_source(s) for s in relevant}
    return any(normalize_source(s) in wanted for s in sources)


def recall(sources: Sequence[str], relevant: Sequence[str], k: int = TOP_K) -> float:
    """Document-level recall: the share of the relevant documents among the first k found."""
    return recall_at(distinct(sources), frozenset(normalize_source(s) for s in relevant), k)


def fold(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").casefold()


_WORD_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")


def _spelling(text: str) -> str:
    """Case, curly quotes and a hyphen between words ("shared-memory" is "shared memory")
    are spelling, not facts; a hyphen between digits ("231-1") stays."""
    return _WORD_HYPHEN.sub(" ", fold(text))


def contains_expected(answer: str, expect: Sequence[str], mode: ExpectMode = "any") -> bool:
    """Case-insensitive substrings, hyphenated words matching spaced ones; `any` needs one of
    them, `all` every one."""
    folded = _spelling(answer)
    found = [_spelling(e) in folded for e in expect]
    return bool(found) and (all(found) if mode == "all" else any(found))


# A decline names the documents (or says it does not know): strong phrases anywhere, or a
# negation in a sentence that talks about the documents/context.
_STRONG_DECLINE = re.compile(
    r"not (?:covered|mentioned)|no (?:relevant |specific |such )?(?:information|mention)"
    r"|(?:cannot|can't|could not|couldn't|unable to|not able to) (?:find|locate|answer|provide)"
    r"|(?:do|does|did) ?(?:not|n't) (?:seem to )?cover"
    r"|not (?:in|within|part of) (?:the|these|your|my) (?:provided |given )?(?:documents?|passages?"
    r"|context|sources?|documentation)"
    r"|outside (?:of )?(?:the )?scope|\bi (?:do not|don't) know\b"
    r"|(?:do|does) ?(?:not|n't) have (?:any )?(?:relevant |specific )?information"
)
_DOCS = re.compile(r"\b(?:documents?|docs|documentation|passages?|context|sources?|provided)\b")
_WEAK_DECLINE = re.compile(
    r"(?:do|does|did) ?(?:not|n't) (?:contain|mention|include|provide|discuss|address|describe"
    r"|explain|say|answer)|not (?:found|provided|available|included|discussed|described|addressed)"
    r"|there is no|nothing (?:about|on|regarding)|neither"
)
_DISAGREE = re.compile(
    r"disagree|differ|conflict|contradict|inconsisten|not (?:consistent|agree)"
    r"|one (?:document|passage|source|note)s? (?:says|states)|(?:another|the other) (?:says|states)"
)


def says_disagreement(answer: str) -> bool:
    """The answer tells the reader that its documents do not agree."""
    return _DISAGREE.search(fold(answer)) is not None


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def is_decline(answer: str) -> bool:
    """Does the answer say that the documents do not cover the question?"""
    text = fold(answer)
    if _STRONG_DECLINE.search(text):
        return True
    return any(_DOCS.search(s) and _WEAK_DECLINE.search(s) for s in _SENTENCE.split(text))


_CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")


def citations(answer: str) -> list[int]:
    """Passage numbers cited as [1], [2][3] or [1, 2]."""
    numbers: list[int] = []
    for group in _CITATION.findall(answer):
        numbers.extend(int(n) for n in re.findall(r"\d+", group))
    return numbers


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Turn:
    """One question asked in a thread and the run that answered it."""

    id: str
    type: QuestionType
    question: str
    thread_id: str = ""
    run_id: str = ""
    status: str = ""
    error: str | None = None
    answer: str = ""
    sources: list[str] = field(default_factory=list)  # final.sources, in order
    source_texts: list[str] = field(default_factory=list)  # their passage texts
    streamed_sources: list[str] | None = None  # the `sources` event (None: there was none)
    sources_before_tokens: bool | None = None
    t_sources: float | None = None  # seconds from posting the message
    t_first_token: float | None = None
    t_total: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # scores
    search_sources: list[str] = field(default_factory=list)  # POST /api/search, raw question
    search_recall: float | None = None
    search_hit: bool | None = None
    answer_source_hit: bool | None = None  # a relevant document among the run's sources
    facts_ok: bool | None = None
    declined: bool = False
    cited: list[int] = field(default_factory=list)
    valid_citations: bool = False  # at least one, and all point at a passage that was given
    cited_fact: bool = False  # a marker points at a passage holding the expected fact
    claims: list[dict[str, Any]] | None = None  # final.claims (None: the server sent none)
    claims_accounted: bool | None = None  # every claim supported with a valid source, or flagged


def score_turn(turn: Turn, q: EvalQuestion) -> None:
    retrieved = turn.streamed_sources if turn.streamed_sources is not None else turn.sources
    turn.declined = is_decline(turn.answer)
    turn.cited = citations(turn.answer)
    turn.valid_citations = bool(turn.cited) and all(1 <= n <= len(turn.sources)
                                                    for n in turn.cited)
    if turn.claims is not None:
        turn.claims_accounted = all(
            (c.get("supported") is True and bool(c.get("sources"))
             and all(1 <= n <= len(turn.sources) for n in c["sources"]))
            or (c.get("supported") is False and not c.get("sources"))
            for c in turn.claims)
    cited_texts = [turn.source_texts[n - 1] for n in turn.cited
                   if 1 <= n <= len(turn.source_texts)]
    if q.type == "conflict":  # each of the disagreeing values in a passage it cites
        turn.cited_fact = all(any(contains_expected(text, [value]) for text in cited_texts)
                              for value in q.expect)
    elif q.answerable:
        turn.cited_fact = any(contains_expected(text, q.expect, q.expect_mode)
                              for text in cited_texts)
    if q.answerable:
        turn.answer_source_hit = hit(retrieved, q.relevant)
        turn.facts_ok = turn.status == "done" and contains_expected(
            turn.answer, q.expect, q.expect_mode)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(turns: Sequence[Turn], questions: dict[str, EvalQuestion]) -> dict[str, Any]:
    """The headline figures: each a share (0..1) or seconds, with how many turns it counts."""
    firsts = [t for t in turns if t.search_recall is not None and t.type != "followup"]
    paraphrased = [t for t in firsts if questions[t.id].paraphrase]
    followups = [t for t in turns if t.type == "followup"]
    answerable = [t for t in turns if t.type in ("single", "followup")]
    conflicts = [t for t in turns if t.type == "conflict"]
    singles = [t for t in turns if t.type == "single"]
    unanswerable = [t for t in turns if t.type == "unanswerable"]
    answered = [t for t in turns if t.t_first_token is not None]

    def latency(values: list[float]) -> dict[str, float | int | None]:
        return {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": len(values)}

    ttft = [t.t_first_token for t in answered if t.t_first_token is not None]
    pre = [t.t_sources for t in answered if t.t_sources is not None]
    shares = [t.t_sources / t.t_first_token for t in answered
              if t.t_sources is not None and t.t_first_token]
    return {
        "questions": len(turns),
        "failed_runs": sum(t.status != "done" for t in turns),
        "retrieval_recall_at_5": {
            "value": _mean([t.search_recall for t in firsts if t.search_recall is not None]),
            "n": len(firsts)},
        "retrieval_recall_at_5_paraphrased": {
            "value": _mean([t.search_recall for t in paraphrased if t.search_recall is not None]),
            "n": len(paraphrased)},
        "retrieval_hit_at_5": {
            "value": _share([bool(t.search_hit) for t in firsts]), "n": len(firsts)},
        "answer_fact_accuracy": {
            "value": _share([bool(t.facts_ok) for t in answerable]), "n": len(answerable)},
        "answer_fact_accuracy_single": {
            "value": _share([bool(t.facts_ok) for t in singles]), "n": len(singles)},
        "answer_fact_accuracy_followup": {
            "value": _share([bool(t.facts_ok) for t in followups]), "n": len(followups)},
        "answerable_with_valid_citations": {
            "value": _share([t.valid_citations for t in answerable]), "n": len(answerable)},
        "answerable_cited_fact": {
            "value": _share([t.cited_fact for t in answerable]), "n": len(answerable)},
        "answerable_claims_accounted": {
            "value": _share([bool(t.claims_accounted) for t in answerable
                             if t.claims_accounted is not None]),
            "n": sum(t.claims_accounted is not None for t in answerable)},
        "answerable_claims_supported": {
            "value": _share([bool(c.get("supported")) for t in answerable
                             for c in t.claims or []]),
            "n": sum(len(t.claims or []) for t in answerable)},
        "answerable_wrongly_declined": {
            "value": _share([t.declined for t in answerable]), "n": len(answerable)},
        "answerable_sources_hit": {
            "value": _share([bool(t.answer_source_hit) for t in answerable]),
            "n": len(answerable)},
        "unanswerable_declined": {
            "value": _share([t.declined for t in unanswerable]), "n": len(unanswerable)},
        "unanswerable_empty_sources": {
            "value": _share([not t.sources for t in unanswerable]), "n": len(unanswerable)},
        "conflict_both_cited": {
            "value": _share([bool(t.facts_ok) and t.cited_fact for t in conflicts]),
            "n": len(conflicts)},
        "conflict_disagreement_said": {
            "value": _share([bool(t.facts_ok) and says_disagreement(t.answer)
                             for t in conflicts]), "n": len(conflicts)},
        "followup_condensed_hit": {
            "value": _share([bool(t.answer_source_hit) for t in followups]), "n": len(followups)},
        "followup_raw_question_hit_at_5": {
            "value": _share([bool(t.search_hit) for t in followups]), "n": len(followups)},
        "sources_before_first_token": {
            "value": _share([bool(t.sources_before_tokens) for t in answered]),
            "n": len(answered)},
        "latency_s": {
            "time_to_sources": latency(pre),
            "time_to_sources_followups": latency(
                [t.t_sources for t in followups if t.t_sources is not None]),
            "time_to_first_token": latency(ttft),
            "total": latency([t.t_total for t in answered if t.t_total is not None]),
            "pre_token_share_of_ttft": latency(shares),
        },
        "mean_prompt_tokens": _mean([float(t.prompt_tokens) for t in turns if t.prompt_tokens]),
        "mean_completion_tokens": _mean(
            [float(t.completion_tokens) for t in turns if t.completion_tokens]),
        "question_ids": sorted(questions),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
