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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ragline.domain.errors import OutputInvalid
from ragline.samples.check import check_cv
from ragline.samples.cv_schema import CV, CVProse
from ragline.samples.facts import Facts, seeded_cv
from ragline.samples.prose import model_prose, template_prose, with_prose
from ragline.samples.render import pdf_text, render_html, render_pdf
from ragline.services.generate import GeneratingModels
from ragline.services.structured import summary

MANIFEST = "manifest.jsonl"


@dataclass(frozen=True)
class Written:
    prose: CVProse
    source: str  # "template", "model" or "template-fallback"
    attempts: int = 0  # model calls
    problems: str | None = None  # why the model's prose was rejected


class ProseSource(Protocol):
    name: str

    async def write(self, cv: CV, facts: Facts) -> Written: ...


class TemplateProse:
    name = "template"

    async def write(self, cv: CV, facts: Facts) -> Written:
        return Written(template_prose(cv, random.Random(f"prose:{facts.seed}:{facts.index}")),
                       "template")


@dataclass
class ModelProse:
    """Prose from a model; a CV still contradicting its facts after the repair loop is
    regenerated once, then written from templates (and says so in the manifest)."""

    models: GeneratingModels
    model: str
    regenerations: int = 1
    name: str = "model"

    async def write(self, cv: CV, facts: Facts) -> Written:
        attempts = 0
        problems: str | None = None
        for _ in range(1 + self.regenerations):
            try:
                prose, used = await model_prose(self.models, self.model, cv, avoid=problems)
            except OutputInvalid as exc:
                details = exc.details or {}
                attempts += int(details.get("attempts", 0))
                problems = summary(details.get("errors") or []) or exc.message
                continue
            attempts += used
            violations = check_cv(with_prose(cv, prose), facts)
            if not violations:
                return Written(prose, "model", attempts)
            problems = summary(violations)
        fallback = await TemplateProse().write(cv, facts)
        return Written(fallback.prose, "template-fallback", attempts, problems)


@dataclass
class Made:
    facts: Facts
    status: str  # "generated" or "kept"
    prose: str
    attempts: int
    pages: int
    seconds: float
    files: dict[str, str] = field(default_factory=dict)
    problems: str | None = None  # why the model's prose was rejected (template-fallback)

    def manifest_entry(self) -> dict[str, Any]:
        entry = {**self.facts.model_dump(), "files": self.files, "source": self.files["pdf"],
                 "pages": self.pages, "prose": self.prose, "attempts": self.attempts}
        if self.problems:
            entry["model_problems"] = self.problems
        return entry


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
        return Made(facts, "kept", str(kept.get("prose", "unknown")),
                    int(kept.get("attempts", 0)), int(pages), time.perf_counter() - started, names)
    written = await prose.write(skeleton, facts)
    cv = with_prose(skeleton, written.prose)
    html = render_html(cv, facts.layout)
    pdf = await asyncio.to_thread(render_pdf, html)
    pages, _ = await asyncio.to_thread(pdf_text, pdf)
    write_atomic(paths["pdf"], pdf)
    write_atomic(paths["html"], html.encode())
    write_atomic(paths["json"], cv.model_dump_json(indent=2).encode())
    return Made(facts, "generated", written.source, written.attempts, pages,
                time.perf_counter() - started, names, written.problems)


def write_manifest(out: Path, made: list[Made]) -> None:
    lines = [json.dumps(m.manifest_entry(), ensure_ascii=False) for m in made]
    write_atomic(out / MANIFEST, ("\n".join(lines) + "\n").encode())


async def make_cvs(count: int, seed: int, out: Path, prose: ProseSource, *, force: bool = False,
                   on_done: Callable[[Made], None] | None = None) -> list[Made]:
    """CVs 0..count-1 of `seed` in `out`; the manifest is rewritten after each one."""
    previous = _previous_entries(out)
    made: list[Made] = []
    for index in range(count):
        made.append(await make_cv(index, seed, out, prose, force=force,
                                  previous=previous.get(index)))
        write_manifest(out, made)
        if on_done is not None:
            on_done(made[-1])
    return made


def load_manifest(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
