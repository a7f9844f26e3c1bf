"""Calibrates and measures the claim check (services/claims.py) on eval/claims_labels.jsonl.

    [RAGLINE_EMBEDDER=local-torch] python bench/bench_claims.py [--grid] [--verifier]

Each labelled sentence is checked alone against its question's passages (the ones hybrid search
returned, frozen in the file). Prints precision and recall of `supported` at the thresholds in
`Thresholds()`, whether the sources given to supported sentences are right, the milliseconds a
check takes, and with `--grid` the best settings of a grid search (for recalibrating).
`--verifier` also puts the borderline sentences to the local default model (as a server does
while an answer streams) and prints its log-odds for each of them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ragline.adapters.embed import build_embedder  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.services.claims import ClaimChecker  # noqa: E402

sys.path.insert(0, str(ROOT / "eval"))
from quality.claim_check import (  # noqa: E402
    gather,
    grid_around,
    leave_one_question_out,
    local_verifier,
    prf,
)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=Path, default=ROOT / "eval" / "claims_labels.jsonl")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--verifier", action="store_true",
                        help="ask the local model about the borderline band (loads it)")
    parser.add_argument("--passage-sentences", action="store_true",
                        help="one vector per passage sentence instead of one per passage")
    args = parser.parse_args()
    checker = ClaimChecker(build_embedder(Settings()), passage_sentences=args.passage_sentences)
    await checker.embedder.warmup()
    verifier = await local_verifier(Settings()) if args.verifier else None
    started = time.perf_counter()
    checks = await gather(checker, args.labels, verifier)
    groups = checks.groups
    rows = [(item, sentences, found)
            for item, (sentences, found) in zip(checks.items, checks.evidence, strict=True)]
    per_check = (time.perf_counter() - started) * 1000 / len(rows)
    truth = checks.truth
    verdicts = checks.verdicts

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
    print(f"check time, 1 sentence x 3 passages (cache warm after each question's first"
          f"{', verifier included' if verifier else ''}): {per_check:.1f} ms")
    for (item, _, found), margin in zip(rows, checks.margins or (), strict=False):
        if margin is not None:
            best = float(found.scores(chosen).max())
            print(f"  asked: {item['id']} labelled {item['supported']} score {best:.3f} "
                  f"log-odds {margin:+.2f}")
    print(f"check time per answer ({np.mean([len(g['claims']) for g in groups]):.1f} sentences x"
          f" 3 passages), median: passages not cached {np.median(cold):.0f} ms, cached "
          f"{np.median(warm):.0f} ms")
    for (item, _, found), (ok, _sources) in zip(rows, results, strict=True):
        if ok != item["supported"]:
            best = float(found.scores(chosen).max())
            print(f"  wrong: {item['id']} labelled {item['supported']} score {best:.3f} "
                  f"({item['note']}): {item['text'][:90]}")
    if args.grid:
        grid = grid_around(chosen, band=verifier is not None)
        table = [[v[0] for v in verdicts(t)] for t in grid]
        ranked = sorted(((prf(v, truth), t) for v, t in zip(table, grid, strict=True)),
                        key=lambda x: (x[0][2], x[0][3]), reverse=True)
        for (p, r, f, a), t in ranked[:8]:
            print(f"grid: weight {t.similarity_weight:.1f} cut {t.supported:.2f} overlap "
                  f"{t.min_overlap:.1f} veto below {t.veto_below:.2f} rescue from "
                  f"{t.rescue_from:.2f}: F1 {f:.3f} "
                  f"accuracy {a:.3f} precision {p:.3f} recall {r:.3f}")
        # honest figure: each question's sentences judged with settings fitted on the others
        p, r, f, a = leave_one_question_out(checks, grid)
        print(f"leave-one-question-out: precision {p:.3f} recall {r:.3f} F1 {f:.3f} "
              f"accuracy {a:.3f}")

if __name__ == "__main__":
    asyncio.run(main())
