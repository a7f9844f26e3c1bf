"""The CV: a Pydantic model, and the prose part of it that a model may write."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
SUMMARY_MAX = 300  # characters; the layouts' page counts hold for prose within these bounds
BULLET_MAX = 120


def _month(value: str | None) -> str | None:
    if value is not None and not MONTH.match(value):
        raise ValueError("dates are YYYY-MM")
    return value


class Contact(BaseModel):
    email: str
    phone: str
    website: str | None = None


class Experience(BaseModel):
    employer: str
    role: str
    city: str
    start: str = Field(description="YYYY-MM")
    end: str | None = Field(default=None, description="YYYY-MM, or null for a current job")
    technologies: list[str]
    achievements: list[str] = Field(default_factory=list)

    _months = field_validator("start", "end")(_month)


class Education(BaseModel):
    institution: str
    city: str
    country: str
    degree: str
    start: int
    end: int


class Language(BaseModel):
    name: str
    level: str


class CV(BaseModel):
    name: str
    title: str
    location: str
    contact: Contact
    summary: str = ""
    experience: list[Experience]
    education: list[Education]
    skills: list[str]
    languages: list[Language]
    certifications: list[str] = Field(default_factory=list)


class JobProse(BaseModel):
    achievements: list[str] = Field(min_length=2, max_length=3)


class CVProse(BaseModel):
    """What the model writes: a summary and achievements for each job, in the CV's order."""

    summary: str = Field(min_length=40, max_length=700)
    jobs: list[JobProse]
