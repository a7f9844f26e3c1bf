"""Calibrates and measures the claim check (services/claims.py) on eval/claims_labels.jsonl.

    [RAGLINE_EMBEDDER=local-torch] python bench/bench_claims.py [--grid]

Each labelled sentence is checked alone against its question's passages (the ones hybrid search
returned, frozen in the file). Prints precision and recall of `supported` at the thresholds in
`Thresholds()`, whether the sources given to supported sentences are right, the milliseconds a
check takes, and with `--grid` the best settings of a grid search (for recalibrating).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.adapters.embed import build_embedder  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.services.claims import ClaimChecker, Thresholds, align, passage_text  # noqa: E402


def prf(predicted: list[bool], truth: list[bool]) -> tuple[float, float, float, float]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    return precision, recall, f1, accuracy


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=Path, default=ROOT / "eval" / "claims_labels.jsonl")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--passage-sentences", action="store_true",
                        help="one vector per passage sentence instead of one per passage")
    args = parser.parse_args()
    groups = [json.loads(line) for line in args.labels.read_text().splitlines() if line.strip()]
    # The embedder the server uses (RAGLINE_EMBEDDER: `local` int8 ONNX, or `local-torch`).
    checker = ClaimChecker(build_embedder(Settings()), passage_sentences=args.passage_sentences)
    await checker.embedder.warmup()
    rows = []  # (item, sentences, evidence)
    started = time.perf_counter()
    for group in groups:
        passages = [passage_text(p) for p in group["passages"]]
        for item in group["claims"]:
            sentences, found = await checker.evidence(item["text"], passages)
            assert len(sentences) == 1, item["text"]
            rows.append((item, sentences, found))
    per_check = (time.perf_counter() - started) * 1000 / len(rows)
    truth = [bool(item["supported"]) for item, _, _ in rows]

    def verdicts(thresholds: Thresholds) -> list[tuple[bool, list[int]]]:
        out = []
        for item, sentences, found in rows:
            claim = align(item["text"], sentences, found.scores(thresholds), thresholds)[0]
            out.append((claim.supported, claim.sources))
        return out

    # a whole answer per question (its labelled sentences), 3 passages: cold and warm cache
    cold, warm = [], []
    for group in groups:
        answer = " ".join(item["text"] for item in group["claims"])
        fresh = ClaimChecker(checker.embedder, passage_sentences=args.passage_sentences)
        for times in (cold, warm):
            started = time.perf_counter()
            await fresh.check(answer, group["passages"])
            times.append((time.perf_counter() - started) * 1000)
    chosen = checker.thresholds
    results = verdicts(chosen)
    precision, recall, f1, accuracy = prf([r[0] for r in results], truth)
    right_sources = [set(sources) <= set(item["by"])
                     for (item, _, _), (ok, sources) in zip(rows, results, strict=True)
                     if ok and item["supported"]]
    print(f"{len(rows)} labelled sentences ({sum(truth)} supported, {len(truth) - sum(truth)} "
          f"not), {len(groups)} questions; thresholds {chosen}")
    print(f"supported: precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
          f"accuracy {accuracy:.3f}")
    print(f"sources of true positives all among the supporting passages: "
          f"{sum(right_sources)}/{len(right_sources)}")
    print(f"check time, 1 sentence x 3 passages (cache warm after each question's first): "
          f"{per_check:.1f} ms")
    print(f"check time per answer ({np.mean([len(g['claims']) for g in groups]):.1f} sentences x"
          f" 3 passages), median: passages not cached {np.median(cold):.0f} ms, cached "
          f"{np.median(warm):.0f} ms")
    for (item, _, found), (ok, _sources) in zip(rows, results, strict=True):
        if ok != item["supported"]:
            best = float(found.scores(chosen).max())
            print(f"  wrong: {item['id']} labelled {item['supported']} score {best:.3f} "
                  f"({item['note']}): {item['text'][:90]}")
    if args.grid:
        grid = [replace(chosen, similarity_weight=round(float(w), 2), supported=round(float(c), 2))
                for w in np.arange(0.0, 1.01, 0.1) for c in np.arange(0.30, 0.90, 0.02)]
        table = [[v[0] for v in verdicts(t)] for t in grid]
        ranked = sorted(((prf(v, truth), t) for v, t in zip(table, grid, strict=True)),
                        key=lambda x: (x[0][2], x[0][3]), reverse=True)
        for (p, r, f, a), t in ranked[:8]:
            print(f"grid: weight {t.similarity_weight:.1f} cut {t.supported:.2f}: F1 {f:.3f} "
                  f"accuracy {a:.3f} precision {p:.3f} recall {r:.3f}")
        # honest figure: each question's sentences judged with settings fitted on the others
        question = [item["id"].rsplit("-", 1)[0] for item, _, _ in rows]
        held: list[bool] = [False] * len(rows)
        for name in dict.fromkeys(question):
            train = [i for i, q in enumerate(question) if q != name]
            best = max(range(len(grid)), key=lambda g: prf(
                [table[g][i] for i in train], [truth[i] for i in train])[2])
            for i, q in enumerate(question):
                if q == name:
                    held[i] = table[best][i]
        p, r, f, a = prf(held, truth)
        print(f"leave-one-question-out: precision {p:.3f} recall {r:.3f} F1 {f:.3f} "
              f"accuracy {a:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
