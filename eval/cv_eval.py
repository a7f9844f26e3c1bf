"""Retrieval and grounded answers over the sample CVs, checked against their manifest.

    ragline sample cvs --count 30 --seed 7 --out data/cvs --ingest
    python eval/cv_eval.py --manifest data/cvs/manifest.jsonl [--server URL] [--answers 6]
        [--temperature 0]

Questions come from the manifest's seeded facts: "Who has worked with Kubernetes?" (every
technology), "Who speaks German?" (every language but English), "Who studied in Lyon?" (every
city of study). Each goes through `POST /api/search` (hybrid, top 5 passages) and is scored:
recall@5 = relevant CVs found / min(5, relevant CVs) and precision@5 = the share of the CVs
found that are relevant ("only CVs that list it"), both for the CVs of the top 5 passages and
for the first 5 distinct CVs (a CV often gives several passages), with the question as asked
and with the bare keyword ("Kubernetes").
`--answers N` asks N of the questions (those with 1-3 relevant people first) in threads bound
to the collection and checks that each answer names the right people and no one else.

Without `--server` a real `ragline serve` starts with a fresh data dir (the local model); the
PDFs are uploaded through the API either way (identical files are not added twice).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quality.client import ApiClient  # eval/quality, beside this file
from quality.scoring import Turn, fold
from quality.server import LOCAL_MODEL, own_server
from rich.console import Console
from rich.table import Table

from ragline.samples.check import mentioned_technologies
from ragline.services.pipeline import focus, keeps

TOP_K = 5


@dataclass
class Question:
    kind: str  # technology, language, study city
    subject: str
    text: str
    relevant: list[str]  # PDF file names (the documents' `source`)
    people: list[str]
    search: dict[str, dict[str, Any]] = field(default_factory=dict)  # query form → scores
    answer: str | None = None
    named: list[str] = field(default_factory=list)
    wrongly_named: list[str] = field(default_factory=list)
    answer_seconds: float | None = None


def questions_from(manifest: list[dict[str, Any]]) -> list[Question]:
    by_subject: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in manifest:
        # a CV lists a technology in its jobs and skills, or in a certification's name
        # ("AWS Certified Machine Learning Specialty" names AWS)
        named = {t for cert in entry["certifications"] for t in mentioned_technologies(cert)}
        for tech in sorted({*entry["technologies"], *named}):
            by_subject[("technology", tech)].append(entry)
        for language in entry["languages"]:
            if language != "English":
                by_subject[("language", language)].append(entry)
        for city in entry["study_cities"]:
            by_subject[("study city", city)].append(entry)
    templates = {"technology": "Who has worked with {}?", "language": "Who speaks {}?",
                 "study city": "Who studied in {}?"}
    return [Question(kind, subject, templates[kind].format(subject),
                     [e["source"] for e in entries], [e["name"] for e in entries])
            for (kind, subject), entries in sorted(by_subject.items())]


FORMS = ("question", "keyword")  # "Who has worked with Kubernetes?" and "Kubernetes"


PASSAGES = 25  # asked for, to find the first 5 distinct CVs


def _scores(docs: list[str], relevant: list[str]) -> dict[str, Any]:
    found = [d for d in docs if d in relevant]
    return {"docs": docs, "recall": len(found) / min(TOP_K, len(relevant)),
            "precision": len(found) / len(docs) if docs else 0.0}


MIN_RELEVANCE = 0.30  # RAGLINE_RETRIEVAL_MIN_SCORE's default: the answer drops passages below,
MIN_TERM_MATCH = 1.0  # unless their term_match reaches RAGLINE_RETRIEVAL_MIN_TERM_MATCH's default


def score_search(q: Question, form: str, results: list[dict[str, Any]]) -> None:
    """`passages`: the CVs of the top 5 passages (a CV may give several of them);
    `cvs`: the first 5 distinct CVs; `answer`: the CVs of the top 5 passages that a grounded
    answer keeps (cosine relevance at least MIN_RELEVANCE or term_match at least
    MIN_TERM_MATCH, then `focus`: the pipeline's rules), i.e. the people it can name."""
    sources = [str(r["source"]) for r in results]
    kept = [str(r["source"]) for r in
            focus([r for r in results[:TOP_K] if keeps(r, MIN_RELEVANCE, MIN_TERM_MATCH)])]
    q.search[form] = {
        "passages": _scores(list(dict.fromkeys(sources[:TOP_K])), q.relevant),
        "cvs": _scores(list(dict.fromkeys(sources))[:TOP_K], q.relevant),
        "answer": _scores(list(dict.fromkeys(kept)), q.relevant),
    }


def score_answer(q: Question, answer: str, everyone: list[str]) -> None:
    folded = fold(answer)
    q.answer = answer
    q.named = [p for p in q.people if fold(p) in folded]
    q.wrongly_named = [p for p in everyone if p not in q.people and fold(p) in folded]


def upload_all(client: ApiClient, folder: Path, manifest: list[dict[str, Any]],
               collection: str, timeout: float) -> None:
    client.ensure_collection(collection)
    jobs = [client.upload(folder / e["source"], collection)["job_id"] for e in manifest]
    deadline = time.monotonic() + timeout
    for job_id in jobs:
        while (status := client.job(job_id)["status"]) not in ("ready", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {status}")
            time.sleep(0.5)


def pick_for_answers(questions: list[Question], count: int) -> list[Question]:
    """Questions with 1-3 relevant people, taking each kind in turn."""
    pools = {k: [q for q in questions if q.kind == k and 1 <= len(q.people) <= 3]
             for k in ("technology", "language", "study city")}
    picked: list[Question] = []
    while len(picked) < count and any(pools.values()):
        for pool in pools.values():
            if pool and len(picked) < count:
                picked.append(pool.pop(0))
    return picked


def run(args: argparse.Namespace, base_url: str, console: Console) -> dict[str, Any]:
    manifest = [json.loads(line) for line in args.manifest.read_text().splitlines() if line]
    questions = questions_from(manifest)
    client = ApiClient(base_url, timeout=60.0)
    try:
        upload_all(client, args.manifest.parent, manifest, args.collection, 1800.0)
        for q in questions:
            score_search(q, "question", client.search(q.text, args.collection, PASSAGES))
            score_search(q, "keyword", client.search(q.subject, args.collection, PASSAGES))
        everyone = [e["name"] for e in manifest]
        for q in pick_for_answers(questions, args.answers):
            thread = client.create_thread(args.collection, q.text, args.model, args.temperature)
            turn = Turn(id=q.subject, type="single", question=q.text, thread_id=thread)
            client.ask(turn, q.text, args.run_timeout)
            q.answer_seconds = turn.t_total
            score_answer(q, turn.answer, everyone)
            console.log(f"{q.text} → named {len(q.named)}/{len(q.people)}, "
                        f"wrong {q.wrongly_named}, {turn.t_total or 0:.0f}s")
    finally:
        client.close()
    return {"cvs": len(manifest), "questions": [asdict(q) for q in questions]}


def summary(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['cvs']} CVs: POST /api/search (hybrid) and grounded answers")
    for column in ("questions", "query", "n", "recall@5 passages", "recall@5 CVs",
                   "precision@5 CVs", "top 5 CVs all relevant (n>=5)",
                   f"recall kept (rel>={MIN_RELEVANCE} or term>={MIN_TERM_MATCH})",
                   "precision kept", "answers",
                   "right named", "wrong named"):
        table.add_column(column, justify="left" if column in ("questions", "query") else "right")
    for kind in ("technology", "language", "study city", "all"):
        qs = [q for q in report["questions"] if kind in ("all", q["kind"])]
        answered = [q for q in qs if q["answer"] is not None]
        for form in FORMS:
            passages = [q["search"][form]["passages"] for q in qs]
            cvs = [q["search"][form]["cvs"] for q in qs]
            kept = [q["search"][form]["answer"] for q in qs]
            broad = [q["search"][form]["cvs"] for q in qs if len(q["relevant"]) >= TOP_K]
            named = sum(len(q["named"]) for q in answered)
            expected = sum(len(q["people"]) for q in answered)
            table.add_row(
                kind, form, str(len(qs)),
                f"{sum(s['recall'] for s in passages) / len(qs):.3f}",
                f"{sum(s['recall'] for s in cvs) / len(qs):.3f}",
                f"{sum(s['precision'] for s in cvs) / len(qs):.3f}",
                f"{sum(s['precision'] == 1.0 for s in broad)}/{len(broad)}",
                f"{sum(s['recall'] for s in kept) / len(qs):.3f}",
                f"{sum(s['precision'] for s in kept) / len(qs):.3f}",
                *((str(len(answered)), f"{named}/{expected}",
                   str(sum(len(q["wrongly_named"]) for q in answered)))
                  if answered and form == "question" else ("-", "-", "-")))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=Path("data/cvs/manifest.jsonl"))
    parser.add_argument("--server", help="A running ragline (default: start one).")
    parser.add_argument("--collection", default="cvs")
    parser.add_argument("--answers", type=int, default=6, help="Grounded answers to check.")
    parser.add_argument("--model", default=None)
    parser.add_argument("--temperature", type=float, default=None,
                        help="Answers' sampling temperature (default: the model's); 0 makes "
                             "before/after comparisons repeatable.")
    parser.add_argument("--run-timeout", type=float, default=900.0)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    console = Console(width=160)
    if args.server:
        report = run(args, args.server, console)
    else:
        with own_server(args.model or LOCAL_MODEL, console, keep=False) as base_url:
            report = run(args, base_url, console)
    console.print(summary(report))
    for q in report["questions"]:
        keyword = q["search"]["keyword"]["cvs"]
        if keyword["recall"] < 1.0 or (len(q["relevant"]) >= TOP_K and keyword["precision"] < 1):
            console.print(f"[yellow]{q['subject']}[/]: recall {keyword['recall']:.2f}, got "
                          f"{keyword['docs']}, relevant {q['relevant']}")
    path = args.report or args.manifest.parent / "cv_eval_report.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    console.print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
