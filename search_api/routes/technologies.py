"""Technologies: the classification tree with labels in kk/ru/ky/en, and one technology with its experiences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

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
from search_api.titles import TitleLang, asked_language, pick_title, title_order

router = APIRouter(prefix="/technologies", tags=["technologies"])

TechId = Annotated[str, Path(min_length=1, max_length=64, description="technology id, e.g. project-method")]
LangParam = Annotated[TitleLang | None, Query(description="language of `title` (else Accept-Language; then ru, kk, "
                                                          "ky, en)")]
ORDER = title_order(None)


def _order(request: Request, response: Response, lang: str | None) -> tuple[str, ...]:
    """The title languages asked for; without `lang` the answer depends on Accept-Language (said in Vary, for
    caches)."""
    if lang:
        return title_order(lang)
    response.headers["Vary"] = "Accept-Language"
    return title_order(asked_language(request.headers.get("accept-language")))


def technology_out(tech: Any, order: tuple[str, ...] = ORDER) -> TechnologyOut:
    """A vocabulary technology as returned by the API, `title` in the first language of `order`."""
    titles = tech.labels.model_dump()
    return TechnologyOut(id=tech.id, group=tech.group, title=pick_title(titles, order) or tech.id, titles=titles,
                         labels=Labels(**titles), descriptions=tech.descriptions.model_dump(),
                         aliases=tech.aliases.model_dump())


def group_out(group: Any, technologies: list[Any], order: tuple[str, ...] = ORDER) -> GroupOut:
    """A vocabulary group with the given technologies."""
    titles = group.labels.model_dump()
    return GroupOut(id=group.id, order=group.order, title=pick_title(titles, order) or group.id, titles=titles,
                    labels=Labels(**titles), descriptions=group.descriptions.model_dump(),
                    technologies=[technology_out(t, order) for t in technologies])


@router.get("", response_model=TechnologyTree)
def technology_tree(kb: KbDep, request: Request, response: Response, lang: LangParam = None) -> TechnologyTree:
    """The seven groups of teaching technologies, in order, each with its technologies."""
    vocabulary = kb.vocabulary
    order = _order(request, response, lang)
    return TechnologyTree(groups=[group_out(g, vocabulary.technologies_in(g.id), order)
                                  for g in vocabulary.groups.values()])


@router.get("/{tech_id}", response_model=TechnologyDetail,
            responses={404: {"model": ErrorResponse, "description": "no such technology"}})
def technology(kb: KbDep, request: Request, response: Response, tech_id: TechId,
               lang: LangParam = None) -> TechnologyDetail:
    """One technology, its group and the experiences tagged with it."""
    vocabulary = kb.vocabulary
    tech = vocabulary.technologies.get(tech_id)
    if tech is None:
        raise ApiError(404, "technology_not_found", id=tech_id)
    group = vocabulary.group_of(tech_id)
    experiences: list[Any] = kb.bank.for_technology(tech_id)
    order = _order(request, response, lang)
    return TechnologyDetail(technology=technology_out(tech, order), group=group_out(group, [], order),
                            experiences=[summarise(e) for e in experiences])
