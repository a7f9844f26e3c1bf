"""Passage token budget and follow-up retrieval, without a model (issue 10).

Over an ingested copy of eval/corpus/sqlite: for each answerable question of eval/questions.jsonl,
the share whose expected facts appear in the passages a prompt would carry, by passage token
budget; and how often a follow-up finds its document searched alone vs joined with the question
before it.

    RAGLINE_DATA_DIR=/tmp/evaldata ragline ingest eval/corpus/sqlite --collection sqlite
    RAGLINE_DATA_DIR=/tmp/evaldata python bench/bench_passage_budget.py
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ragline.cli.documents import open_service
from ragline.config import Settings
from ragline.domain.llm import approx_token_count
from ragline.services.passages import select_passages
from ragline.services.pipeline import focus, keeps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "eval"))

from quality.scoring import contains_expected, hit  # noqa: E402  (eval/quality)

BUDGETS = [(300, 180), (500, 220), (600, 220), (700, 220), (800, 220), (1000, 260),
           (100_000, 100_000)]


def relevant(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the answer pipeline keeps (RAGLINE_RETRIEVAL_MIN_SCORE/_MIN_TERM_MATCH)."""
    settings = Settings()
    return focus([h for h in hits
                  if keeps(h, settings.retrieval_min_score, settings.retrieval_min_term_match)])


async def main() -> None:
    questions = [json.loads(line) for line in (ROOT / "eval/questions.jsonl").open()]
    by_id = {q["id"]: q for q in questions}
    async with open_service(Settings()) as (service, owner):
        rows = []
        alone = joined = followups = 0
        for q in questions:
            if not q.get("relevant"):
                continue
            query = q["question"]
            if q["type"] == "followup":
                followups += 1
                query = f"{by_id[q['follow_of']]['question']} {q['question']}"
                hits = relevant(await service.search(owner, q["question"], "sqlite", 5))
                alone += hit([h["source"] for h in hits], q["relevant"])
            hits = relevant(await service.search(owner, query, "sqlite", 5))
            if q["type"] == "followup":
                joined += hit([h["source"] for h in hits], q["relevant"])
            rows.append((q, hits))
    print("| passage token budget | per passage | facts in passages | mean passage tokens |")
    print("|---|---|---|---|")
    for budget, per in BUDGETS:
        covered = tokens = 0
        for q, hits in rows:
            chosen = select_passages(hits, q["question"], budget, per)
            tokens += sum(approx_token_count(c["text"]) for c in chosen)
            text = "\n".join(c["text"] for c in chosen)
            covered += contains_expected(text, q["expect"], q.get("expect_mode", "any"))
        print(f"| {budget} | {per} | {covered / len(rows):.1%} | {tokens / len(rows):.0f} |")
    print(f"\nfollow-ups finding their document: alone {alone}/{followups}, "
          f"joined with the previous question {joined}/{followups}")


if __name__ == "__main__":
    asyncio.run(main())
