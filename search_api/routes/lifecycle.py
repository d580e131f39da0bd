"""An experience's lifecycle: record a transition to a new stage (behind the API key) and read its history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from index.knowledge_base import TransitionRequest
from ingest.knowledge import Experience, StageTransition
from pedkb.errors import NotFoundError
from search_api.deps import GuardedRoute, KbDep, WriterDep
from search_api.errors import ApiError
from search_api.query import clean_text
from search_api.schemas import ErrorResponse
from search_api.schemas_knowledge import MAX_ID

router = APIRouter(prefix="/experiences", tags=["experiences"], route_class=GuardedRoute,
                   responses={404: {"model": ErrorResponse, "description": "no such experience"},
                              422: {"model": ErrorResponse, "description": "a field is wrong or the step is not "
                                                                           "allowed"}})

ExpId = Annotated[str, Path(min_length=1, max_length=MAX_ID, description="experience id, e.g. exp-ru-001")]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "the API key is wrong"},
    409: {"model": ErrorResponse, "description": "another writer changed the experience meanwhile; retry"},
}
Line = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class StageChange(BaseModel):
    """A transition to record: the new stage and its evidence."""

    model_config = ConfigDict(extra="forbid")

    stage: Annotated[str, Field(min_length=1, max_length=40, examples=["generalised"])]
    evidence_kind: Literal["report", "seminar", "publication"]
    evidence: Line
    by: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S", description="the methodist")]
    date: dt.date | None = Field(default=None, description="when it happened (default: today)")
    document: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="id of a document in the bank holding the evidence")
    reason: Line | None = Field(default=None, description="why a stage is skipped or the experience goes back")


@router.post("/{exp_id}/stage", response_model=Experience, dependencies=[WriterDep], responses=WRITE_ERRORS)
def change_stage(kb: KbDep, exp_id: ExpId, body: StageChange) -> Experience:
    """Move an experience to its next lifecycle stage (identified → studied → generalised → disseminated →
    implemented) with the evidence; a skipped stage or a step back needs a `reason`."""
    try:
        text = {k: clean_text(v) for k, v in body.model_dump().items() if isinstance(v, str)}
        return kb.record_transition(exp_id, TransitionRequest(**{**body.model_dump(), **text}))
    except NotFoundError as exc:
        raise ApiError(404, "experience_not_found", id=exp_id) from exc


@router.get("/{exp_id}/history", response_model=list[StageTransition])
def stage_history(kb: KbDep, exp_id: ExpId) -> list[StageTransition]:
    """The experience's recorded lifecycle transitions, oldest first."""
    try:
        return kb.stage_history(exp_id)
    except NotFoundError as exc:
        raise ApiError(404, "experience_not_found", id=exp_id) from exc
