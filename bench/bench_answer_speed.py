"""Answer speed with the local model (issue 10): time to first token against the engine's limit.

In one run, on one machine state:
1. The raw engine (xllamacpp, this tree's thread and batch settings) reads an uncached prompt:
   its prompt rate is the baseline.
2. A real `ragline serve` answers a grounded first question and two follow-ups on one thread, over
   a few ingested pages of the SQLite docs. For each turn: prompt tokens, cached tokens, time to
   the first token (TTFT) and to `done`, and TTFT against the bound of the issue:
   1.25 x (uncached prompt tokens / raw prompt rate) + 2 s.
3. The same conversation on the layout before this work (`--baseline-rev`, run from a temporary
   git worktree with its own defaults), unless `--no-baseline`.
4. `--sweep`: raw prompt and decode rates by engine threads and n_batch, idle and, with
   `--beside-ingest`, while `ragline ingest` runs beside the engine.

    python bench/bench_answer_speed.py [--baseline-rev e674e02] [--no-baseline] [--sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from ragline.config import Settings  # noqa: E402
from tests.support.processes import ServerProcess, server_env  # noqa: E402

MODEL = "qwen2.5-coder-1.5b-instruct"
DOCS = ["wal.html", "zipfile.html", "lang_vacuum.html"]
TURNS = [
    "How do I switch a SQLite database to write-ahead logging?",
    "And by default, how many pages can the log grow to before an automatic checkpoint runs?",
    "Can readers still read while that checkpoint is running?",
]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def corpus_text() -> str:
    text = (ROOT / "eval/corpus/sqlite/tempfiles.html").read_text()
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def raw_engine(threads: int, batch_threads: int, n_batch: int) -> Any:
    import xllamacpp

    settings = Settings()
    from ragline.adapters.llm.local_models import ensure_model_file

    params = xllamacpp.CommonParams()
    params.model.path = str(ensure_model_file(MODEL, settings))
    params.n_parallel = settings.llama_parallel
    params.n_ctx = settings.llama_parallel * settings.llama_ctx_per_slot
    params.n_batch = params.n_ubatch = n_batch
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = batch_threads
    params.verbosity = 0
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.api_keys = [secrets.token_urlsafe(16)]
    return xllamacpp.Server(params)


def raw_rates(server: Any, prompt_chars: int = 2600, decode: int = 32) -> tuple[float, float]:
    """(prompt tokens/s on an uncached prompt, decode tokens/s) from the engine's own timings."""
    text = f"{secrets.token_hex(8)} {corpus_text()[:prompt_chars]}"
    body = {
        "messages": [{"role": "user", "content": f"{text}\n\nSummarise the text above."}],
        "stream": True, "max_tokens": decode, "temperature": 0, "cache_prompt": False,
    }
    timings: dict[str, Any] = {}

    def on_chunk(chunk: dict[str, Any]) -> bool:
        timings.update(chunk.get("timings") or {})
        return False

    server.handle_chat_completions(body, on_chunk)
    return float(timings["prompt_per_second"]), float(timings["predicted_per_second"])


def sweep(beside_ingest: bool) -> None:
    print(f"\n## Engine settings sweep (load {load()})")
    print("| threads | batch threads | n_batch | prompt tok/s | decode tok/s | load |")
    print("|---|---|---|---|---|---|")
    for threads, n_batch in [(1, 64), (2, 64), (2, 128), (2, 256), (2, 512), (1, 256)]:
        server = raw_engine(threads, threads, n_batch)
        raw_rates(server, 400, 4)  # warm-up
        prompt, decode = raw_rates(server)
        print(f"| {threads} | {threads} | {n_batch} | {prompt:.1f} | {decode:.1f} | {load()} |")
        del server
    if not beside_ingest:
        return
    print(f"\n## Beside `ragline ingest` (load {load()})")
    print("| threads | n_batch | prompt tok/s | decode tok/s | load |")
    print("|---|---|---|---|---|")
    for threads in (1, 2):
        server = raw_engine(threads, threads, 256)
        raw_rates(server, 400, 4)
        with tempfile.TemporaryDirectory() as data:
            env = {**os.environ, "RAGLINE_DATA_DIR": data, "HF_HUB_OFFLINE": "1"}
            ingest = subprocess.Popen(
                [sys.executable, "-m", "ragline", "ingest", str(ROOT / "eval/corpus/sqlite"),
                 "--collection", "bench"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(8)  # past the embedder's start-up, into the encoding
            prompt, decode = raw_rates(server)
            print(f"| {threads} | 256 | {prompt:.1f} | {decode:.1f} | {load()} |")
            ingest.kill()
            ingest.wait()
        del server


def ask(client: httpx.Client, thread_id: str, question: str) -> dict[str, Any]:
    posted = time.perf_counter()
    response = client.post(f"/api/threads/{thread_id}/messages", json={"content": question})
    response.raise_for_status()
    run_id = response.json()["run_id"]
    first = final = None
    stages: list[str] = []
    with client.stream("GET", f"/api/runs/{run_id}/events", timeout=900) as events:
        kind = ""
        for line in events.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if kind == "status" and data.get("stage") and data["stage"] not in stages:
                    stages.append(data["stage"])
                elif kind == "token" and first is None:
                    first = time.perf_counter() - posted
                elif kind == "final":
                    final = data
                elif kind == "done":
                    break
    total = time.perf_counter() - posted
    assert final is not None, f"run {run_id} ended without an answer"
    usage = final["usage"]
    return {"ttft": first or total, "total": total, "prompt": usage["prompt_tokens"],
            "cached": usage.get("cached_tokens"), "stages": stages,
            "passages": len(final["sources"])}


def conversation(label: str, src: Path, work: Path, extra: dict[str, str]) -> list[dict[str, Any]]:
    data = work / f"data-{label}"
    env = server_env(data, f"sqlite+aiosqlite:///{data / 'ragline.db'}",
                     RAGLINE_DEFAULT_MODEL=MODEL, PYTHONPATH=str(src), **extra)
    env.pop("RAGLINE_EMBEDDER_WARMUP", None)
    docs = work / "docs"
    subprocess.run([sys.executable, "-m", "ragline", "ingest", str(docs), "--collection",
                    "bench"], env=env, check=True, stdout=subprocess.DEVNULL)
    server = ServerProcess(env, log_path=work / f"server-{label}.log")
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=900) as client:
            while not client.get("/readyz").json().get("ready"):
                time.sleep(1)
            thread = client.post("/api/threads", json={
                "collection": "bench", "metadata": {"sampling": {"temperature": 0,
                                                                 "max_tokens": 96}}})
            thread_id = thread.json()["thread_id"]
            return [ask(client, thread_id, question) for question in TURNS]
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-rev", default="e674e02")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--beside-ingest", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    print(f"load {load()}; engine threads {settings.engine_threads}, n_batch "
          f"{settings.llama_n_batch}")
    if args.sweep:
        sweep(args.beside_ingest)

    engine = raw_engine(settings.engine_threads,
                        settings.llama_batch_threads or settings.engine_threads,
                        settings.llama_n_batch)
    raw_rates(engine, 400, 4)
    raw_prompt, raw_decode = raw_rates(engine)
    del engine
    print(f"\nraw engine: prompt {raw_prompt:.1f} tok/s, decode {raw_decode:.1f} tok/s "
          f"(load {load()})")

    work = Path(tempfile.mkdtemp(prefix="ragline-speed-"))
    (work / "docs").mkdir()
    for name in DOCS:
        shutil.copy(ROOT / "eval/corpus/sqlite" / name, work / "docs" / name)
    layouts = [("now", ROOT / "src", {})]
    old_tree = work / "old"
    if not args.no_baseline:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree),
                        args.baseline_rev], check=True, stdout=subprocess.DEVNULL)
        layouts.insert(0, (f"before ({args.baseline_rev})", old_tree / "src", {}))
    try:
        results = {label: conversation(label.split()[0], src, work, extra)
                   for label, src, extra in layouts}
    finally:
        if old_tree.exists():
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(old_tree)], check=False)
    print(f"\n## Grounded conversation, {len(DOCS)} pages (load after: {load()})")
    print("| layout | turn | prompt tok | cached | TTFT s | done s | bound s | TTFT/bound |"
          " stages |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, turns in results.items():
        for n, turn in enumerate(turns, start=1):
            uncached = turn["prompt"] - (turn["cached"] or 0)
            bound = 1.25 * uncached / raw_prompt + 2
            cached = "n/a" if turn["cached"] is None else str(turn["cached"])
            print(f"| {label} | {n} | {turn['prompt']} | {cached} | {turn['ttft']:.1f} | "
                  f"{turn['total']:.1f} | {bound:.1f} | {turn['ttft'] / bound:.2f} | "
                  f"{','.join(turn['stages'])} |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
