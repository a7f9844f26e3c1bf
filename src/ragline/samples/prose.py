"""The prose of a CV (summary, achievements): from templates, or written by a model through
ragline's structured output (schema-validated, facts checked, with the repair loop)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragline.domain.schemas import OutputSchema
from ragline.samples.check import bullet_key
from ragline.samples.cv_schema import BULLET_MAX, CV, SUMMARY_MAX, CVProse, Experience, JobProse
from ragline.services.generate import GeneratingModels, generate

_SUMMARIES = (
    "{title} with {years} years of experience, currently at {employer} in {city}. Works mostly "
    "with {techs}, and cares about reliable, well-tested software.",
    "{years} years as a {title_lower}, most recently at {employer}. Day to day: {techs}. "
    "Known for clear documentation and calm incident handling.",
    "Pragmatic {title_lower} based in {city} ({years} years in the field). Builds and runs "
    "production systems with {techs}.",
)
_ACHIEVEMENTS = (
    "Cut response times by {pct}% by reworking the {tech} layer.",
    "Led the migration of {n} services to {tech}, with no customer-facing downtime.",
    "Introduced {tech} and {tech2} to the team and wrote the onboarding guide.",
    "Built an automated test suite around {tech} that raised coverage to {cov}%.",
    "Mentored {n} junior engineers and ran the weekly {tech} design reviews.",
    "Reduced infrastructure costs by {pct}% through better use of {tech}.",
    "Shipped a customer dashboard on {tech} used by {users} people a month.",
)


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def template_summary(cv: CV, rng: random.Random) -> str:
    first_year = int(cv.experience[-1].start[:4])
    techs = sorted({t for job in cv.experience[:2] for t in job.technologies})
    return rng.choice(_SUMMARIES).format(
        title=cv.title, title_lower=cv.title.lower(), years=max(1, 2025 - first_year),
        employer=cv.experience[0].employer, city=cv.location.split(",")[0],
        techs=_listing(rng.sample(techs, k=min(3, len(techs)))),
    )


def template_bullets(job: Experience, rng: random.Random, seen: set[str]) -> list[str]:
    """Two or three achievements naming only the job's own technologies, none of them in
    `seen` (bullet keys, which grows): the facts check rejects a bullet repeated across jobs."""
    bullets: list[str] = []
    while len(bullets) < 2 or (len(bullets) == 2 and rng.random() < 0.5):
        tech, tech2 = (rng.sample(job.technologies, k=2) if len(job.technologies) > 1
                       else job.technologies * 2)
        bullet = rng.choice(_ACHIEVEMENTS).format(
            tech=tech, tech2=tech2, pct=rng.randint(15, 60), n=rng.randint(2, 12),
            cov=rng.randint(70, 95), users=f"{rng.randint(2, 90) * 1000:,}")
        if bullet_key(bullet) not in seen:
            seen.add(bullet_key(bullet))
            bullets.append(bullet)
    return bullets


def template_prose(cv: CV, rng: random.Random) -> CVProse:
    """Prose from sentence templates: fast, deterministic for a given `rng`, never contradicts
    the facts (it only names the job's own technologies)."""
    summary = template_summary(cv, rng)
    seen: set[str] = set()
    jobs = [JobProse(achievements=template_bullets(job, rng, seen)) for job in cv.experience]
    return CVProse(summary=summary, jobs=jobs)


LATIN = " -~\u00c0-\u024f"  # printable ASCII and accented Latin letters: no stray CJK


def _sentences(least: int, most: int) -> dict[str, Any]:
    """Text that starts with a capital and ends with a full stop, `least`-`most` characters:
    under grammar-constrained decoding the model cannot stop mid-sentence or open a bullet
    with a copy of the context's punctuation."""
    return {"type": "string", "pattern": f"^[A-Z][{LATIN}]{{{least - 2},{most - 2}}}\\.$"}


def _all(cv: CV, jobs: Sequence[int] | None) -> list[int]:
    return list(range(len(cv.experience))) if jobs is None else list(jobs)


def prose_schema(cv: CV, jobs: Sequence[int] | None = None, summary: bool = True
                 ) -> OutputSchema:
    """The compact form the model writes, keyed by employer so that each job's bullets come
    right after the model has written its employer's name:
    `{"summary": "...", "bullets": {"Employer A": ["..", ".."], ...}}`. Only the parts asked
    for (`jobs`, the summary), two bullets a job, lengths bounded: grammar-constrained decoding
    enforces the shape and the bounds; the caller checks each part against the facts."""
    employers = [cv.experience[j].employer for j in _all(cv, jobs)]
    properties: dict[str, Any] = {"summary": _sentences(40, SUMMARY_MAX)} if summary else {}
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if employers:  # one definition of a job's pair of bullets: fewer prompt tokens
        pair = {"type": "array", "minItems": 2, "maxItems": 2, "items": _sentences(20, BULLET_MAX)}
        properties["bullets"] = {"type": "object",
                                 "properties": {e: {"$ref": "#/$defs/pair"} for e in employers},
                                 "required": employers, "additionalProperties": False}
        schema["$defs"] = {"pair": pair}
    schema["required"] = list(properties)
    return OutputSchema("cv_prose", schema)


def _years(start: str, end: str | None) -> str:
    return f"{start[:4]}-{end[:4] if end else 'now'}"


def prose_context(cv: CV, jobs: Sequence[int] | None = None) -> str:
    """The facts the model writes about, as a few short lines (fewer tokens than JSON), one
    line per job asked for, led by the employer as the answer's keys are."""
    lines = [f"{cv.name}, {cv.title}, {cv.location}."]
    lines += [f"{job.employer}: {job.role} ({_years(job.start, job.end)}); technologies: "
              f"{', '.join(job.technologies)}."
              for job in (cv.experience[j] for j in _all(cv, jobs))]
    return "\n".join(lines)


_SUMMARY_TASK = ("`summary`: two short sentences in the third person about the person's "
                 "profile.")
_BULLETS_TASK = (
    "`bullets`: under each employer, two achievements in that job, each one short sentence "
    "(under 100 characters) that starts with a past-tense verb (Led, Built, Cut...) and gives "
    "a concrete number. Name only that job's technologies, never another employer, no years; "
    "no two bullets alike."
)


def prose_prompt(summary: bool = True, bullets: bool = True,
                 rejected: Sequence[str] = ()) -> str:
    """The task: the parts asked for, and why earlier answers for them were rejected."""
    parts = [_SUMMARY_TASK] * summary + [_BULLETS_TASK] * bullets
    prompt = " ".join(["Write the prose of this CV.", *parts])
    if rejected:
        prompt += f" Earlier answers were rejected: {'; '.join(rejected)}."
    return prompt


def prose_max_tokens(jobs: int, summary: bool = True) -> int:
    """Enough for the bounded lengths (about 4 characters a token), so nothing is cut off."""
    return 25 + 85 * summary + 75 * jobs


@dataclass(frozen=True)
class Draft:
    """What one model call wrote: the summary (when asked for) and bullets by job index."""

    summary: str | None
    bullets: dict[int, list[str]]


async def model_prose(models: GeneratingModels, model: str, cv: CV, *,
                      jobs: Sequence[int] | None = None, summary: bool = True,
                      rejected: Sequence[str] = (), temperature: float = 0.0,
                      max_attempts: int = 2) -> tuple[Draft, int]:
    """The parts asked for, written by `model` through structured generation (its repair loop
    fixes the shape; `OutputInvalid` when it cannot). The facts are the caller's to check."""
    asked = _all(cv, jobs)
    result = await generate(models, prose_schema(cv, asked, summary),
                            prose_prompt(summary, bool(asked), rejected),
                            context=prose_context(cv, None if summary else asked), model=model,
                            max_attempts=max_attempts, temperature=temperature,
                            max_tokens=prose_max_tokens(len(asked), summary))
    data = result.data
    by_employer = data.get("bullets", {})
    bullets = {j: list(by_employer[cv.experience[j].employer]) for j in asked}
    return Draft(data.get("summary") if summary else None, bullets), result.attempts


def with_prose(cv: CV, prose: CVProse) -> CV:
    jobs = [job.model_copy(update={"achievements": list(p.achievements)})
            for job, p in zip(cv.experience, prose.jobs, strict=True)]
    return cv.model_copy(update={"summary": prose.summary, "experience": jobs})
