"""Seed 001's synthetic CVs without a server: seeded facts, checks, prose (template and a queue
model through the structured-output repair loop), layouts, and `ragline sample cvs`."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragline.adapters.llm.scripted import ScriptedProvider
from ragline.adapters.parse.pdf import parse_pdf
from ragline.cli.main import app
from ragline.domain.errors import ProviderError
from ragline.domain.llm import (
    Capabilities,
    ChatMessage,
    GenerationParams,
    ModelSpec,
    TextDelta,
    Usage,
)
from ragline.samples.check import (
    check_cv,
    job_violations,
    mentioned_technologies,
    page_violations,
)
from ragline.samples.cv_schema import CV
from ragline.samples.facts import LAYOUTS, seeded_cv
from ragline.samples.generator import ModelProse, SampleInvalid, TemplateProse, make_cvs
from ragline.samples.prose import (
    model_prose,
    prose_context,
    prose_schema,
    template_prose,
    with_prose,
)
from ragline.samples.render import expected_pages, pdf_text, render_html, render_pdf

runner = CliRunner()


class _Provider:
    capabilities = Capabilities(json_schema=True, grammar=True)


class QueueModels:
    """The scripted model answering from a queue: each answer goes to it as a `[[json:...]]`
    directive, and what it was asked is recorded (messages and decoding schema)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[list[ChatMessage]] = []
        self.schemas: list[dict] = []

    def spec(self, name: str) -> ModelSpec:
        return ModelSpec(name=name, provider="scripted")

    def provider(self, name: str) -> _Provider:
        return _Provider()

    async def complete(self, name: str, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> tuple[str, Usage, str]:
        self.calls.append(list(messages))
        self.schemas.append(params.json_schema or {})
        directive = ChatMessage("user", f"{messages[-1].content} [[json:{self.answers.pop(0)}]]")
        text, usage = "", Usage(0, 0)
        async for event in ScriptedProvider().stream([*messages[:-1], directive], params):
            if isinstance(event, TextDelta):
                text += event.text
            elif isinstance(event, Usage):
                usage = event
        return text, usage, name


def _bullets(job, n: int = 0) -> list[str]:
    return [f"Shipped {n + 1} {job.technologies[0]} services for the {job.role} team.",
            f"Halved the on-call load at {job.employer} in {n + 2} months."]


def _answer(cv, summary: str | None = None, jobs: dict | None = None) -> str:
    """The form the model writes: the summary (when asked for) and bullets keyed by employer,
    `jobs` mapping job index to bullets (default: every job, two fine bullets each)."""
    if jobs is None:
        jobs = {j: _bullets(job, j) for j, job in enumerate(cv.experience)}
    value: dict = {} if summary is None else {"summary": summary}
    if jobs:
        value["bullets"] = {cv.experience[j].employer: b for j, b in jobs.items()}
    return json.dumps(value)


def _prose_answer(cv, summary: str, bullet: str | None = None) -> str:
    """Every part asked for, each job's first bullet from `bullet` when given."""
    jobs = {j: _bullets(job, j) for j, job in enumerate(cv.experience)}
    if bullet is not None:
        for j, job in enumerate(cv.experience):
            jobs[j][0] = bullet.format(tech=job.technologies[0], employer=job.employer)
    return _answer(cv, summary, jobs)


SUMMARY = "A seasoned engineer with a calm hand and a taste for tests."


def test_the_same_seed_gives_the_same_people_and_facts() -> None:
    assert seeded_cv(7, 3) == seeded_cv(7, 3)
    assert seeded_cv(7, 3)[1].name != seeded_cv(8, 3)[1].name
    facts = [seeded_cv(7, i)[1] for i in range(12)]
    assert len({f.name for f in facts}) == 12
    assert {f.layout for f in facts} == set(LAYOUTS)


def test_template_prose_never_contradicts_the_facts() -> None:
    for index in range(24):
        skeleton, facts = seeded_cv(3, index)
        cv = with_prose(skeleton, template_prose(skeleton, random.Random(index)))
        assert check_cv(cv, facts) == [], cv.name
        assert all(job.achievements for job in cv.experience)


def test_check_flags_technologies_never_used_and_dates_out_of_order() -> None:
    skeleton, facts = seeded_cv(7, 0)
    foreign = next(t for t in ("Kubernetes", "Swift", "Laravel") if t not in facts.technologies)
    cv = with_prose(skeleton, template_prose(skeleton, random.Random(0)))
    job = cv.experience[0].model_copy(update={"start": "2026-01", "end": "2025-01"})
    bad = cv.model_copy(update={"summary": f"Expert in {foreign}.",
                                "experience": [job, *cv.experience[1:]]})
    problems = {(tuple(v["loc"]), v["type"]) for v in check_cv(bad, facts)}
    assert (("summary",), "fact_contradiction") in problems
    cut = check_cv(cv.model_copy(update={"summary": cv.summary[:-1] + " and Spl"}), facts)
    assert [v["type"] for v in cut] == ["truncated"]
    assert (("experience", 0), "dates") in problems
    twice = [job.model_copy(update={"achievements": ["Shipped it."]}) for job in cv.experience]
    if len(twice) > 1:
        repeated = check_cv(cv.model_copy(update={"experience": twice}), facts)
        assert {v["type"] for v in repeated} == {"repetition"}
    last = cv.experience[-1].employer
    jobs = [job.model_copy(update={"achievements": [f"Built app {j} at {last}."]})
            for j, job in enumerate(cv.experience)]
    if len(jobs) > 1:
        swapped = check_cv(cv.model_copy(update={"experience": jobs}), facts)
        assert [v["loc"][1] for v in swapped if "another job's employer" in v["msg"]] == \
            list(range(len(jobs) - 1))
    assert mentioned_technologies("we love javascript, not Java") == {"JavaScript", "Java"}
    assert mentioned_technologies("at the helm of a swift team") == set()


async def test_the_model_writes_bullets_keyed_by_employer_and_they_map_to_their_jobs() -> None:
    skeleton, _facts = seeded_cv(7, 0)
    employers = [job.employer for job in skeleton.experience]
    schema = prose_schema(skeleton).json_schema["properties"]["bullets"]
    assert list(schema["properties"]) == schema["required"] == employers
    assert schema["additionalProperties"] is False
    shuffled = {e: [f"Built the {e} billing service in {3 + j} weeks.",
                    f"Cut the {e} build time by {20 + j}% with caching."]
                for j, e in reversed(list(enumerate(employers)))}
    models = QueueModels(json.dumps({"summary": SUMMARY, "bullets": shuffled}))
    draft, attempts = await model_prose(models, "fake", skeleton)
    assert attempts == 1 and draft.summary == SUMMARY
    assert [draft.bullets[j] for j in range(len(employers))] == [shuffled[e] for e in employers]
    context = models.calls[0][-1].content
    assert all(f"{job.employer}: {job.role}" in context for job in skeleton.experience)


async def test_a_summary_naming_a_foreign_technology_is_asked_for_again_alone() -> None:
    skeleton, facts = seeded_cv(7, 0)
    foreign = next(t for t in ("Kubernetes", "Swift", "Laravel") if t not in facts.technologies)
    models = QueueModels(
        _prose_answer(skeleton, f"A seasoned engineer who loves {foreign} in production."),
        _answer(skeleton, SUMMARY, jobs={}))
    written = await ModelProse(models, "fake").write(skeleton, facts)
    assert (written.source, written.attempts) == ("model", 2)
    assert written.prose.summary == SUMMARY
    assert list(models.schemas[1]["properties"]) == ["summary"], "the bullets were kept"
    again = models.calls[1][-1].content
    assert foreign in again and "never used" in again
    assert written.rejections == {"summary": ["fact_contradiction"]}
    assert check_cv(with_prose(skeleton, written.prose), facts) == []


async def test_one_job_naming_the_next_employer_is_repaired_without_losing_the_others() -> None:
    skeleton, facts = seeded_cv(7, 0)
    first = {j: _bullets(job, j) for j, job in enumerate(skeleton.experience)}
    drifted = [*first[0][:1], f"Moved the payments team to {skeleton.experience[1].employer}."]
    fixed = ["Rebuilt the search backend in 6 weeks for the whole team.",
             "Trained 4 new engineers on the deployment pipeline."]
    models = QueueModels(_answer(skeleton, SUMMARY, {**first, 0: drifted}),
                         _answer(skeleton, jobs={0: fixed}))
    written = await ModelProse(models, "fake").write(skeleton, facts)
    assert (written.source, written.attempts) == ("model", 2)
    assert [job.achievements for job in written.prose.jobs] == [fixed, first[1], first[2]]
    asked = models.schemas[1]
    assert list(asked["properties"]) == ["bullets"], "only the bad job, not the summary"
    assert list(asked["properties"]["bullets"]["properties"]) == [skeleton.experience[0].employer]
    again = models.calls[1][-1].content
    assert "another job's employer" in again
    assert skeleton.experience[1].employer not in again.split("Task:")[0], \
        "the context of a job asked again names no other employer"
    assert written.parts == ("model",) * 4
    assert written.rejections == {"jobs/0": ["fact_contradiction"]}


async def test_a_repeated_bullet_is_asked_for_again_for_the_later_job_only() -> None:
    skeleton, facts = seeded_cv(7, 1)
    first = {j: _bullets(job, j) for j, job in enumerate(skeleton.experience)}
    copied = {**first, 2: [first[0][0], first[2][1]]}
    models = QueueModels(_answer(skeleton, SUMMARY, copied),
                         _answer(skeleton, jobs={2: first[2]}))
    written = await ModelProse(models, "fake").write(skeleton, facts)
    assert written.source == "model" and written.rejections == {"jobs/2": ["repetition"]}
    assert [job.achievements for job in written.prose.jobs] == [first[0], first[1], first[2]]
    assert models.calls[1][-1].content.count("repeats an earlier bullet") == 1


async def test_a_job_still_wrong_falls_back_to_template_bullets_for_that_job_alone() -> None:
    skeleton, facts = seeded_cv(7, 1)
    wrong = ["Rebuilt the whole platform in 1999 with a new team.",
             "Kept the lights on through 3 data-centre moves."]
    first = {j: _bullets(job, j) for j, job in enumerate(skeleton.experience)}
    models = QueueModels(_answer(skeleton, SUMMARY, {**first, 1: wrong}),
                         *[_answer(skeleton, jobs={1: wrong})] * 3)
    written = await ModelProse(models, "fake").write(skeleton, facts)
    assert (written.source, written.attempts) == ("mixed", 4)
    assert written.parts == ("model", "model", "template", "model")
    assert written.prose.summary == SUMMARY
    assert written.prose.jobs[0].achievements == first[0]
    assert written.prose.jobs[2].achievements == first[2]
    assert written.prose.jobs[1].achievements != wrong
    assert written.problems == (f"{skeleton.experience[1].employer}: year 1999 is outside this "
                                f"job's dates ({skeleton.experience[1].start[:4]}-"
                                f"{(skeleton.experience[1].end or '2025')[:4]})")
    assert written.rejections == {"jobs/1": ["date_contradiction"] * 4}
    assert check_cv(with_prose(skeleton, written.prose), facts) == []


def test_per_job_fallback_is_recorded_in_the_manifest(tmp_path: Path) -> None:
    skeleton, facts = seeded_cv(7, 0)
    bad = [f"Ported the {skeleton.experience[1].employer} app to Cobol in 9 days.",
           "Cut the release cycle by 30% for the whole team."]
    first = {j: _bullets(job, j) for j, job in enumerate(skeleton.experience)}
    models = QueueModels(_answer(skeleton, SUMMARY, {**first, 2: bad}),
                         *[_answer(skeleton, jobs={2: bad})] * 3)
    made = asyncio.run(make_cvs(1, 7, tmp_path, ModelProse(models, "fake")))
    entry = json.loads((tmp_path / "manifest.jsonl").read_text())
    assert made[0].prose == entry["prose"] == "mixed"
    assert entry["prose_parts"] == {"summary": "model", "jobs": ["model", "model", "template"]}
    assert entry["attempts"] == 4
    assert entry["model_problems"].startswith(f"{skeleton.experience[2].employer}: names ")
    assert entry["model_rejections"] == {"jobs/2": ["fact_contradiction"] * 4}
    stored = json.loads((tmp_path / entry["files"]["json"]).read_text())
    assert [j["achievements"] for j in stored["experience"][:2]] == [first[0], first[1]]
    assert check_cv(CV.model_validate(stored), facts) == []
    again = asyncio.run(make_cvs(1, 7, tmp_path, TemplateProse()))
    assert again[0].status == "kept"
    kept = json.loads((tmp_path / "manifest.jsonl").read_text())
    assert kept["prose_parts"] == entry["prose_parts"] and kept["prose"] == "mixed"


async def test_every_job_still_wrong_is_written_from_templates_the_summary_kept() -> None:
    skeleton, facts = seeded_cv(7, 2)
    wrong = _prose_answer(skeleton, "A long enough summary of this person's career so far.",
                          bullet="Rebuilt the {employer} platform in 1999.")
    models = QueueModels(wrong, *[json.dumps({"bullets": json.loads(wrong)["bullets"]})] * 3)
    written = await ModelProse(models, "fake").write(skeleton, facts)
    assert written.attempts == 4
    assert written.parts == ("model", "template", "template"), "the summary was fine"
    assert written.source == "mixed"
    assert "outside this job's dates" in (written.problems or "")
    assert "Earlier answers were rejected" in models.calls[1][-1].content
    assert check_cv(with_prose(skeleton, written.prose), facts) == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_renders_the_whole_cv(layout: str) -> None:
    skeleton, facts = seeded_cv(5, 2)
    cv = with_prose(skeleton, template_prose(skeleton, random.Random(2)))
    html = render_html(cv, layout)
    for text in (cv.name, cv.summary, *facts.technologies, *facts.employers,
                 *facts.institutions, *facts.languages):
        assert text in html.replace("&#39;", "'").replace("&amp;", "&"), text


def test_cli_rejects_a_bad_count_and_an_unwritable_folder(tmp_path: Path) -> None:
    for count in ("0", "-3"):
        result = runner.invoke(app, ["sample", "cvs", "--count", count, "--out", str(tmp_path)])
        assert result.exit_code == 2 and "--count must be at least 1" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["sample", "cvs", "--count", "1", "--out", str(blocker / "cvs"),
                                 "--no-llm"])
    assert result.exit_code == 2 and "cannot write to" in result.output


def test_cli_fails_clearly_when_the_model_is_unavailable(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(*_args: object, **_kwargs: object) -> None:
        raise ProviderError("model 'qwen' failed to start: no such file",
                            code="provider_unavailable")

    monkeypatch.setattr("ragline.samples.generator.model_prose", unavailable)
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["sample", "cvs", "--count", "1", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "model is unavailable" in result.output and "--no-llm" in result.output
    assert not list(tmp_path.glob("*.pdf"))


def test_cli_writes_pdfs_with_real_text_resumes_and_regenerates_on_force(
        tmp_path: Path) -> None:
    out = tmp_path / "cvs"
    first = runner.invoke(app, ["sample", "cvs", "--count", "3", "--seed", "7", "--out",
                                str(out), "--no-llm"])
    assert first.exit_code == 0, first.output
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [0, 1, 2]
    assert {m["layout"] for m in manifest} == set(LAYOUTS)
    for entry in manifest:
        pages, text = pdf_text((out / entry["files"]["pdf"]).read_bytes())
        assert pages == entry["pages"] >= 1
        assert entry["name"] in text and entry["technologies"][0] in text
        stored = json.loads((out / entry["files"]["json"]).read_text())
        assert stored["name"] == entry["name"] and (out / entry["files"]["html"]).is_file()
        assert entry["source"] == entry["files"]["pdf"] == f"{entry['index'] + 1:03d}-" \
            f"{entry['slug']}.pdf"
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "temporary files left"
    pdf = out / manifest[0]["files"]["pdf"]
    stamp = pdf.stat().st_mtime_ns
    again = runner.invoke(app, ["sample", "cvs", "--count", "3", "--seed", "7", "--out",
                                str(out), "--no-llm"])
    assert again.exit_code == 0 and "0 generated, 3 kept" in again.output
    assert pdf.stat().st_mtime_ns == stamp
    assert (out / "manifest.jsonl").read_text().splitlines() == [
        json.dumps(m, ensure_ascii=False) for m in manifest]
    pdf.unlink()
    resumed = runner.invoke(app, ["sample", "cvs", "--count", "3", "--seed", "7", "--out",
                                  str(out), "--no-llm"])
    assert "1 generated, 2 kept" in resumed.output and pdf.is_file()
    forced = runner.invoke(app, ["sample", "cvs", "--count", "3", "--seed", "7", "--out",
                                 str(out), "--no-llm", "--force"])
    assert "3 generated, 0 kept" in forced.output


def test_the_model_writes_a_compact_bounded_form_from_the_exact_facts() -> None:
    skeleton, _facts = seeded_cv(7, 2)
    schema = prose_schema(skeleton).json_schema
    ref = schema["properties"]["bullets"]["properties"][skeleton.experience[0].employer]
    assert ref == {"$ref": "#/$defs/pair"}, "one definition for every job"
    pair = schema["$defs"]["pair"]
    assert pair["minItems"] == pair["maxItems"] == 2
    bullet = pair["items"]["pattern"]
    assert re.search(bullet, "Cut the build time by 40% with Bazel caching.")
    for unfinished in ("Cut the build time by 40% with", ", Dart, Flutter, 2019-2021.",
                       "x" * 200 + ".", "Found a vulnerability in the AWS云."):
        assert not re.search(bullet, unfinished), "a bullet is one whole, short sentence"
    assert re.search(bullet, "Moved the Zürich team's builds to Bazel, saving 30% of CI time.")
    long = "Built " + "a very " * 15 + "long sentence about 3 services."
    cut = ["Built a web platform with a team of 3, achieving a 25% increase in.",
           "Led the team to win the .", "Moved 3 apps to Ruby on.", "Raised user-."]
    assert [v["type"] for v in job_violations(skeleton, 0, [long, *cut, "Cut 3 bugs a week."])] \
        == ["too_long"] + ["truncated"] * 4, "a prompt-only model may run long; the grammar cuts"
    context = prose_context(skeleton)
    for job in skeleton.experience:
        assert f"{job.employer}: {job.role}" in context
        assert ", ".join(job.technologies) in context
    only = prose_schema(skeleton, [1], summary=False).json_schema
    assert list(only["properties"]) == ["bullets"]
    assert only["properties"]["bullets"]["required"] == [skeleton.experience[1].employer]


@pytest.mark.parametrize("index", range(6))
def test_the_page_count_matches_the_layout(index: int) -> None:
    skeleton, facts = seeded_cv(7, index)
    cv = with_prose(skeleton, template_prose(skeleton, random.Random(index)))
    pages, text = pdf_text(render_pdf(render_html(cv, facts.layout)))
    assert pages in expected_pages(facts.layout, len(cv.experience)), (facts.layout, pages)
    assert page_violations(facts.layout, len(cv.experience), pages) == []
    assert cv.name in " ".join(text.split())
    too_many = expected_pages(facts.layout, len(cv.experience)).stop
    assert [v["type"] for v in page_violations(facts.layout, len(cv.experience),
                                               too_many)] == ["layout"]


def test_expected_pages_grow_with_jobs_per_layout() -> None:
    assert expected_pages("classic", 1) == expected_pages("sidebar", 2) == range(1, 2)
    assert expected_pages("classic", 4) == range(1, 3)
    assert expected_pages("ledger", 1) == range(1, 3) and expected_pages("ledger", 4).stop == 4


class _SlowProse:
    """Template prose that takes a moment, counting how many CVs are written at once."""

    name = "slow"

    def __init__(self) -> None:
        self.running = self.most = 0

    async def write(self, cv, facts):
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        return await TemplateProse().write(cv, facts)


def test_cvs_are_made_concurrently_and_the_manifest_stays_in_order(tmp_path: Path) -> None:
    prose = _SlowProse()
    made = asyncio.run(make_cvs(4, 7, tmp_path, prose, concurrency=2))
    assert prose.most == 2
    assert [m.facts.index for m in made] == [0, 1, 2, 3]
    manifest = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [0, 1, 2, 3]
    assert all(m["pages"] in expected_pages(m["layout"], len(m["employers"])) for m in manifest)


def test_a_cv_whose_pages_do_not_fit_its_layout_is_rejected(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ragline.samples.check.expected_pages", lambda _layout, _jobs: range(5, 6))
    with pytest.raises(SampleInvalid, match="layout gives"):
        asyncio.run(make_cvs(1, 7, tmp_path, TemplateProse()))
    assert not list(tmp_path.glob("*.pdf"))


@pytest.mark.parametrize("index", range(3))
def test_a_cv_pdf_parses_into_one_section_per_heading(index: int) -> None:
    """The PDF parser cuts each page where its outline's headings are, so every part of a CV
    is a passage of its own under its heading (the document title names the person)."""
    skeleton, facts = seeded_cv(7, index)
    cv = with_prose(skeleton, template_prose(skeleton, random.Random(index)))
    parsed = parse_pdf(render_pdf(render_html(cv, facts.layout)))
    assert parsed.title is not None and cv.name in parsed.title
    by_heading = {s.heading_path[-1]: s.text for s in parsed.sections if s.heading_path}
    languages = next(text for heading, text in by_heading.items() if "anguages" in heading)
    assert all(lang in languages for lang in facts.languages)
    education = by_heading["Education"]
    assert all(f"studied in {city}" in education for city in facts.study_cities)
    assert not any(t in education for t in facts.technologies)
