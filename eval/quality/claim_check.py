"""The claim check measured on hand-labelled sentences (eval/claims_labels.jsonl): precision
and recall of `supported` at the shipped thresholds, and leave-one-question-out.

Each labelled sentence is checked alone against its question's frozen passages. The
leave-one-question-out figure judges each question's sentences with the grid setting fitted on
the other questions, at the operating point the issue asks for: the highest recall whose
precision on the training questions is at least `TARGET_PRECISION` (the best F1 where none is).
With a verifier (the local model, services/verifier.py), each sentence scoring in the widest band
the grid tries is put to it once, against its best passage at the shipped thresholds, and the
band's edges join the grid.
Shared by `make eval` (one row in its table) and bench/bench_claims.py (the detail).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ragline.adapters.embed import build_embedder
from ragline.config import Settings
from ragline.services.claims import (
    ClaimChecker,
    Evidence,
    Thresholds,
    Verdict,
    align,
    in_band,
    passage_text,
    reconsidered,
)
from ragline.services.verifier import Verify

TARGET_PRECISION = 0.95
LABELS = Path(__file__).resolve().parents[1] / "claims_labels.jsonl"


def prf(predicted: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float, float, float]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    return precision, recall, f1, accuracy


@dataclass
class LabelledChecks:
    """Every labelled sentence with its evidence, ready to be judged at any thresholds."""

    items: list[dict[str, Any]]
    evidence: list[tuple[list[Any], Evidence]]
    groups: list[dict[str, Any]]
    margins: list[float | None] | None = None  # the verifier's log-odds per sentence, if asked

    @property
    def truth(self) -> list[bool]:
        return [bool(item["supported"]) for item in self.items]

    @property
    def questions(self) -> list[str]:
        return [item["id"].rsplit("-", 1)[0] for item in self.items]

    def verdicts(self, thresholds: Thresholds) -> list[tuple[bool, list[int]]]:
        out = []
        margins = self.margins or [None] * len(self.items)
        for item, (sentences, found), margin in zip(
                self.items, self.evidence, margins, strict=True):
            scores = found.scores(thresholds)
            claim = align(item["text"], sentences, scores, thresholds)[0]
            verdict = Verdict(claim.supported, claim.sources, claim.score)
            if margin is not None and in_band(claim.supported, claim.score, thresholds):
                verdict = reconsidered(verdict, margin, int(np.argmax(scores[0])))
            out.append((verdict.supported, verdict.sources))
        return out


def read_labels(labels: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in labels.read_text().splitlines() if line.strip()]


# The widest band the grid tries: sentences outside it are never put to the verifier.
VETO_BELOW = (0.0, 0.65, 0.7, 0.75, 0.8, 0.85)  # 0.0: no veto
RESCUE_FROM = (1.0, 0.45, 0.4, 0.35, 0.3, 0.25)  # 1.0: no rescue


async def gather(
    checker: ClaimChecker, labels: Path, verifier: Verify | None = None
) -> LabelledChecks:
    groups = read_labels(labels)
    items, found, margins = [], [], []
    for group in groups:
        passages = [passage_text(p) for p in group["passages"]]
        for item in group["claims"]:
            # what a run passes: a follow-up's question with the one before it (its search)
            asked = group.get("context") or group["question"]
            sentences, evidence = await checker.evidence(item["text"], passages, question=asked)
            assert len(sentences) == 1, item["text"]
            items.append(item)
            found.append((sentences, evidence))
            margins.append(None if verifier is None else await _margin(
                verifier, item["text"], passages, evidence, checker.thresholds))
    return LabelledChecks(items, found, groups, margins if verifier is not None else None)


async def _margin(
    verifier: Verify, text: str, passages: list[str], found: Evidence, shipped: Thresholds
) -> float | None:
    scores = found.scores(shipped)[0]
    top = float(scores.max()) if len(scores) else 0.0
    widest = replace(shipped, veto_below=max(VETO_BELOW), rescue_from=min(RESCUE_FROM))
    if not in_band(top >= shipped.supported, top, widest):
        return None
    return await verifier(text, passages[int(np.argmax(scores))])


def grid_around(chosen: Thresholds, band: bool = False) -> list[Thresholds]:
    """The settings leave-one-question-out chooses from; `band`: with the verifier's band
    edges too (then near the shipped weight and cut only, to keep the grid small)."""
    if not band:
        return [replace(chosen, similarity_weight=round(float(w), 2),
                        supported=round(float(c), 2), min_overlap=gate)
                for w in np.arange(0.0, 1.01, 0.1) for c in np.arange(0.30, 0.90, 0.02)
                for gate in (0.0, 0.5, 0.6, 0.7)]
    return [replace(chosen, similarity_weight=round(float(w), 2), supported=round(float(c), 2),
                    min_overlap=gate, veto_below=veto, rescue_from=rescue)
            for w in (0.5, 0.6, 0.7) for c in np.arange(0.44, 0.63, 0.02) for gate in (0.5, 0.6)
            for veto in VETO_BELOW for rescue in RESCUE_FROM]


def _operating_point(scores: Sequence[tuple[float, float, float, float]]) -> int:
    """The grid setting to ship: the best recall at the target precision, else the best F1."""
    meeting = [i for i, s in enumerate(scores) if s[0] >= TARGET_PRECISION]
    if meeting:
        return max(meeting, key=lambda i: (scores[i][1], scores[i][2]))
    return max(range(len(scores)), key=lambda i: scores[i][2])


def leave_one_question_out(
    checks: LabelledChecks, grid: Sequence[Thresholds]
) -> tuple[float, float, float, float]:
    truth, question = checks.truth, checks.questions
    table = [[v[0] for v in checks.verdicts(t)] for t in grid]
    held = [False] * len(truth)
    for name in dict.fromkeys(question):
        train = [i for i, q in enumerate(question) if q != name]
        scores = [prf([row[i] for i in train], [truth[i] for i in train]) for row in table]
        best = _operating_point(scores)
        for i, q in enumerate(question):
            if q == name:
                held[i] = table[best][i]
    return prf(held, truth)


async def measure(
    checker: ClaimChecker, labels: Path, verifier: Verify | None = None
) -> dict[str, Any]:
    """The figures `make eval` prints: shipped thresholds and leave-one-question-out (with the
    verifier's second opinion when one is given)."""
    checks = await gather(checker, labels, verifier)
    truth = checks.truth
    shipped = prf([v[0] for v in checks.verdicts(checker.thresholds)], truth)
    held = leave_one_question_out(checks, grid_around(checker.thresholds, band=bool(verifier)))
    asked = sum(m is not None for m in checks.margins or ())
    return {"labels": len(truth), "supported": sum(truth), "questions": len(checks.groups),
            "precision": shipped[0], "recall": shipped[1],
            "loqo_precision": held[0], "loqo_recall": held[1],
            "verifier": verifier is not None, "verified": asked}


async def local_verifier(settings: Settings) -> Verify | None:
    """The verifier a server on these settings uses (its default model's), loaded now; None
    when the default model gives no logprobs."""
    from ragline.services.models import ModelRegistry
    from ragline.services.verifier import default_model_verifier

    if not settings.claims_verifier:
        return None
    models = ModelRegistry(settings)
    provider = models.provider(settings.default_model)
    if not hasattr(provider, "next_token_logprobs"):
        return None
    await provider.load()  # type: ignore[attr-defined]
    return default_model_verifier(models)


def measure_default(labels: Path = LABELS) -> dict[str, Any]:
    """`measure` with the embedder and verifier the server uses by default (RAGLINE_*)."""

    async def run() -> dict[str, Any]:
        settings = Settings()
        checker = ClaimChecker(build_embedder(settings))
        await checker.embedder.warmup()
        return await measure(checker, labels, await local_verifier(settings))

    return asyncio.run(run())
