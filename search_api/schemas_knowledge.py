"""Response models of the vocabulary (technologies and their groups) and experience listings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from ingest.knowledge import Experience
from search_api.schemas import NoBooleanNumbers

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_ID = 200


class Labels(BaseModel):
    """A name in kk, ru, ky and en."""

    kk: str
    ru: str
    ky: str
    en: str


class TechnologyOut(BaseModel):
    """A teaching technology with its names, descriptions and other names."""

    id: str
    group: str
    title: str = Field(description="the name in the reader's language (`lang`, else Accept-Language; then ru, kk, ky, "
                                   "en)")
    titles: dict[str, str] = Field(description="language → name (kk, ru, ky, en)")
    labels: Labels
    descriptions: dict[str, str]
    aliases: dict[str, list[str]]


class GroupOut(BaseModel):
    """A group of technologies with the technologies in it."""

    id: str
    order: int
    title: str = Field(description="the name in the reader's language")
    titles: dict[str, str] = Field(description="language → name (kk, ru, ky, en)")
    labels: Labels
    descriptions: dict[str, str]
    technologies: list[TechnologyOut]


class TechnologyTree(BaseModel):
    """The classification of teaching technologies: seven groups, each with its technologies."""

    groups: list[GroupOut]


class ExperienceSummary(BaseModel):
    """An experience in a list: enough to show a line and link to it."""

    id: str
    language: str
    title: str
    summary: str
    region: str
    subject: str
    year: int
    experience_kind: str
    stage: str
    technologies: list[str]


class TechnologyDetail(BaseModel):
    """One technology, its group and the experiences that use it."""

    technology: TechnologyOut
    group: GroupOut
    experiences: list[ExperienceSummary]


class ExperiencePage(BaseModel):
    """A page of experiences matching the filters."""

    total: int = Field(description="experiences matching the filters")
    offset: int
    limit: int
    items: list[Experience]


class ExperienceOut(Experience):
    """One experience with the names of its technologies in the reader's language."""

    titles: dict[str, str] = Field(default_factory=dict, description="language → title (the experience's own)")
    technology_titles: dict[str, str] = Field(
        default_factory=dict, description="technology id → its name in the reader's language (`ui_lang`, else "
                                          "Accept-Language; then ru, kk, ky, en)")


def summarise(exp: Experience) -> ExperienceSummary:
    """The list view of an experience."""
    return ExperienceSummary(id=exp.id, language=exp.language, title=exp.title, summary=exp.summary,
                             region=exp.region, subject=exp.subject, year=exp.year,
                             experience_kind=exp.experience_kind, stage=exp.stage,
                             technologies=list(exp.technologies))


ExperienceId = Annotated[str, StringConstraints(pattern=SLUG, max_length=MAX_ID)]


class ExperienceIn(NoBooleanNumbers, Experience):
    """An experience as a client sends it: numbers must be numbers and flags flags (no 1 for true); without an
    `id` the server assigns a readable one from the language and title (`exp-kk-syni-oylau`, then `-2`, ...)."""

    id: ExperienceId | None = Field(default=None, description="leave out to get an id made from the title")  # type: ignore[assignment]
    sample: StrictBool = False


class ExperienceUpdate(ExperienceIn):
    """An experience's new content; `id` may be left out, the address names the experience."""
