"""Searches into the search log: what a search answer records (docs/analytics.md), never the address or the key."""

from __future__ import annotations

from index.searchlog import SearchLog
from search_api.query import has_words
from search_api.schemas import Filters, SearchQuery, SearchResponse

LOGGED_FILTERS = {*Filters.model_fields, "type"}


def record_search(search_log: SearchLog, query: SearchQuery, response: SearchResponse) -> SearchResponse:
    """Log the first page of a search and give the answer its `search_id` (for the open beacon); later pages
    and queries without a word are not new searches and are not logged."""
    if query.offset or not has_words(response.query):
        return response
    n_items = response.total if response.total is not None else len(response.results)
    response.search_id = search_log.record(
        response.query, mode=query.mode, filters=query.model_dump(include=LOGGED_FILTERS, exclude_defaults=True),
        n_items=n_items, top_score=response.results[0].score if response.results else None,
        no_close_match=response.no_close_match or not response.results)
    return response
