"""The search log over HTTP: the open beacon of a search answer, and the gap report for methodists (behind a key)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from index.gaps import report_for
from search_api.deps import GuardedRoute, KbDep, SearchLimit, SearchLogDep, WriterDep
from search_api.schemas import ErrorResponse, Lang

router = APIRouter(tags=["gaps"], route_class=GuardedRoute)

SearchId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the `search_id` of a search answer")]
KEY_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorResponse, "description": "no API key"},
    403: {"model": ErrorResponse, "description": "the API key is wrong"},
}


class OpenedItem(BaseModel):
    """The item a user opened from a search answer."""

    item_id: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:-]+$",
                         description="the `doc_id` of the result that was opened")


@router.post("/search-log/{search_id}/open", status_code=204, response_class=Response, dependencies=[SearchLimit],
             responses={422: {"model": ErrorResponse, "description": "the search id or item id is malformed"}})
def opened(search_id: SearchId, item: Annotated[OpenedItem, Body()], search_log: SearchLogDep) -> Response:
    """Record that the user opened a result of the answer `search_id` (the first open counts; no key needed,
    nothing about the client is kept)."""
    search_log.opened(search_id, item.item_id)
    return Response(status_code=204)


@router.get("/gaps", dependencies=[WriterDep], response_model=None, responses={
    **KEY_RESPONSES, 200: {"content": {"text/csv": {}}, "description": "the report as JSON, or CSV (format=csv)"}})
def gaps(
    kb: KbDep,
    search_log: SearchLogDep,
    since: Annotated[str | None, Query(max_length=32, description="from this date on (YYYY-MM-DD, UTC)")] = None,
    lang: Annotated[Lang | None, Query(description="only queries in this language")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json (default) or csv")] = "json",  # noqa: A002
) -> Response | dict[str, object]:
    """The most frequent searches with no close match or no opened result, grouped by meaning, with example
    queries, counts per language and region filter, the nearest technologies, and searches per day."""
    report = report_for(kb, search_log, since=since, lang=lang)
    if format == "csv":
        return Response(report.to_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="pedkb-gaps.csv"'})
    return report.to_dict()
