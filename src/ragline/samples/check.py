"""Does a CV say what its seeded facts say? Technologies never used, dates out of order."""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache

from ragline.domain.schemas import Violation
from ragline.samples.catalog import ALL_TECHNOLOGIES
from ragline.samples.cv_schema import BULLET_MAX, CV
from ragline.samples.facts import Facts
from ragline.samples.render import expected_pages

# Names that are also ordinary words are only technologies when capitalised as such.
CASE_SENSITIVE = {"Swift", "Helm", "Bash", "Dart", "Flutter", "Airflow", "Express.js", "Linux"}
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
# A sentence the length bound cut off: its full stop after a dangling word, a hyphen or a space
# ("...a 25% increase in.", "...user-.", "...to win the .").
CUT_OFF = re.compile(r"(?:\s|-|\b(?:a|an|the|in|of|to|and|or|with|for|on|by|at|from|as|its|"
                     r"their|our|his|her|into|than|that|which)|\b\w)\.$", re.IGNORECASE)


@cache
def _pattern(technology: str) -> re.Pattern[str]:
    flags = 0 if technology in CASE_SENSITIVE else re.IGNORECASE
    return re.compile(rf"(?<![\w.-]){re.escape(technology)}(?![\w-])", flags)


def mentioned_technologies(text: str) -> set[str]:
    """The catalogue's technologies that `text` names."""
    return {t for t in ALL_TECHNOLOGIES if _pattern(t).search(text)}


def _violation(loc: list[str | int], msg: str, kind: str) -> Violation:
    return {"loc": loc, "msg": msg, "type": kind}


def _allowed(cv: CV) -> tuple[set[str], str]:
    used = sorted({t for job in cv.experience for t in job.technologies}, key=str.lower)
    return set(used), f"mention only: {', '.join(used)}"


def text_violations(cv: CV, loc: list[str | int], text: str,
                    job: int | None = None) -> list[Violation]:
    """What one piece of prose gets wrong on its own: a technology the person never used; for a
    bullet of job `job`, also another job's employer or a year outside the job's dates."""
    used, allowed = _allowed(cv)
    found = []
    foreign = sorted(mentioned_technologies(text) - used)
    if foreign:
        found.append(_violation(loc, f"names {', '.join(foreign)}, which this person never "
                                f"used; {allowed}", "fact_contradiction"))
    if job is None:
        return found
    employer = cv.experience[job].employer
    others = [e.employer for e in cv.experience if e.employer != employer and e.employer in text]
    if others:
        found.append(_violation(loc, f"names {others[0]}, another job's employer: this job is "
                                f"at {employer}", "fact_contradiction"))
    first = int(cv.experience[job].start[:4])
    end = cv.experience[job].end
    last = int(end[:4]) if end else 2025
    wrong = [y for y in YEAR.findall(text) if not first <= int(y) <= last]
    if wrong:
        found.append(_violation(loc, f"year {wrong[0]} is outside this job's dates "
                                f"({first}-{last})", "date_contradiction"))
    return found


def summary_violations(cv: CV, summary: str) -> list[Violation]:
    found = []
    if summary and (summary.rstrip()[-1] not in ".!)" or CUT_OFF.search(summary)):
        found.append(_violation(["summary"], "stops mid-sentence: write two or three complete "
                                "sentences", "truncated"))
    return found + text_violations(cv, ["summary"], summary)


def bullet_key(bullet: str) -> str:
    """What two bullets share when one repeats the other."""
    return " ".join(bullet.lower().split())


def job_violations(cv: CV, job: int, bullets: list[str],
                   elsewhere: Collection[str] = ()) -> list[Violation]:
    """What job `job`'s bullets get wrong, `elsewhere` being the keys of bullets already kept
    for other jobs (a bullet repeating one of those, or its sibling, is a repetition)."""
    found: list[Violation] = []
    seen = set(elsewhere)
    for b, bullet in enumerate(bullets):
        loc: list[str | int] = ["jobs", job, "achievements", b]
        if bullet_key(bullet) in seen:
            found.append(_violation(loc, "repeats an earlier bullet: write what was achieved "
                                    "in this job", "repetition"))
        seen.add(bullet_key(bullet))
        if len(bullet) > BULLET_MAX:  # grammar-constrained decoding never gets here
            found.append(_violation(loc, f"is {len(bullet)} characters: write one shorter "
                                    "sentence naming one or two technologies", "too_long"))
        elif CUT_OFF.search(bullet):
            found.append(_violation(loc, "stops mid-sentence: write one complete, shorter "
                                    "sentence", "truncated"))
        found += text_violations(cv, loc, bullet, job)
    return found


def prose_violations(cv: CV, summary: str, achievements: list[list[str]]) -> list[Violation]:
    """Prose that names a technology the person never used, another job's employer, a year
    outside the dates of the job it describes, or repeats a bullet."""
    found = summary_violations(cv, summary)
    seen: set[str] = set()
    for j, bullets in enumerate(achievements[: len(cv.experience)]):
        found += job_violations(cv, j, bullets, seen)
        seen |= {bullet_key(b) for b in bullets}
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
