"""Output: the per-question and summary tables, and where the JSON report goes."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.table import Table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _sec(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="ragline grounded conversation: evaluation", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("n", justify="right")
    rows = [
        ("retrieval Recall@5 (search, singles + follow-up firsts)", "retrieval_recall_at_5"),
        ("  paraphrased questions only", "retrieval_recall_at_5_paraphrased"),
        ("retrieval Hit@5 (any relevant document in top 5)", "retrieval_hit_at_5"),
        ("answer fact accuracy (answerable)", "answer_fact_accuracy"),
        ("  singles", "answer_fact_accuracy_single"),
        ("  follow-ups", "answer_fact_accuracy_followup"),
        ("answers with valid \\[n] citations (answerable)", "answerable_with_valid_citations"),
        ("  a marker points at a passage holding the expected fact", "answerable_cited_fact"),
        ("answers with claims all supported+sourced or flagged", "answerable_claims_accounted"),
        ("  claims supported (share of all claims)", "answerable_claims_supported"),
        ("answerable answers wrongly declined", "answerable_wrongly_declined"),
        ("answer sources include a relevant document", "answerable_sources_hit"),
        ("unanswerable correctly declined", "unanswerable_declined"),
        ("unanswerable with empty final.sources", "unanswerable_empty_sources"),
        ("conflicting documents: both values, both cited", "conflict_both_cited"),
        ("conflicting documents: the answer says they disagree", "conflict_disagreement_said"),
        ("follow-up condensed-query hit (sources event)", "followup_condensed_hit"),
        ("follow-up raw question Hit@5 (no condensing)", "followup_raw_question_hit_at_5"),
        ("sources event before first token", "sources_before_first_token"),
    ]
    for label, key in rows:
        item = summary[key]
        table.add_row(label, _pct(item["value"]), str(item["n"]))
    table.add_section()
    latency = summary["latency_s"]
    for label, key in [
        ("time to sources (condense + retrieval)", "time_to_sources"),
        ("  follow-ups only (with condensing)", "time_to_sources_followups"),
        ("time to first token", "time_to_first_token"),
        ("total per answer", "total"),
    ]:
        item = latency[key]
        table.add_row(f"{label} p50 / p99", f"{_sec(item['p50'])} / {_sec(item['p99'])}",
                      str(item["n"]))
    share = latency["pre_token_share_of_ttft"]
    table.add_row("pre-token pipeline share of TTFT p50 / p99",
                  f"{_pct(share['p50'])} / {_pct(share['p99'])}", str(share["n"]))
    claims = summary.get("claim_check")
    if claims:
        table.add_section()
        n = f"{claims['labels']} ({claims['questions']} q)"
        label = "claim check precision / recall (labelled sentences"
        asked = f", {claims['verified']} put to the local model" if claims.get("verifier") else ""
        label += f"{asked})"
        table.add_row(label,
                      f"{_pct(claims['precision'])} / {_pct(claims['recall'])}", n)
        table.add_row("  leave-one-question-out",
                      f"{_pct(claims['loqo_precision'])} / {_pct(claims['loqo_recall'])}", n)
    table.add_section()
    table.add_row("failed or incomplete runs", str(summary["failed_runs"]),
                  str(summary["questions"]))
    mean_prompt, mean_completion = summary["mean_prompt_tokens"], summary["mean_completion_tokens"]
    table.add_row("mean prompt / completion tokens",
                  f"{mean_prompt or 0:.0f} / {mean_completion or 0:.0f}", "")
    return table


def detail_table(turns: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="per question", title_justify="left")
    table.add_column("id", no_wrap=True)
    for column in ("type", "search", "sources", "verdict", "cites", "ttft", "total"):
        table.add_column(column)
    for t in turns:
        if t["type"] == "unanswerable":
            verdict = "declined" if t["declined"] else "[red]answered"
            sources = "empty" if not t["sources"] else f"{len(t['sources'])}"
        else:
            verdict = "ok" if t["facts_ok"] else "[red]missing"
            if t["declined"]:
                verdict += " (declined)"
            sources = "hit" if t["answer_source_hit"] else "[red]miss"
        search = "-" if t["search_hit"] is None else ("hit" if t["search_hit"] else "miss")
        table.add_row(t["id"], t["type"], search, sources, verdict,
                      ",".join(map(str, t["cited"])) or "-", _sec(t["t_first_token"]),
                      _sec(t["t_total"]))
    return table


def default_report_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path("data") if Path("data").is_dir() else Path(tempfile.gettempdir())
    return base / "eval" / f"report-{stamp}.json"
