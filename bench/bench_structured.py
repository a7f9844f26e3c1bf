"""Structured output with the local model (issue 7): share of requests that end valid, mean
attempts and latency, per strategy (grammar-constrained vs prompt-only).

Prompts cover the built-ins (block, edge, pipeline, with a context of existing blocks) and two
registered-style JSON Schemas (ticket, contact). Runs in-process through the same
`services.generate.generate` that POST /api/generate calls; one request at a time.

    python bench/bench_structured.py [--model qwen2.5-coder-1.5b-instruct] [--limit 32]
        [--strategies constrained,prompt] [--schemas block,edge] [--max-tokens 320]
        [--out results.jsonl]   # or: --report results.jsonl (table only)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from ragline.config import Settings
from ragline.domain.errors import OutputInvalid, ProviderError
from ragline.services.generate import generate
from ragline.services.models import ModelRegistry
from ragline.services.schemas import BUILTINS, inline_schema

BLOCKS = {"blocks": [
    {"id": "3f1c2a9e-8b7d-4c6e-9a51-0d2e4f6a8b10", "block_type": "source", "name": "orders.csv"},
    {"id": "7a4b9c2d-1e3f-4a5b-8c6d-2e7f9a1b3c40", "block_type": "transform", "name": "clean rows"},
    {"id": "c2d4e6f8-0a1b-4c3d-9e5f-6a7b8c9d0e21", "block_type": "model", "name": "forecaster"},
    {"id": "e9f8a7b6-c5d4-4e3f-8a2b-1c0d9e8f7a62", "block_type": "sink", "name": "dashboard"},
]}
TICKET = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 80},
        "priority": {"enum": ["low", "medium", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["title", "priority", "tags"],
    "additionalProperties": False,
}
CONTACT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+\\.[a-z]{2,}$"},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
    },
    "required": ["name", "email", "age"],
    "additionalProperties": False,
}
SCHEMAS = {
    **BUILTINS,
    "ticket": inline_schema(TICKET),
    "contact": inline_schema(CONTACT),
}
CASES: list[tuple[str, str, Any]] = [
    ("block", "A source block that reads a CSV of customer orders.", None),
    ("block", "A block that removes duplicate rows.", None),
    ("block", "A sink block that writes results to S3.", None),
    ("block", "A sentiment model block for product reviews.", None),
    ("block", "A block that joins two tables on customer id.", None),
    ("block", "A block that sends a Slack alert.", None),
    ("block", "An image resize transform block.", None),
    ("edge", "Connect orders.csv to clean rows as a data edge.", BLOCKS),
    ("edge", "Feed the cleaned rows into the forecaster.", BLOCKS),
    ("edge", "The forecaster sends predictions to the dashboard.", BLOCKS),
    ("edge", "A control edge from orders.csv to the dashboard.", BLOCKS),
    ("edge", "Link clean rows to the dashboard.", BLOCKS),
    ("edge", "The forecaster reads straight from orders.csv.", BLOCKS),
    ("pipeline", "A pipeline 'daily forecast': orders.csv -> clean rows -> forecaster.", BLOCKS),
    ("pipeline", "A pipeline 'raw view' from orders.csv to the dashboard.", BLOCKS),
    ("pipeline", "A pipeline 'full' using all four blocks in order.", BLOCKS),
    ("pipeline", "A pipeline 'clean only' with orders.csv and clean rows.", BLOCKS),
    ("pipeline", "A pipeline 'predict' from clean rows to forecaster to dashboard.", BLOCKS),
    ("pipeline", "A pipeline 'model check' with just the forecaster.", BLOCKS),
    ("ticket", "The login page crashes on Safari, urgent.", None),
    ("ticket", "Typo in the footer of the pricing page.", None),
    ("ticket", "Add dark mode to the settings screen.", None),
    ("ticket", "Exports time out for files over 1 GB.", None),
    ("ticket", "Customers cannot reset passwords since Monday.", None),
    ("ticket", "Update the copyright year.", None),
    ("ticket", "API returns 500 for empty search queries.", None),
    ("contact", "Jane Doe, 34, jane.doe@example.com", None),
    ("contact", "Bob (bob@mail.org) is 52 years old.", None),
    ("contact", "Contact: Li Wei, age 28, email liwei@corp.cn", None),
    ("contact", "Maria Garcia, maria.g@uni.es, 41", None),
    ("contact", "Tom is 19 and his address is tom19@games.net", None),
    ("contact", "Dr. Anna Berg, 63, anna.berg@clinic.se", None),
]


async def run_case(
    models: ModelRegistry, model: str, strategy: Any, case: tuple[str, str, Any], args: Any
) -> dict[str, Any]:
    name, prompt, context = case
    started = time.perf_counter()
    row: dict[str, Any] = {"schema": name, "prompt": prompt, "strategy": strategy}
    try:
        result = await generate(
            models, SCHEMAS[name], prompt, context=context, model=model,
            max_attempts=args.max_attempts, strategy=strategy, max_tokens=args.max_tokens,
        )
        row.update(valid=True, attempts=result.attempts, data=result.data)
    except OutputInvalid as exc:
        details = exc.details
        row.update(valid=False, attempts=details["attempts"], errors=details["errors"],
                   raw=details["raw"])
    except ProviderError as exc:
        row.update(valid=False, attempts=0, errors=[exc.message])
    row["seconds"] = time.perf_counter() - started
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| strategy | schema | requests | valid | valid at 1st try | mean attempts | mean s "
        "| p50 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], row["schema"]), []).append(row)
        groups.setdefault((row["strategy"], "ALL"), []).append(row)
    order = sorted(groups, key=lambda key: (key[0], key[1] == "ALL", key[1]))
    for strategy, schema in order:
        group = groups[(strategy, schema)]
        n = len(group)
        valid = sum(r["valid"] for r in group)
        first = sum(r["valid"] and r["attempts"] == 1 for r in group)
        secs = [r["seconds"] for r in group]
        lines.append(
            f"| {strategy} | {schema} | {n} | {valid / n:.0%} | {first / n:.0%} | "
            f"{statistics.mean(r['attempts'] for r in group):.2f} | "
            f"{statistics.mean(secs):.1f} | {statistics.median(secs):.1f} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--strategies", default="constrained,prompt")
    parser.add_argument("--schemas", default=",".join(SCHEMAS), help="Only these schemas.")
    parser.add_argument("--limit", type=int, default=len(CASES))
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--out", default=None, help="Append each request's result (JSON lines).")
    parser.add_argument("--report", nargs="*", help="Only print the table of these JSONL files.")
    return parser.parse_args()


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    models = ModelRegistry(Settings(default_model=args.model))
    wanted = set(args.schemas.split(","))
    cases = [c for c in CASES[: args.limit] if c[0] in wanted]
    rows: list[dict[str, Any]] = []
    try:
        await generate(models, SCHEMAS["block"], "warm up", model=args.model, max_tokens=8,
                       max_attempts=1)
    except OutputInvalid:
        pass  # only loading the model here
    try:
        for strategy in args.strategies.split(","):
            for case in cases:
                row = await run_case(models, args.model, strategy, case, args)
                rows.append(row)
                print(f"{strategy:11} {row['schema']:8} valid={row['valid']!s:5} "
                      f"attempts={row['attempts']} {row['seconds']:.1f}s", flush=True)
                if args.out:
                    await asyncio.to_thread(_append, Path(args.out), row)
    finally:
        await models.aclose()
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row, default=str) + "\n")


def main() -> None:
    args = parse_args()
    if args.report:
        lines = [ln for f in args.report for ln in Path(f).read_text().splitlines() if ln]
        print(table([json.loads(ln) for ln in lines]))
        return
    print(table(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
