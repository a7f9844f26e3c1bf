"""Seeded facts: who a CV's person is, where they worked and studied, what they used.

Everything here is a function of `(seed, index)`, so CV number 7 of seed 7 is the same person
whether 10 or 30 CVs are made, and on every machine. The prose is added later (prose.py).
"""

from __future__ import annotations

import random
import re
import unicodedata
from functools import lru_cache

from faker import Faker
from pydantic import BaseModel

from ragline.samples import catalog
from ragline.samples.cv_schema import CV, Contact, Education, Experience, Language

LAYOUTS = ("classic", "sidebar", "ledger")
LAST_MONTH = (2025, 6)  # the "present" of every CV, fixed so that output never depends on today
EMPLOYER_SUFFIXES = ("Systems", "Labs", "Technologies", "Software", "Analytics", "Digital",
                     "Cloud", "Solutions", "Networks", "Data", "Robotics", "Health")
PRACTICES = ("Code review", "Mentoring", "Agile delivery", "Technical writing",
             "Incident response", "System design", "Stakeholder communication")


class Facts(BaseModel):
    """What a CV must say: the manifest's record, against which retrieval is checked."""

    index: int
    seed: int
    slug: str
    layout: str
    name: str
    title: str
    city: str
    country: str
    technologies: list[str]
    languages: list[str]
    employers: list[str]
    institutions: list[str]
    study_cities: list[str]
    certifications: list[str]


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "person"


@lru_cache(maxsize=32)
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _months(year: int, month: int) -> int:
    return year * 12 + month - 1


def _ym(months: int) -> str:
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def _jobs(rng: random.Random, fake: Faker, profile: catalog.Profile, technologies: list[str],
          city: str) -> list[Experience]:
    count = rng.randint(1, 4)
    end = _months(*LAST_MONTH)
    spans: list[tuple[int, int | None]] = []
    for position in range(count):
        start = end - rng.randint(14, 48)
        spans.append((start, None if position == 0 else end))
        end = start - rng.randint(0, 4)
    pool = technologies[:]
    rng.shuffle(pool)
    assigned: list[list[str]] = [[] for _ in range(count)]
    for i, tech in enumerate(pool):  # every technology is used in some job
        assigned[i % count].append(tech)
    employers: list[str] = []
    while len(employers) < count:
        company = f"{fake.last_name()} {rng.choice(EMPLOYER_SUFFIXES)}"
        if company not in employers:
            employers.append(company)
    jobs = []
    for position, (start, finish) in enumerate(spans):
        techs = assigned[position]
        extra = [t for t in technologies if t not in techs]
        techs += rng.sample(extra, k=min(len(extra), rng.randint(0, 2)))
        role = profile.roles[min(position, len(profile.roles) - 1)] if position else \
            rng.choice(profile.roles)
        jobs.append(Experience(
            employer=employers[position], role=role,
            city=city if position == 0 or rng.random() < 0.6 else rng.choice(catalog.CITIES)[0],
            start=_ym(start), end=None if finish is None else _ym(finish),
            technologies=sorted(techs, key=str.lower),
        ))
    return jobs


def _education(rng: random.Random, first_job_start: str) -> list[Education]:
    end = int(first_job_start[:4]) - rng.randint(0, 1)
    schools = rng.sample(catalog.UNIVERSITIES, k=1 if rng.random() < 0.6 else 2)
    degrees = sorted(rng.sample(catalog.DEGREES, k=len(schools)), key=lambda d: d[0] != "B")
    found: list[Education] = []
    for school, degree in zip(reversed(schools), reversed(degrees), strict=True):
        years = 3 if degree.startswith("B") else 2
        found.append(Education(institution=school[0], city=school[1], country=school[2],
                               degree=degree, start=end - years, end=end))
        end -= years
    return found


def _languages(rng: random.Random, native: str) -> list[Language]:
    spoken = [Language(name=native, level="Native")]
    if native != "English":
        spoken.append(Language(name="English", level=rng.choice(("Fluent", "Professional"))))
    others = [lang for lang in catalog.LANGUAGES if lang not in {s.name for s in spoken}]
    for lang in rng.sample(others, k=rng.choice((0, 0, 1, 1, 2))):
        spoken.append(Language(name=lang, level=rng.choice(catalog.LEVELS[1:])))
    return spoken


def seeded_cv(seed: int, index: int) -> tuple[CV, Facts]:
    """CV number `index` of `seed`, without prose, and the facts it states."""
    rng = random.Random(f"ragline-cv:{seed}:{index}")
    profile = rng.choice(catalog.PROFILES)
    city, country, locale, native = rng.choice(catalog.CITIES)
    fake = _faker(locale)
    fake.seed_instance(rng.getrandbits(64))
    name = f"{fake.first_name()} {fake.last_name()}"
    slug = slugify(name)
    technologies = sorted(rng.sample(profile.technologies, k=rng.randint(4, 7)), key=str.lower)
    jobs = _jobs(rng, fake, profile, technologies, city)
    education = _education(rng, jobs[-1].start)
    certifications = rng.sample(profile.certifications,
                                k=min(len(profile.certifications), rng.randint(0, 2)))
    cv = CV(
        name=name, title=profile.title, location=f"{city}, {country}",
        contact=Contact(email=f"{slug.replace('-', '.')}@example.com",
                        phone=fake.phone_number(),
                        website=f"https://{slug}.example.dev" if rng.random() < 0.4 else None),
        experience=jobs, education=education,
        skills=[*technologies, *rng.sample(PRACTICES, k=2)],
        languages=_languages(rng, native), certifications=certifications,
    )
    facts = Facts(
        index=index, seed=seed, slug=slug, layout=LAYOUTS[index % len(LAYOUTS)], name=name,
        title=profile.title, city=city, country=country, technologies=technologies,
        languages=[lang.name for lang in cv.languages],
        employers=[job.employer for job in jobs],
        institutions=[e.institution for e in education],
        study_cities=sorted({e.city for e in education}),
        certifications=certifications,
    )
    return cv, facts
