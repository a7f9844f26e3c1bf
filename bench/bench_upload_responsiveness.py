"""Does a large upload starve the server? (issue 16) A real server ingests one big text document
while /healthz is probed every 50 ms; prints the probe latencies (p50, p99, max) and the
server's peak RSS, for the upload and for the ingestion that follows, up to `--seconds`.

    python bench/bench_upload_responsiveness.py [--mib 48] [--seconds 60]

The machine may be shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.support: the process harness the tests use

from tests.support.processes import ServerProcess, server_env  # noqa: E402

WORDS = ("table index query column page journal vacuum pragma trigger view schema "
         "transaction rollback commit savepoint cursor statement expression").split()


def document(mib: int, seed: int = 16) -> bytes:
    rng = random.Random(seed)
    paragraph = []
    out = bytearray()
    while len(out) < mib * 1024 * 1024:
        paragraph = [" ".join(rng.choices(WORDS, k=12)).capitalize() + "." for _ in range(8)]
        out += (" ".join(paragraph) + "\n\n").encode()
    return bytes(out)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(label: str, samples: list[float], rss: int) -> None:
    if not samples:
        print(f"{label}: no samples")
        return
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{label}: {len(samples)} probes  p50 {statistics.median(samples) * 1000:.0f} ms  "
          f"p99 {p99 * 1000:.0f} ms  max {ordered[-1] * 1000:.0f} ms  "
          f"peak RSS {rss / 2**20:.0f} MiB  load {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--src", default=str(ROOT / "src"),
                        help="the ragline source tree the server runs (a baseline: another tree)")
    args = parser.parse_args()
    data = document(args.mib)
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(Path(tmp) / "data", f"sqlite+aiosqlite:///{tmp}/bench.db",
                         RAGLINE_MAX_UPLOAD_BYTES=str(64 * 2**20), PYTHONPATH=args.src)
        server = ServerProcess(env, log_path=Path(tmp) / "server.log")
        server.start()
        try:
            # the model loads once per process (at start when warmup is on): not what we measure
            httpx.post(f"{server.base_url}/api/search", json={"query": "warm up"}, timeout=600)
            phase = ["upload"]
            samples: dict[str, list[float]] = {"upload": [], "ingest": []}
            peak = {"upload": 0, "ingest": 0}
            stop = threading.Event()

            def probe() -> None:
                with httpx.Client(base_url=server.base_url, timeout=30) as client:
                    while not stop.is_set():
                        start = time.perf_counter()
                        client.get("/healthz")
                        samples[phase[0]].append(time.perf_counter() - start)
                        peak[phase[0]] = max(peak[phase[0]], server.rss_bytes())
                        time.sleep(0.05)

            prober = threading.Thread(target=probe)
            prober.start()
            started = time.perf_counter()
            response = httpx.post(f"{server.base_url}/api/documents", timeout=300,
                                  files={"file": ("big.txt", data, "text/plain")})
            upload_s = time.perf_counter() - started
            phase[0] = "ingest"
            job_id = response.json()["job_id"]
            status = "?"
            while time.perf_counter() - started < args.seconds:
                job = httpx.get(f"{server.base_url}/api/jobs/{job_id}", timeout=30).json()
                status = f"{job['status']} {job['progress']:.2f}"
                if job["status"] in ("ready", "failed"):
                    break
                time.sleep(0.5)
            stop.set()
            prober.join()
        finally:
            server.stop()
    print(f"server code: {args.src}")
    print(f"{args.mib} MiB text: upload answered {response.status_code} in {upload_s:.1f} s; "
          f"job after {time.perf_counter() - started:.0f} s: {status}")
    summary("/healthz during the upload", samples["upload"], peak["upload"])
    summary("/healthz during ingestion", samples["ingest"], peak["ingest"])


if __name__ == "__main__":
    main()
