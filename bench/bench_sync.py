"""Folder sync benchmark (issue 21): what an unchanged folder costs a sync, per 1,000 files.

A folder of N text files (~2 KB each, a few chunks) is synced once into a fresh database (the
embedder is a hash-seeded stand-in, so the set-up is quick; an unchanged file never reaches
it), then synced again, unchanged, `--repeats` times. Reported: the whole second sync (scan,
hashing, the documents query, the diff, the job's writes) and the hashing alone, per 1,000
files, with the load average. `--edit K` also edits K files and times that sync (the real
cost there is the embedder, not measured here).

    python bench/bench_sync.py [--files 1000] [--repeats 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragline.adapters.db.database import Database
from ragline.adapters.db.migrate import upgrade
from ragline.bootstrap import ensure_local_user
from ragline.config import Settings
from ragline.services.documents import DocumentService
from ragline.services.sync_plan import folder_files, hash_files

WORDS = ("alpha beta gamma delta sync folder document chunk vector keyword index "
         "answer question source edit rename delete watch hash").split()


class StandInEmbedder:
    name, dim, loaded = "bench-stand-in", 384, True

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows)

    async def warmup(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _write_folder(folder: Path, files: int) -> None:
    rng = random.Random(7)
    for i in range(files):
        sub = folder / f"part{i % 20:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(" ".join(rng.choices(WORDS, k=60)) + "." for _ in range(5))
        (sub / f"note{i:05d}.txt").write_text(f"Note {i}\n\n{body}\n")


async def main(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    folder = workdir / "folder"
    _write_folder(folder, args.files)
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'ragline.db'}"
    settings = Settings(data_dir=workdir / "data", database_url=url, redis_url=None,
                        embedder_warmup=False)
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    service = DocumentService(settings, db, StandInEmbedder())
    await service.prepare()
    owner = await ensure_local_user(db)
    started = time.perf_counter()
    first = await service.sync_now(owner, "bench", folder, delete=True)
    setup = time.perf_counter() - started
    assert first.counts["added"] == args.files, first.counts
    per_thousand = 1000 / args.files
    unchanged: list[float] = []
    hashing: list[float] = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        job = await service.sync_now(owner, "bench", folder, delete=True)
        unchanged.append((time.perf_counter() - started) * per_thousand)
        assert job.counts["unchanged"] == args.files and job.counts["chunks_embedded"] == 0
        started = time.perf_counter()
        hash_files(folder_files(folder))
        hashing.append((time.perf_counter() - started) * per_thousand)
    result: dict[str, object] = {
        "files": args.files, "database": url.split(":")[0],
        "bytes_per_file": sum(p.stat().st_size for _, p in folder_files(folder)) // args.files,
        "first_sync_s": round(setup, 2),
        "unchanged_sync_s_per_1000_files": {"median": round(float(np.median(unchanged)), 3),
                                            "min": round(min(unchanged), 3)},
        "scan_and_hash_s_per_1000_files": {"median": round(float(np.median(hashing)), 3),
                                           "min": round(min(hashing), 3)},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    if args.edit:
        for i in range(args.edit):
            path = folder / f"part{i % 20:02d}" / f"note{i:05d}.txt"
            path.write_text(path.read_text() + "\nAn edited last paragraph.\n")
        started = time.perf_counter()
        job = await service.sync_now(owner, "bench", folder, delete=True)
        result["edit_sync"] = {"edited": args.edit, "s": round(time.perf_counter() - started, 3),
                               "chunks_embedded": job.counts["chunks_embedded"],
                               "chunks_reused": job.counts["chunks_reused"]}
    await service.stop()
    await db.dispose()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--edit", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
