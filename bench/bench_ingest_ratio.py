"""`ragline ingest` of a folder against encoding the same chunk texts with the bare model, in
one run (issue 16): the end-to-end ratio, and where the rest goes.

1. `ragline ingest DIR` as its own process on a fresh SQLite data dir (what a user runs).
2. The same process start without work: `ragline --help` (imports), and the model's load.
3. A warm server (model loaded) ingesting the same files uploaded through the API at once:
   from the first upload to the last job `ready` (skip with `--no-server`).
4. The chunk texts it stored, encoded in one call by the bare encoders, and the texts it
   actually embedded (title and headings prefixed), likewise: the issue's baseline, the model in
   float32 on sentence-transformers/torch, and the int8 ONNX build that ingestion uses.

    python bench/bench_ingest_ratio.py [--corpus eval/corpus/sqlite] [--files N] [--no-server]

The machine may be shared: the load average is printed beside the figures; compare ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from ragline.adapters.embed.local import LocalEmbedder  # noqa: E402
from ragline.adapters.embed.local_onnx import OnnxEmbedder  # noqa: E402
from ragline.config import Settings  # noqa: E402


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_process(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def server_ingest(corpus: Path, tmp: Path) -> float:
    """Seconds from the first upload to the last job done, on a warm server (SQLite)."""
    import httpx

    from ragline.cli.documents import collect
    from tests.support.processes import ServerProcess, server_env

    env = server_env(tmp / "server", f"sqlite+aiosqlite:///{tmp}/server.db",
                     PYTHONPATH=str(ROOT / "src"), RAGLINE_EMBEDDER_WARMUP="true")
    server = ServerProcess(env, log_path=tmp / "server.log")
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=600) as client:
            client.post("/api/search", json={"query": "warm up"})  # the model is loaded
            files = [file for file, _source in collect([corpus], None)]  # as `ragline ingest`
            start = time.perf_counter()
            jobs = [client.post("/api/documents", files={"file": (f.name, f.read_bytes())})
                    .json()["job_id"] for f in files]
            while any(client.get(f"/api/jobs/{job}").json()["status"] not in ("ready", "failed")
                      for job in jobs):
                time.sleep(0.2)
            return time.perf_counter() - start
    finally:
        server.stop()


def stored_texts(db_path: Path) -> tuple[list[str], list[str]]:
    """The chunk texts, and the texts the model saw (title > headings, then the passage)."""
    with sqlite3.connect(db_path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
        heading = "heading" if "heading" in columns else "NULL"
        rows = conn.execute(
            f"SELECT c.text, d.title, {heading} FROM chunks c JOIN documents d "
            "ON d.id = c.document_id ORDER BY c.rowid"
        ).fetchall()
    plain = [r[0] for r in rows]
    embedded = [" > ".join(p for p in (r[1], r[2]) if p) + "\n" + r[0] if (r[1] or r[2])
                else r[0] for r in rows]
    return plain, embedded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "eval/corpus/sqlite"))
    parser.add_argument("--files", type=int, default=0, help="only the first N files (0: all)")
    parser.add_argument("--no-server", action="store_true", help="skip the warm-server path")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLINE_")}
    env.update(PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cli = [sys.executable, "-m", "ragline"]
    with tempfile.TemporaryDirectory() as tmp:
        env["RAGLINE_DATA_DIR"] = tmp
        if args.files:
            subset = Path(tmp) / "corpus"
            subset.mkdir()
            for file in sorted(p for p in Path(args.corpus).iterdir() if p.is_file())[:args.files]:
                shutil.copy(file, subset / file.name)
            args.corpus = str(subset)
        print(f"load average before: {load()}")
        ingest_s = timed_process([*cli, "ingest", args.corpus, "--collection", "bench"], env)
        print(f"ragline ingest (process, end to end): {ingest_s:.1f} s   load {load()}")
        start_s = timed_process([*cli, "--help"], env)
        print(f"  of which process start + CLI imports: ~{start_s:.1f} s")
        plain, embedded = stored_texts(Path(tmp) / "ragline.db")
        server_s = 0.0 if args.no_server else server_ingest(Path(args.corpus), Path(tmp))
        if server_s:
            print(f"warm server, all files uploaded at once: {server_s:.1f} s   load {load()}")
    print(f"{len(plain)} chunks")
    raw = {}
    settings = Settings()
    for label, embedder in (("torch float32 (sentence-transformers)", LocalEmbedder()),
                            ("ONNX int8 (what ingestion uses)", OnnxEmbedder(settings.model_dir))):
        start = time.perf_counter()
        embedder.model()
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        embedder.encode(plain)
        plain_s = time.perf_counter() - start
        start = time.perf_counter()
        embedder.encode(embedded)
        embedded_s = time.perf_counter() - start
        raw[label] = (plain_s, embedded_s)
        print(f"raw {label}: model load {load_s:.1f} s, chunk texts {plain_s:.1f} s, "
              f"texts as embedded (title/headings prefixed) {embedded_s:.1f} s   load {load()}")
    print("ratios (raw encode / ingestion; 1.0 = ingestion as fast as the bare encoder):")
    for label, (plain_s, embedded_s) in raw.items():
        server = (f"   warm server {plain_s / server_s:.2f} (texts as embedded "
                  f"{embedded_s / server_s:.2f})") if server_s else ""
        print(f"  {label}: ragline ingest {plain_s / ingest_s:.2f} (texts as embedded "
              f"{embedded_s / ingest_s:.2f}){server}")


if __name__ == "__main__":
    main()
