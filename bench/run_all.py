"""`make bench`: every benchmark in turn, each printing ratios against its same-run baseline.

Output goes to the terminal and to bench/results/<timestamp>.txt. Pass names to run a subset:
    python bench/run_all.py core sse_model
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = {
    "core": ["bench_core.py", "--clients", "1000"],
    "llm": ["bench_llm.py", "--tokens", "64", "--rounds", "3"],
    "sse_model": ["bench_sse_model.py", "--tokens", "64", "--rounds", "3"],
    "documents": ["bench_documents.py"],
    "index": ["bench_index.py", "--sizes", "100000", "--queries", "200"],
    "structured": ["bench_structured.py", "--max-tokens", "640"],
    "answer_speed": ["bench_answer_speed.py", "--sweep", "--beside-ingest"],
    "scale": ["bench_scale.py"],
    "ingest_ratio": ["bench_ingest_ratio.py"],
    "upload_responsiveness": ["bench_upload_responsiveness.py", "--mib", "48"],
}


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHES)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / time.strftime("%Y%m%d-%H%M%S.txt")
    failed = 0
    with out.open("w") as log:
        for name in chosen:
            header = f"\n##### {name}\n"
            sys.stdout.write(header)
            log.write(header)
            proc = subprocess.Popen(
                [sys.executable, str(HERE / BENCHES[name][0]), *BENCHES[name][1:]],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            failed += proc.wait() != 0
    sys.stdout.write(f"\nresults written to {out}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
