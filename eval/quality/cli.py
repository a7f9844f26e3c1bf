"""Arguments and the entry point (`python eval/quality_eval.py`, `make eval`)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.console import Console

from .claim_check import measure_default
from .questions import DEFAULT_COLLECTION, DEFAULT_CORPUS, DEFAULT_QUESTIONS, EvalError
from .report import default_report_path, detail_table, summary_table
from .run import Options, evaluate
from .server import LOCAL_MODEL, own_server


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python eval/quality_eval.py",
        description="Evaluate grounded conversation end to end through the HTTP API.")
    parser.add_argument("--server", help="a running ragline server (default: start one)")
    parser.add_argument("--limit", type=int, help="ask at most N questions (whole pairs)")
    parser.add_argument("--model", help=f"model for the threads (own server: {LOCAL_MODEL})")
    parser.add_argument("--temperature", type=float,
                        help="sampling temperature for the answers (default: the server's)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--collection", default=DEFAULT_COLLECTION)
    parser.add_argument("--report", type=Path, help="JSON report path")
    parser.add_argument("--api-key", default=os.environ.get("RAGLINE_API_KEY"),
                        help="bearer credential for servers with auth (env RAGLINE_API_KEY)")
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument("--run-timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the own server's data dir")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be positive")
    return Options(
        server=args.server, limit=args.limit, model=args.model, temperature=args.temperature,
        corpus=args.corpus,
        questions=args.questions, collection=args.collection, report=args.report,
        api_key=args.api_key, ingest_timeout=args.ingest_timeout,
        run_timeout=args.run_timeout, keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    console = Console(log_path=False)
    if not console.is_terminal:  # a log file: wide enough for the tables
        console = Console(log_path=False, width=140)
    try:
        if opts.server:
            report = evaluate(opts.server, opts, console)
        else:
            with own_server(opts.model or LOCAL_MODEL, console, opts.keep) as url:
                report = evaluate(url, opts, console)
    except (EvalError, ValueError, RuntimeError, httpx.HTTPError) as exc:
        console.print(f"[red]evaluation failed: {exc}")
        return 1
    report["summary"]["claim_check"] = measure_default()
    path = opts.report or default_report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(detail_table(report["turns"]))
    console.print(summary_table(report["summary"]))
    console.print(f"report: {path}")
    return 0

