"""Pydantic models of the knowledge base: technologies, classifications, regions, subjects and experiences."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LANGUAGES: tuple[str, ...] = ("kk", "ru", "ky")
CLASSIFICATION_KINDS: tuple[str, ...] = (
    "scale", "significance", "origin", "novelty", "experience_kind", "stage", "dissemination",
)  # fmt: skip
INNOVATION_KINDS: tuple[str, ...] = ("scale", "significance", "origin", "novelty")
EVIDENCE_KINDS: tuple[str, ...] = ("report", "seminar", "publication")  # what a lifecycle transition rests on

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Grade = Annotated[int, Field(ge=0, le=11, description="0 = preschool, 1-11 = school grade")]
Language = Literal["kk", "ru", "ky"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(_Model):
    """A name in the three working languages and in English."""

    kk: Text
    ru: Text
    ky: Text
    en: Text


class Descriptions(_Model):
    """A description in the three working languages."""

    kk: Text
    ru: Text
    ky: Text


class Aliases(_Model):
    """Other names a teacher may type, per language."""

    kk: list[Text] = []
    ru: list[Text] = []
    ky: list[Text] = []
    en: list[Text] = []


class TechnologyGroup(_Model):
    """One of the seven groups of modern teaching technologies."""

    id: Slug
    order: int = Field(ge=1)
    labels: Labels
    descriptions: Descriptions


class Technology(_Model):
    """A teaching technology, method or approach, placed in one group."""

    id: Slug
    group: Slug
    labels: Labels
    descriptions: Descriptions
    aliases: Aliases = Aliases()
    note: str | None = None
    sources: list[Text] = []  # where the synonyms among the aliases come from (corpus/README.md)


class ClassificationValue(_Model):
    """One value of a classification, e.g. scale = regional."""

    id: Slug
    labels: Labels
    descriptions: Descriptions | None = None


class Classification(_Model):
    """A named classification (scale, origin, lifecycle stage...) with its values."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$")]
    labels: Labels
    values: list[ClassificationValue] = Field(min_length=1)

    def ids(self) -> set[str]:
        """The ids of this classification's values."""
        return {value.id for value in self.values}


class Classifications(_Model):
    """All innovation classifications, experience kinds, lifecycle stages and dissemination forms."""

    classifications: list[Classification]

    def get(self, kind: str) -> Classification:
        """The classification with id `kind` (KeyError when there is none)."""
        return {classification.id: classification for classification in self.classifications}[kind]


class Region(_Model):
    """An oblast, region or city of significance in Kazakhstan (KZ) or Kyrgyzstan (KG)."""

    id: Slug
    country: Literal["KZ", "KG"]
    labels: Labels


class Subject(_Model):
    """A school subject or area of work (preschool, school management, methodical work)."""

    id: Slug
    labels: Labels


class Innovation(_Model):
    """How an experience's innovation is classified."""

    scale: Slug
    significance: Slug
    origin: Slug
    novelty: Slug


class StageTransition(_Model):
    """One recorded step of an experience's lifecycle: the stage reached, when, by whom and on what evidence."""

    stage: Slug
    previous: Slug | None = None  # the stage before the step; None when it is the first stage ever recorded
    date: dt.date
    by: Text  # the methodist who recorded it
    evidence_kind: Literal["report", "seminar", "publication"]
    evidence: Text
    document: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    reason: Text | None = None  # why a stage is skipped or left for an earlier one


class Experience(_Model):
    """A teacher's best-practice experience or a school innovation project."""

    id: Slug
    sample: bool = False
    language: Language
    title: Text
    summary: Text
    problem: Text
    goal: Text
    method: Text
    stages: list[Text] = Field(min_length=1)
    results: Text
    dissemination: list[Slug] = []
    author: Text
    organisation: Text
    region: Slug
    subject: Slug
    grades: list[Grade] = Field(min_length=1)
    technologies: list[Slug] = Field(min_length=1)
    innovation: Innovation
    experience_kind: Slug
    stage: Slug
    year: int = Field(ge=2015, le=2026)
    history: list[StageTransition] = []  # the lifecycle so far, oldest first; its last stage is `stage`
