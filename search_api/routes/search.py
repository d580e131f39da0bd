"""GET /api/v1/search: passages similar to a query, in any of the languages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from search_api.deps import KbDep
from search_api.schemas import SearchResponse, SearchResult

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search", response_model=SearchResponse)
async def search(
    kb: KbDep,
    q: Annotated[str, Query(min_length=1, max_length=4000, description="the query, in kk, ru or ky",
                            examples=["как организовать работу в парах", "жұптық жұмысты ұйымдастыру"])],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    lang: Annotated[Literal["kk", "ru", "ky", "en"] | None, Query(description="only passages in this language")] = None,
) -> SearchResponse:
    """Search passages; the embedding runs in a worker thread so the event loop stays free."""
    hits = await run_in_threadpool(kb.search, q, k=k, langs=[lang] if lang else None)
    return SearchResponse(query=q, results=[SearchResult(**h.to_dict()) for h in hits])  # type: ignore[arg-type]
