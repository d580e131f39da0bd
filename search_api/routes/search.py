"""Search: passages similar to a query in any of the languages, filtered and paged (GET, or POST for long queries)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from index.knowledge_base import KnowledgeBase
from pedkb.settings import Settings
from search_api.deps import GuardedRoute, KbDep, SettingsDep
from search_api.examples import SEARCH_BODY
from search_api.query import NOTHING, build_filters, check_page, check_text, has_words, shown_source
from search_api.schemas import ErrorResponse, SearchQuery, SearchResponse, SearchResult
from search_api.snippets import make_snippet

router = APIRouter(tags=["search"], route_class=GuardedRoute,
                   responses={422: {"model": ErrorResponse, "description": "a parameter is wrong"}})


def run_search(kb: KnowledgeBase, settings: Settings, query: SearchQuery) -> SearchResponse:
    """Check the limits, search and shape the results with snippets."""
    text = check_text(query.q, settings.max_query_chars)
    check_page(query.k, query.offset, settings)
    filters = build_filters(kb, query, list(query.type))
    if filters is NOTHING or not has_words(text):
        return SearchResponse(query=text, mode=query.mode, k=query.k, offset=query.offset, results=[],
                              next_offset=None)
    hits = kb.search(text, k=query.k, offset=query.offset, filters=filters, mode=query.mode)
    results = []
    corpus = kb.settings.corpus.resolve()
    for hit in hits:
        snippet = make_snippet(hit.chunk.text, text)
        results.append(SearchResult.model_validate({
            "technologies": [], **hit.to_dict(), "source": shown_source(hit.document.source, corpus),
            "snippet": snippet.text, "highlights": snippet.highlights, "snippet_html": snippet.html(),
        }))  # fmt: skip
    following = query.offset + query.k
    more = len(results) == query.k and following <= settings.max_offset
    return SearchResponse(query=text, mode=query.mode, k=query.k, offset=query.offset, results=results,
                          next_offset=following if more else None)


@router.get("/search", response_model=SearchResponse)
def search(
    kb: KbDep,
    settings: SettingsDep,
    query: Annotated[SearchQuery, Query()],
) -> SearchResponse:
    """Search passages; repeat a filter to allow several values (`lang=kk&lang=ru`).

    Pages follow `next_offset` with the same parameters; reading needs no key.
    """
    return run_search(kb, settings, query)


@router.post("/search", response_model=SearchResponse)
def search_post(
    kb: KbDep,
    settings: SettingsDep,
    query: Annotated[SearchQuery, Body(openapi_examples=SEARCH_BODY)],
) -> SearchResponse:
    """The same search with a JSON body, for long queries and many filters."""
    return run_search(kb, settings, query)
