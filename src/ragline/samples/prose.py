"""The prose of a CV (summary, achievements): from templates, or written by a model through
ragline's structured output (schema-validated, facts checked, with the repair loop)."""

from __future__ import annotations

import random
from typing import Any

from ragline.domain.schemas import OutputSchema, Violation
from ragline.samples.check import prose_violations
from ragline.samples.cv_schema import CV, CVProse, JobProse
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


def template_prose(cv: CV, rng: random.Random) -> CVProse:
    """Prose from sentence templates: fast, deterministic for a given `rng`, never contradicts
    the facts (it only names the job's own technologies)."""
    first_year = int(cv.experience[-1].start[:4])
    techs = sorted({t for job in cv.experience[:2] for t in job.technologies})
    summary = rng.choice(_SUMMARIES).format(
        title=cv.title, title_lower=cv.title.lower(), years=max(1, 2025 - first_year),
        employer=cv.experience[0].employer, city=cv.location.split(",")[0],
        techs=_listing(rng.sample(techs, k=min(3, len(techs)))),
    )
    jobs, seen = [], set()
    for job in cv.experience:
        bullets: list[str] = []
        while len(bullets) < 2 or (len(bullets) == 2 and rng.random() < 0.5):
            tech, tech2 = (rng.sample(job.technologies, k=2) if len(job.technologies) > 1
                           else job.technologies * 2)
            bullet = rng.choice(_ACHIEVEMENTS).format(
                tech=tech, tech2=tech2, pct=rng.randint(15, 60), n=rng.randint(2, 12),
                cov=rng.randint(70, 95), users=f"{rng.randint(2, 90) * 1000:,}")
            if bullet not in seen:  # the facts check rejects a bullet repeated across jobs
                seen.add(bullet)
                bullets.append(bullet)
        jobs.append(JobProse(achievements=bullets))
    return CVProse(summary=summary, jobs=jobs)


SUMMARY_MAX = 300  # characters; with BULLET_MAX, a hard bound on what the model writes
BULLET_MAX = 120


def _sentences(least: int, most: int) -> dict[str, Any]:
    """Text that starts with a capital and ends with a full stop, `least`-`most` characters:
    under grammar-constrained decoding the model cannot stop mid-sentence or open a bullet
    with a copy of the context's punctuation."""
    return {"type": "string", "pattern": f"^[A-Z][^\\n]{{{least - 2},{most - 2}}}\\.$"}


def prose_schema(cv: CV) -> OutputSchema:
    """The compact form the model writes: `{"summary": "...", "bullets": [["..", ".."], ...]}`,
    exactly two bullets per job, lengths bounded (grammar-constrained decoding enforces the
    shape and the bounds), and the facts as a semantic check."""
    schema = {
        "type": "object",
        "properties": {
            "summary": _sentences(40, SUMMARY_MAX),
            "bullets": {"type": "array", "minItems": len(cv.experience),
                        "maxItems": len(cv.experience),
                        "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                  "items": _sentences(20, BULLET_MAX)}},
        },
        "required": ["summary", "bullets"],
        "additionalProperties": False,
    }

    def against_facts(data: Any, _context: Any) -> list[Violation]:
        found = prose_violations(cv, data["summary"], data["bullets"])
        for violation in found:  # name the compact form's places, which the model wrote
            loc = violation["loc"]
            if loc[:1] == ["jobs"] and len(loc) == 4:
                violation["loc"] = ["bullets", loc[1], loc[3]]
        return found

    return OutputSchema("cv_prose", schema, semantic=against_facts)


def _years(start: str, end: str | None) -> str:
    return f"{start[:4]}-{end[:4] if end else 'now'}"


def prose_context(cv: CV) -> str:
    """The facts the model writes about, as a few short lines (fewer tokens than JSON)."""
    lines = [f"{cv.name}, {cv.title}, {cv.location}."]
    lines += [f"Job {j + 1}: {job.role} at {job.employer} ({_years(job.start, job.end)}); "
              f"technologies: {', '.join(job.technologies)}."
              for j, job in enumerate(cv.experience)]
    return "\n".join(lines)


PROMPT = (
    "Write the prose of this CV. `summary`: two short sentences in the third person about "
    "the person's profile. `bullets`: for each job, in order, two achievements, each one short "
    "sentence (under 100 characters) that starts with a past-tense verb (Led, Built, Cut...) "
    "and gives a concrete number. Name only the technologies listed for that job. Do not "
    "write years or repeat the job line."
)


def prose_max_tokens(cv: CV) -> int:
    """Enough for the bounded lengths (about 4 characters a token), so nothing is cut off."""
    return 110 + 75 * len(cv.experience)


async def model_prose(models: GeneratingModels, model: str, cv: CV, max_attempts: int = 3,
                      avoid: str | None = None) -> tuple[CVProse, int]:
    """Prose written by `model`; `OutputInvalid` when still contradicting after the repairs.
    `avoid`: the problems of an earlier answer, so that a regeneration takes another path."""
    prompt = PROMPT if avoid is None else f"{PROMPT} An earlier answer was rejected: {avoid}"
    result = await generate(models, prose_schema(cv), prompt, context=prose_context(cv),
                            model=model, max_attempts=max_attempts,
                            max_tokens=prose_max_tokens(cv))
    data = result.data
    prose = CVProse(summary=data["summary"],
                    jobs=[JobProse(achievements=list(pair)) for pair in data["bullets"]])
    return prose, result.attempts


def with_prose(cv: CV, prose: CVProse) -> CV:
    jobs = [job.model_copy(update={"achievements": list(p.achievements)})
            for job, p in zip(cv.experience, prose.jobs, strict=True)]
    return cv.model_copy(update={"summary": prose.summary, "experience": jobs})
