"""Retrieval Recall@5 on literal vs paraphrased questions (eval/questions.jsonl), per setting.

    python bench/bench_paraphrase.py [--data-dir DIR] [--no-title]

Ingests eval/corpus/sqlite once into DIR (kept between runs; no model, no server), then
searches every single question (`"paraphrase": true` ones apart) with several fusion settings.
Document-level Recall@5, as `make eval` measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "eval"))

from quality.questions import corpus_files  # noqa: E402  (eval/quality)
from quality.scoring import recall  # noqa: E402

from ragline.config import Settings  # noqa: E402

COLLECTION = "eval-sqlite"
SETTINGS = [  # (label, rrf_k, vector_weight, expand); the term bonus is 0 unless in the label
    ("hybrid k=60 (before)", 60, 1.0, False),
    ("hybrid k=20 vector x2 (no term bonus)", 20, 2.0, False),
    ("hybrid k=20", 20, 1.0, False),
    ("hybrid k=100", 100, 1.0, False),
    ("hybrid k=60 vector x1.5", 60, 1.5, False),
    ("hybrid k=60 vector x2", 60, 2.0, False),
    ("hybrid k=30 vector x2", 30, 2.0, False),
    ("hybrid k=60 vector x3", 60, 3.0, False),
    ("hybrid k=10 vector x2", 10, 2.0, False),
    ("hybrid k=20 vector x1.5", 20, 1.5, False),
    ("hybrid k=20 vector x3", 20, 3.0, False),
]
TERM_BOOSTS = [  # (label, term bonus) at k=20 vector x2: bench/RESULTS.md "Sample CVs"
    ("k=20 vector x2 term bonus 1", 1.0),
    ("k=20 vector x2 term bonus 2 (default)", 2.0),
    ("k=20 vector x2 term bonus 3", 3.0),
    ("k=20 vector x2 term bonus 4", 4.0),
]


def load(path: Path) -> tuple[list[dict], list[dict]]:
    literal, paraphrased = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item.get("type") != "single":
            continue
        (paraphrased if item.get("paraphrase") else literal).append(item)
    return literal, paraphrased


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/ragline-bench-paraphrase"))
    args = parser.parse_args()
    os.environ["RAGLINE_DATA_DIR"] = str(args.data_dir)
    settings = Settings()
    from ragline.adapters.db.migrate import upgrade
    from ragline.cli.documents import open_service

    await asyncio.to_thread(upgrade, settings.resolved_database_url)

    literal, paraphrased = load(ROOT / "eval" / "questions.jsonl")
    async with open_service(settings) as (service, owner):
        started = time.perf_counter()
        for file in corpus_files(ROOT / "eval" / "corpus" / "sqlite"):
            await service.ingest_now(owner, filename=file.name, data=file.read_bytes(),
                                     collection=COLLECTION, source=file.name)
        for view in await service.list_documents(owner, COLLECTION, limit=500):
            if view.document.source.lower() == "readme.md":  # make eval leaves it out too
                await service.delete_document(owner, view.document.id)
        print(f"corpus ready in {time.perf_counter() - started:.1f} s")
        modes = [(label, "hybrid", k, w, 0.0) for label, k, w, _ in SETTINGS]
        modes += [(label, "hybrid", 20, 2.0, boost) for label, boost in TERM_BOOSTS]
        modes += [("bm25 only", "bm25", 60, 1.0, 0.0), ("vector only", "vector", 60, 1.0, 0.0)]
        print(f"{'setting':38} {'literal R@5':>12} {'paraphrase R@5':>15}  (n={len(literal)}"
              f"/{len(paraphrased)})")
        for label, mode, k, weight, boost in modes:
            service.index.rrf_k, service.index.vector_weight = k, weight
            service.index.term_boost = boost
            row, misses = [], []
            for items in (literal, paraphrased):
                total = 0.0
                for item in items:
                    hits = await service.search(owner, item["question"], COLLECTION, 5, mode)
                    found = recall([h["source"] for h in hits], item["relevant"], 5)
                    total += found
                    if found < 1:
                        misses.append(item["id"])
                row.append(total / len(items))
            print(f"{label:38} {row[0]:12.3f} {row[1]:15.3f}  misses: {' '.join(misses)}")


if __name__ == "__main__":
    asyncio.run(main())
