"""Technologies: the classification tree with labels in kk/ru/ky/en, and one technology with its experiences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from search_api.deps import KbDep
from search_api.errors import ApiError
from search_api.schemas import ErrorResponse
from search_api.schemas_knowledge import (
    GroupOut,
    Labels,
    TechnologyDetail,
    TechnologyOut,
    TechnologyTree,
    summarise,
)

router = APIRouter(prefix="/technologies", tags=["technologies"])

TechId = Annotated[str, Path(min_length=1, max_length=64, description="technology id, e.g. project-method")]


def technology_out(tech: Any) -> TechnologyOut:
    """A vocabulary technology as returned by the API."""
    return TechnologyOut(id=tech.id, group=tech.group, labels=Labels(**tech.labels.model_dump()),
                         descriptions=tech.descriptions.model_dump(), aliases=tech.aliases.model_dump())


def group_out(group: Any, technologies: list[Any]) -> GroupOut:
    """A vocabulary group with the given technologies."""
    return GroupOut(id=group.id, order=group.order, labels=Labels(**group.labels.model_dump()),
                    descriptions=group.descriptions.model_dump(),
                    technologies=[technology_out(t) for t in technologies])


@router.get("", response_model=TechnologyTree)
def technology_tree(kb: KbDep) -> TechnologyTree:
    """The seven groups of teaching technologies, in order, each with its technologies."""
    vocabulary = kb.vocabulary
    return TechnologyTree(groups=[group_out(g, vocabulary.technologies_in(g.id))
                                  for g in vocabulary.groups.values()])


@router.get("/{tech_id}", response_model=TechnologyDetail,
            responses={404: {"model": ErrorResponse, "description": "no such technology"}})
def technology(kb: KbDep, tech_id: TechId) -> TechnologyDetail:
    """One technology, its group and the experiences tagged with it."""
    vocabulary = kb.vocabulary
    tech = vocabulary.technologies.get(tech_id)
    if tech is None:
        raise ApiError(404, "technology_not_found", id=tech_id)
    group = vocabulary.group_of(tech_id)
    experiences: list[Any] = kb.bank.for_technology(tech_id)
    return TechnologyDetail(technology=technology_out(tech), group=group_out(group, []),
                            experiences=[summarise(e) for e in experiences])
