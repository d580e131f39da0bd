"""Experiences: list with filters, get, create, update, delete, and the items similar to one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import Field

from ingest.knowledge import NEW_ID, Experience, experience_problems
from pedkb.errors import NotFoundError, Problem
from pedkb.limits import MAX_K, MAX_LIST
from search_api.deps import RATE_LIMITED, AnalysisLimit, GuardedRoute, KbDep, SettingsDep, WriterDep
from search_api.errors import ApiError, checks_body
from search_api.examples import EXPERIENCE_BODY
from search_api.linked_data import LD_JSON, linked_data_response, wants_linked_data
from search_api.query import NOTHING, build_filters, check_page, clean_text
from search_api.routes import API_PREFIX
from search_api.schemas import ErrorResponse, Filters, SimilarItem
from search_api.schemas_knowledge import MAX_ID, ExperienceIn, ExperienceOut, ExperiencePage, ExperienceUpdate
from search_api.titles import ReaderLanguage, pick_title, technology_titles

router = APIRouter(prefix="/experiences", tags=["experiences"], route_class=GuardedRoute,
                   responses={422: {"model": ErrorResponse, "description": "a parameter or field is wrong"}})

ExpId = Annotated[str, Path(min_length=1, max_length=MAX_ID, description="experience id, e.g. exp-ru-001")]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "the API key is wrong"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "no such experience"}}


class ExperienceQuery(Filters):
    """Filters and a page of the experience list."""

    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=50, ge=1, le=MAX_LIST)


def _clean(value: Any) -> Any:
    """A JSON value with every string made safe to store (unpaired surrogates replaced)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _record_problems(request: Request, body: dict[str, Any]) -> list[Problem]:
    """Every problem of a refused experience body, the way `pedkb exp add` checks it (the id may be left out)."""
    record = {**body, "id": body.get("id") or request.path_params.get("exp_id") or NEW_ID}
    return experience_problems(record, request.app.state.kb.vocabulary)


def _not_found(exp_id: str, exc: NotFoundError) -> ApiError:
    return ApiError(404, "experience_not_found", id=exp_id)


@router.get("", response_model=ExperiencePage)
def list_experiences(kb: KbDep, query: Annotated[ExperienceQuery, Query()]) -> ExperiencePage:
    """Experiences matching every given filter (several values of one filter: any of them)."""
    filters = build_filters(kb, query)
    if filters is NOTHING:
        return ExperiencePage(total=0, offset=query.offset, limit=query.limit, items=[])
    items = kb.bank.select(filters, offset=query.offset, limit=query.limit)
    return ExperiencePage(total=kb.bank.count(filters), offset=query.offset, limit=query.limit, items=items)


@router.get("/{exp_id}", response_model=ExperienceOut,
            responses={**NOT_FOUND, 200: {"content": {LD_JSON: {}}, "description": "the experience; as a schema.org "
                                          "LearningResource when `Accept: application/ld+json`"}})
def get_experience(kb: KbDep, exp_id: ExpId, order: ReaderLanguage, request: Request,
                   response: Response) -> ExperienceOut | Response:
    """One experience, with its technologies' names in the reader's language (`technology_titles`); JSON-LD on
    request (docs/harvesting.md)."""
    response.headers["Vary"] = "Accept, Accept-Language"
    try:
        if wants_linked_data(request):
            return linked_data_response(kb, exp_id, str(request.base_url))
        exp = kb.bank.get(exp_id)
    except NotFoundError as exc:
        raise _not_found(exp_id, exc) from exc
    names = {t: pick_title(technology_titles(kb.vocabulary, t), order) or t for t in exp.technologies}
    return ExperienceOut(**exp.model_dump(), titles={exp.language: exp.title}, technology_titles=names)


@router.post("", response_model=Experience, status_code=201, dependencies=[WriterDep],
             responses={**WRITE_ERRORS, 409: {"model": ErrorResponse, "description": "the id exists"}})
@checks_body(_record_problems)
def create_experience(
    kb: KbDep, response: Response, body: Annotated[ExperienceIn, Body(openapi_examples=EXPERIENCE_BODY)]
) -> Experience:
    """Add an experience; its ids (region, technologies, ...) must be in the vocabulary.

    Leave `id` out to get a readable one made from the language and title (`exp-kk-syni-oylau`, `-2` when taken).
    A refused record is answered with every problem at once (`problems`, each with its field).
    """
    created = kb.bank.create(_clean(body.model_dump(mode="json")))
    response.headers["Location"] = f"{API_PREFIX}{router.prefix}/{created.id}"
    return created


@router.put("/{exp_id}", response_model=Experience, dependencies=[WriterDep],
            responses={**WRITE_ERRORS, **NOT_FOUND, 409: {"model": ErrorResponse, "description": "id differs"}})
@checks_body(_record_problems)
def update_experience(
    kb: KbDep, exp_id: ExpId, body: Annotated[ExperienceUpdate, Body(openapi_examples=EXPERIENCE_BODY)]
) -> Experience:
    """Replace an experience's content; `id` in the body may be left out; another id than the address's is 409."""
    if body.id is not None and body.id != exp_id:
        raise ApiError(409, "id_mismatch", field="id", body=body.id, path=exp_id)
    record = _clean(body.model_dump(mode="json"))
    record["id"] = exp_id
    try:
        return kb.bank.update(exp_id, record)
    except NotFoundError as exc:
        raise _not_found(exp_id, exc) from exc


@router.delete("/{exp_id}", status_code=204, dependencies=[WriterDep], responses={**WRITE_ERRORS, **NOT_FOUND})
def delete_experience(kb: KbDep, exp_id: ExpId) -> Response:
    """Delete an experience and its vectors."""
    try:
        kb.bank.delete(exp_id)
    except NotFoundError as exc:
        raise _not_found(exp_id, exc) from exc
    return Response(status_code=204)


@router.get("/{exp_id}/similar", response_model=list[SimilarItem], dependencies=[AnalysisLimit],
            responses={**NOT_FOUND, **RATE_LIMITED})
def similar_to_experience(
    kb: KbDep,
    settings: SettingsDep,
    exp_id: ExpId,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    kind: Annotated[list[Literal["experience", "document"]], Query(max_length=2)] = ["experience", "document"],  # noqa: B006
) -> list[SimilarItem]:
    """Experiences and documents close to this experience, with the technologies they share and why."""
    check_page(k, 0, settings)
    try:
        items = kb.similar(exp_id=exp_id, k=k, kinds=tuple(dict.fromkeys(kind)))
    except NotFoundError as exc:
        raise _not_found(exp_id, exc) from exc
    return [SimilarItem.of(item) for item in items]
