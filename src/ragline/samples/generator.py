"""Make a folder of sample CVs: NNN-name.json/.html/.pdf and manifest.jsonl.

Resumable (a CV whose three files exist is kept unless `force`), and interruptible: every file
is written to a temporary name and renamed, so Ctrl-C never leaves half a PDF behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ragline.domain.errors import OutputInvalid, RaglineError
from ragline.domain.llm import ChatMessage, GenerationParams, ModelSpec, Usage
from ragline.domain.schemas import Violation
from ragline.samples.check import (
    bullet_key,
    check_cv,
    job_violations,
    page_violations,
    summary_violations,
)
from ragline.samples.cv_schema import CV, CVProse, JobProse
from ragline.samples.facts import Facts, seeded_cv
from ragline.samples.prose import (
    model_prose,
    template_bullets,
    template_prose,
    template_summary,
    with_prose,
)
from ragline.samples.render import pdf_text, render_html, render_pdf
from ragline.services.generate import GeneratingModels
from ragline.services.structured import summary as summary_of

MANIFEST = "manifest.jsonl"


CARRIED = ("seconds", "prompt_tokens", "completion_tokens", "model_problems", "prose_parts",
           "model_rejections")


class SampleInvalid(RaglineError):
    """A rendered CV failed its validation (page count, text layer)."""


@dataclass(frozen=True)
class Written:
    prose: CVProse
    source: str  # "template", or "model", "mixed" or "template-fallback" (see `ModelProse`)
    attempts: int = 0  # model calls
    problems: str | None = None  # why the parts written from templates were (model_problems)
    tokens: tuple[int, int] = (0, 0)  # prompt and completion tokens of all the model calls
    parts: tuple[str, ...] = ()  # "model" or "template": the summary, then each job's bullets
    rejections: dict[str, list[str]] = field(default_factory=dict)  # part: violation types


class ProseSource(Protocol):
    name: str

    async def write(self, cv: CV, facts: Facts) -> Written: ...


def _template_rng(facts: Facts) -> random.Random:
    return random.Random(f"prose:{facts.seed}:{facts.index}")


class TemplateProse:
    name = "template"

    async def write(self, cv: CV, facts: Facts) -> Written:
        return Written(template_prose(cv, _template_rng(facts)), "template")


@dataclass
class ModelProse:
    """Prose from a model, part by part (the summary, each job's bullets). The first call asks
    for all of it; a part that contradicts the facts is asked for again on its own, the parts
    that passed kept; a part still wrong after `calls` calls is written from templates. The
    CV's prose is then "model", "mixed" or "template-fallback", and the manifest says which
    parts are whose."""

    models: GeneratingModels
    model: str
    calls: int = 4
    retry_temperature: float = 0.7  # an answer asked for again differs from the rejected one
    name: str = "model"

    async def write(self, cv: CV, facts: Facts) -> Written:
        counted = _Counted(self.models)
        summary: str | None = None
        bullets: dict[int, list[str]] = {}
        last: dict[str, str] = {}  # part: the last problem (for the next call and the manifest)
        rejections: dict[str, list[str]] = {}
        attempts = 0

        def reject(part: str, found: list[Violation]) -> None:
            last[part] = found[0]["msg"]
            rejections.setdefault(part, []).append(",".join(sorted({v["type"] for v in found})))

        for call in range(self.calls):
            jobs = [j for j in range(len(cv.experience)) if j not in bullets]
            if summary is not None and not jobs:
                break
            pending = ["summary"] * (summary is None) + [f"jobs/{j}" for j in jobs]
            try:
                draft, used = await model_prose(
                    counted, self.model, cv, jobs=jobs, summary=summary is None,
                    rejected=[f"{_label(cv, p)}: {last[p]}" for p in pending if p in last],
                    temperature=self.retry_temperature if call else 0.0)
            except OutputInvalid as exc:
                details = exc.details or {}
                attempts += int(details.get("attempts", 0))
                errors = details.get("errors") or [
                    {"loc": [], "msg": exc.message, "type": "invalid"}]
                for part in pending:
                    reject(part, errors)
                continue
            attempts += used
            if draft.summary is not None:
                if found := summary_violations(cv, draft.summary):
                    reject("summary", found)
                else:
                    summary = draft.summary
            kept = {bullet_key(b) for written in bullets.values() for b in written}
            for j, written in sorted(draft.bullets.items()):
                if found := job_violations(cv, j, written, kept):
                    reject(f"jobs/{j}", found)
                else:
                    bullets[j] = written
                    kept |= {bullet_key(b) for b in written}
        return self._finished(cv, facts, summary, bullets, last, rejections, attempts,
                              counted.tokens)

    @staticmethod
    def _finished(cv: CV, facts: Facts, summary: str | None, bullets: dict[int, list[str]],
                  last: dict[str, str], rejections: dict[str, list[str]], attempts: int,
                  tokens: tuple[int, int]) -> Written:
        """The model's parts that passed, templates for the rest (never repeating a bullet)."""
        rng = _template_rng(facts)
        fell_back = [] if summary is not None else ["summary"]
        final_summary = summary if summary is not None else template_summary(cv, rng)
        seen = {bullet_key(b) for written in bullets.values() for b in written}
        jobs = []
        for j, job in enumerate(cv.experience):
            if j not in bullets:
                fell_back.append(f"jobs/{j}")
            jobs.append(JobProse(achievements=bullets[j] if j in bullets
                                 else template_bullets(job, rng, seen)))
        prose = CVProse(summary=final_summary, jobs=jobs)
        names = ["summary", *(f"jobs/{j}" for j in range(len(jobs)))]
        parts = tuple("template" if p in fell_back else "model" for p in names)
        problems = "; ".join(f"{_label(cv, p)}: {last[p]}" for p in fell_back if p in last)
        if (left := check_cv(with_prose(cv, prose), facts)):  # the parts clash: templates only
            return Written(template_prose(cv, _template_rng(facts)), "template-fallback",
                           attempts, summary_of(left), tokens, ("template",) * len(parts),
                           rejections)
        source = ("model" if not fell_back
                  else "template-fallback" if "model" not in parts else "mixed")
        return Written(prose, source, attempts, problems or None, tokens, parts, rejections)


def _label(cv: CV, part: str) -> str:
    """How the model is told which part was wrong: the summary, or a job by its employer."""
    return part if part == "summary" else cv.experience[int(part[5:])].employer


class _Counted:
    """The models, counting the tokens of every call (repairs and regenerations included)."""

    def __init__(self, models: GeneratingModels) -> None:
        self.models = models
        self.tokens = (0, 0)

    def spec(self, name: str) -> ModelSpec:
        return self.models.spec(name)

    def provider(self, name: str) -> Any:
        return self.models.provider(name)

    async def complete(self, name: str, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> tuple[str, Usage, str]:
        text, usage, used = await self.models.complete(name, messages, params)
        self.tokens = (self.tokens[0] + usage.prompt_tokens,
                       self.tokens[1] + usage.completion_tokens)
        return text, usage, used


@dataclass
class Made:
    facts: Facts
    status: str  # "generated" or "kept"
    prose: str
    attempts: int
    pages: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)
    problems: str | None = None  # why parts were written from templates after all
    tokens: tuple[int, int] = (0, 0)
    parts: tuple[str, ...] = ()
    rejections: dict[str, list[str]] = field(default_factory=dict)
    carried: dict[str, Any] = field(default_factory=dict)  # a kept CV's figures from its run

    def manifest_entry(self) -> dict[str, Any]:
        entry = {**self.facts.model_dump(), "files": self.files, "source": self.files["pdf"],
                 "pages": self.pages, "prose": self.prose, "attempts": self.attempts}
        if self.status == "generated" and self.attempts:
            entry.update(seconds=round(self.seconds, 1), prompt_tokens=self.tokens[0],
                         completion_tokens=self.tokens[1])
        if self.parts:
            entry["prose_parts"] = {"summary": self.parts[0], "jobs": list(self.parts[1:])}
        if self.problems:
            entry["model_problems"] = self.problems
        if self.rejections:
            entry["model_rejections"] = self.rejections
        return {**entry, **self.carried}


def write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def check_writable(out: Path) -> None:
    """Create `out` and prove a file can be written there (OSError otherwise)."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / ".ragline-write-test", b"ok")
    (out / ".ragline-write-test").unlink()


def _files(out: Path, facts: Facts) -> dict[str, Path]:
    stem = f"{facts.index + 1:03d}-{facts.slug}"
    return {kind: out / f"{stem}.{kind}" for kind in ("pdf", "html", "json")}


def _previous_entries(out: Path) -> dict[int, dict[str, Any]]:
    try:
        lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    entries = {}
    for line in lines:
        try:
            entry = json.loads(line)
            entries[int(entry["index"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return entries


async def make_cv(index: int, seed: int, out: Path, prose: ProseSource, *, force: bool,
                  previous: dict[str, Any] | None = None) -> Made:
    started = time.perf_counter()
    skeleton, facts = seeded_cv(seed, index)
    paths = _files(out, facts)
    names = {kind: path.name for kind, path in paths.items()}
    if not force and all(path.is_file() for path in paths.values()):
        kept = previous if previous and previous.get("slug") == facts.slug else {}
        pages = kept.get("pages") or (await asyncio.to_thread(
            lambda: pdf_text(paths["pdf"].read_bytes())))[0]
        carried = {k: kept[k] for k in CARRIED if k in kept}
        return Made(facts, "kept", str(kept.get("prose", "unknown")),
                    int(kept.get("attempts", 0)), int(pages), time.perf_counter() - started, names,
                    carried=carried)
    written = await prose.write(skeleton, facts)
    cv = with_prose(skeleton, written.prose)
    html, pdf, pages = await _rendered(cv, facts)
    write_atomic(paths["pdf"], pdf)
    write_atomic(paths["html"], html.encode())
    write_atomic(paths["json"], cv.model_dump_json(indent=2).encode())
    return Made(facts, "generated", written.source, written.attempts, pages,
                time.perf_counter() - started, names, written.problems, written.tokens,
                written.parts, written.rejections)


async def _rendered(cv: CV, facts: Facts) -> tuple[str, bytes, int]:
    """HTML, PDF and page count, validated: the PDF's text layer names the person, and its
    page count is what the layout gives (`SampleInvalid` otherwise)."""
    html = render_html(cv, facts.layout)
    pdf = await asyncio.to_thread(render_pdf, html)
    pages, text = await asyncio.to_thread(pdf_text, pdf)
    problems = page_violations(facts.layout, len(cv.experience), pages)
    if cv.name not in " ".join(text.split()):
        problems.append({"loc": ["pdf"], "msg": f"its text does not contain {cv.name!r}",
                         "type": "text"})
    if problems:
        raise SampleInvalid(f"CV {facts.index + 1} ({cv.name}): {summary_of(problems)}",
                            code="sample_invalid", details={"errors": problems})
    return html, pdf, pages


def write_manifest(out: Path, made: list[Made]) -> None:
    lines = [json.dumps(m.manifest_entry(), ensure_ascii=False) for m in made]
    write_atomic(out / MANIFEST, ("\n".join(lines) + "\n").encode())


async def make_cvs(count: int, seed: int, out: Path, prose: ProseSource, *, force: bool = False,
                   concurrency: int = 1,
                   on_done: Callable[[Made], None] | None = None) -> list[Made]:
    """CVs 0..count-1 of `seed` in `out`, up to `concurrency` at a time (the local engine
    decodes its parallel slots in one batch); the manifest is rewritten, in index order, after
    each one, so an interrupted run keeps what it finished."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    previous = _previous_entries(out)
    done: dict[int, Made] = {}
    pending = iter(range(count))

    async def worker() -> None:
        for index in pending:  # a shared iterator: each index goes to one worker
            made = await make_cv(index, seed, out, prose, force=force,
                                 previous=previous.get(index))
            done[index] = made
            write_manifest(out, [done[i] for i in sorted(done)])
            if on_done is not None:
                on_done(made)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return [done[i] for i in range(count)]


def load_manifest(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
