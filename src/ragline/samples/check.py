"""Does a CV say what its seeded facts say? Technologies never used, dates out of order."""

from __future__ import annotations

import re
from functools import cache

from ragline.domain.schemas import Violation
from ragline.samples.catalog import ALL_TECHNOLOGIES
from ragline.samples.cv_schema import CV
from ragline.samples.facts import Facts
from ragline.samples.render import expected_pages

# Names that are also ordinary words are only technologies when capitalised as such.
CASE_SENSITIVE = {"Swift", "Helm", "Bash", "Dart", "Flutter", "Airflow", "Express.js", "Linux"}
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


@cache
def _pattern(technology: str) -> re.Pattern[str]:
    flags = 0 if technology in CASE_SENSITIVE else re.IGNORECASE
    return re.compile(rf"(?<![\w.-]){re.escape(technology)}(?![\w-])", flags)


def mentioned_technologies(text: str) -> set[str]:
    """The catalogue's technologies that `text` names."""
    return {t for t in ALL_TECHNOLOGIES if _pattern(t).search(text)}


def _violation(loc: list[str | int], msg: str, kind: str) -> Violation:
    return {"loc": loc, "msg": msg, "type": kind}


def prose_violations(cv: CV, summary: str, achievements: list[list[str]]) -> list[Violation]:
    """Prose that names a technology the person never used, or a year outside the dates of
    the job it describes."""
    used = sorted({t for job in cv.experience for t in job.technologies}, key=str.lower)
    allowed = f"mention only: {', '.join(used)}"
    texts: list[tuple[list[str | int], str]] = [(["summary"], summary)]
    for j, bullets in enumerate(achievements):
        texts += [(["jobs", j, "achievements", b], bullet) for b, bullet in enumerate(bullets)]
    found = []
    if summary and summary.rstrip()[-1] not in ".!)":
        found.append(_violation(["summary"], "stops mid-sentence: write two or three complete "
                                "sentences", "truncated"))
    for loc, text in texts:
        foreign = sorted(mentioned_technologies(text) - set(used))
        if foreign:
            found.append(_violation(loc, f"names {', '.join(foreign)}, which this person "
                                    f"never used; {allowed}", "fact_contradiction"))
    seen: set[str] = set()
    for j, bullets in enumerate(achievements):
        for b, bullet in enumerate(bullets):
            key = " ".join(bullet.lower().split())
            if key in seen:
                found.append(_violation(["jobs", j, "achievements", b], "repeats an earlier "
                                        "bullet: write what was achieved in this job",
                                        "repetition"))
            seen.add(key)
    employers = [job.employer for job in cv.experience]
    for j, bullets in enumerate(achievements[: len(employers)]):
        for b, bullet in enumerate(bullets):
            others = [e for e in employers if e != employers[j] and e in bullet]
            if others:
                found.append(_violation(["jobs", j, "achievements", b], f"names {others[0]}, "
                                        f"another job's employer: this job is at "
                                        f"{employers[j]}", "fact_contradiction"))
    for j, (job, bullets) in enumerate(zip(cv.experience, achievements, strict=False)):
        first = int(job.start[:4])
        last = int(job.end[:4]) if job.end else 2025
        for b, bullet in enumerate(bullets):
            wrong = [y for y in YEAR.findall(bullet) if not first <= int(y) <= last]
            if wrong:
                found.append(_violation(
                    ["jobs", j, "achievements", b],
                    f"year {wrong[0]} is outside this job's dates ({first}-{last})",
                    "date_contradiction"))
    return found


def check_cv(cv: CV, facts: Facts) -> list[Violation]:
    """Every contradiction between a finished CV and its facts (empty: the CV is consistent)."""
    found: list[Violation] = []
    if cv.name != facts.name:
        found.append(_violation(["name"], f"is {cv.name!r}, expected {facts.name!r}", "fact"))
    if [job.employer for job in cv.experience] != facts.employers:
        found.append(_violation(["experience"], "employers differ from the facts", "fact"))
    allowed = set(facts.technologies)
    for j, job in enumerate(cv.experience):
        extra = sorted(set(job.technologies) - allowed)
        if extra:
            found.append(_violation(["experience", j, "technologies"],
                                    f"{', '.join(extra)} never used", "fact"))
        if job.end is not None and job.end < job.start:
            found.append(_violation(["experience", j], "ends before it starts", "dates"))
        if j + 1 < len(cv.experience):
            previous = cv.experience[j + 1]
            if previous.end is None or previous.end > job.start:
                found.append(_violation(["experience", j], "overlaps or precedes the job listed "
                                        "after it (jobs are newest first)", "dates"))
    if not allowed <= set(cv.skills):
        found.append(_violation(["skills"], "misses technologies of the facts", "fact"))
    for e, education in enumerate(cv.education):
        if education.end <= education.start:
            found.append(_violation(["education", e], "ends before it starts", "dates"))
    if cv.experience and cv.education and int(cv.experience[-1].start[:4]) < max(
            e.start for e in cv.education):
        found.append(_violation(["education"], "starts after the first job", "dates"))
    found += prose_violations(cv, cv.summary, [job.achievements for job in cv.experience])
    return found


def page_violations(layout: str, jobs: int, pages: int) -> list[Violation]:
    """A PDF whose page count is not what its layout gives a CV of that many jobs."""
    expected = expected_pages(layout, jobs)
    if pages in expected:
        return []
    return [_violation(["pages"], f"{pages} pages; the {layout} layout gives a CV of {jobs} "
                       f"job{'s' if jobs > 1 else ''} {expected.start}-{expected.stop - 1}",
                       "layout")]
