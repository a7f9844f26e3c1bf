"""Answer quality end to end through the HTTP API: `make eval`, or

    python eval/quality_eval.py [--server URL] [--limit N] [--model NAME]

The harness is the `quality` package beside this file (see its docstring and eval/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `quality`, whatever the cwd

from quality.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
