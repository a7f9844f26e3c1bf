"""The claim check measured on hand-labelled sentences (eval/claims_labels.jsonl): precision
and recall of `supported` at the shipped thresholds, and leave-one-question-out.

Each labelled sentence is checked alone against its question's frozen passages. The
leave-one-question-out figure judges each question's sentences with the grid setting fitted on
the other questions, at the operating point the issue asks for: the highest recall whose
precision on the training questions is at least `TARGET_PRECISION` (the best F1 where none is).
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
from ragline.services.claims import ClaimChecker, Evidence, Thresholds, align, passage_text

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

    @property
    def truth(self) -> list[bool]:
        return [bool(item["supported"]) for item in self.items]

    @property
    def questions(self) -> list[str]:
        return [item["id"].rsplit("-", 1)[0] for item in self.items]

    def verdicts(self, thresholds: Thresholds) -> list[tuple[bool, list[int]]]:
        out = []
        for item, (sentences, found) in zip(self.items, self.evidence, strict=True):
            claim = align(item["text"], sentences, found.scores(thresholds), thresholds)[0]
            out.append((claim.supported, claim.sources))
        return out


def read_labels(labels: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in labels.read_text().splitlines() if line.strip()]


async def gather(checker: ClaimChecker, labels: Path) -> LabelledChecks:
    groups = read_labels(labels)
    items, found = [], []
    for group in groups:
        passages = [passage_text(p) for p in group["passages"]]
        for item in group["claims"]:
            # what a run passes: a follow-up's question with the one before it (its search)
            asked = group.get("context") or group["question"]
            sentences, evidence = await checker.evidence(item["text"], passages, question=asked)
            assert len(sentences) == 1, item["text"]
            items.append(item)
            found.append((sentences, evidence))
    return LabelledChecks(items, found, groups)


def grid_around(chosen: Thresholds) -> list[Thresholds]:
    return [replace(chosen, similarity_weight=round(float(w), 2), supported=round(float(c), 2),
                    min_overlap=gate)
            for w in np.arange(0.0, 1.01, 0.1) for c in np.arange(0.30, 0.90, 0.02)
            for gate in (0.0, 0.5, 0.6, 0.7)]


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


async def measure(checker: ClaimChecker, labels: Path) -> dict[str, Any]:
    """The figures `make eval` prints: shipped thresholds and leave-one-question-out."""
    checks = await gather(checker, labels)
    truth = checks.truth
    shipped = prf([v[0] for v in checks.verdicts(checker.thresholds)], truth)
    held = leave_one_question_out(checks, grid_around(checker.thresholds))
    return {"labels": len(truth), "supported": sum(truth), "questions": len(checks.groups),
            "precision": shipped[0], "recall": shipped[1],
            "loqo_precision": held[0], "loqo_recall": held[1]}


def measure_default(labels: Path = LABELS) -> dict[str, Any]:
    """`measure` with the embedder the server uses by default (RAGLINE_EMBEDDER)."""

    async def run() -> dict[str, Any]:
        checker = ClaimChecker(build_embedder(Settings()))
        await checker.embedder.warmup()
        return await measure(checker, labels)

    return asyncio.run(run())
