"""Search: passages similar to a query in any of the languages, filtered and paged (GET, or POST for long queries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from index.knowledge_base import KnowledgeBase
from index.records import SearchHit
from index.results import Passage
from ingest.language import detect_query_language
from pedkb.settings import Settings
from search_api.deps import GuardedRoute, KbDep, SearchLogDep, SettingsDep
from search_api.examples import SEARCH_BODY
from search_api.export import MEDIA_TYPES, content_disposition, export_body, export_rows
from search_api.query import NOTHING, build_filters, check_page, check_text, has_words, shown_source
from search_api.responses import model_response
from search_api.schemas import (
    ErrorResponse,
    MatchedPassage,
    SearchPageQuery,
    SearchQuery,
    SearchResponse,
    SearchResult,
)
from search_api.search_log import record_search
from search_api.snippets import make_snippet
from search_api.titles import asked_language, localise_results, title_order

router = APIRouter(tags=["search"], route_class=GuardedRoute,
                   responses={422: {"model": ErrorResponse, "description": "a parameter is wrong"}})


def run_search(kb: KnowledgeBase, settings: Settings, query: SearchQuery) -> SearchResponse:
    """Check the limits, search and shape the results with snippets: one per item, or passages."""
    text = check_text(query.q, settings.max_query_chars)
    check_page(query.k, query.offset, settings)
    filters = build_filters(kb, query, list(query.type))
    head = {"query": text, "mode": query.mode, "group_by": query.group_by, "k": query.k, "offset": query.offset}
    if filters is NOTHING or not has_words(text):
        return SearchResponse(**head, results=[], next_offset=None, total=0 if query.group_by == "item" else None)
    corpus = kb.settings.corpus.resolve()
    query_lang = detect_query_language(text)
    if query.group_by == "passage":
        hits = kb.search(text, k=query.k, offset=query.offset, filters=filters, mode=query.mode)
        results = [_result(hit, text, corpus, query_lang) for hit in hits]
        following = query.offset + query.k
        more = len(results) == query.k and following <= settings.max_offset
        return SearchResponse(**head, results=results, next_offset=following if more else None,
                              did_you_mean=kb.spelling_suggestion(text) if query.offset == 0 else None)
    page = kb.find(text, k=query.k, offset=query.offset, filters=filters, mode=query.mode, explain=query.explain,
                   min_score=query.min_score)
    results = []
    for item in page.items:
        result = _result(item.hit(), text, corpus, query_lang)
        result.matched_passages = len(item.group.passages) - 1
        if "passages" in query.expand:
            result.passages = [_passage(p, text, score, query_lang)
                               for p, score in zip(item.group.passages[1:], item.passage_scores[1:], strict=True)]
        result.explain = item.explanation
        results.append(result)
    following = query.offset + query.k
    more = following < page.total and following <= settings.max_offset
    suggestion = kb.spelling_suggestion(text) if query.offset == 0 else None
    return SearchResponse(**head, results=results, next_offset=following if more else None, total=page.total,
                          total_is_estimate=page.total_is_estimate, facets=page.facets,
                          no_close_match=page.no_close_match, close_match=page.close_match, min_score=page.floor,
                          did_you_mean=suggestion)


def _result(hit: SearchHit, text: str, corpus: Path, query_lang: str) -> SearchResult:
    """A result from a passage and its document, with the snippet around the query's words."""
    snippet = make_snippet(hit.chunk.text, text, lang=hit.chunk.lang, query_lang=query_lang)
    return SearchResult.model_validate({
        "technologies": [], **hit.to_dict(), "source": shown_source(hit.document.source, corpus),
        "snippet": snippet.text, "highlights": snippet.highlights, "snippet_html": snippet.html(),
    })  # fmt: skip


def _passage(passage: Passage, text: str, score: float, query_lang: str) -> MatchedPassage:
    """Another matching passage of an item, with its snippet."""
    snippet = make_snippet(passage.text, text, lang=passage.lang, query_lang=query_lang)
    return MatchedPassage(chunk_id=passage.chunk_id, lang=passage.lang, page=passage.chunk.page, score=round(score, 6),
                          snippet=snippet.text, highlights=snippet.highlights, snippet_html=snippet.html())


EXPORTS: dict[int | str, dict[str, object]] = {200: {"content": {
    "text/csv": {"schema": {"type": "string"}}, "application/x-research-info-systems": {"schema": {"type": "string"}}},
    "description": "the results; with format=csv or ris the page as a file"}}


@router.get("/search", response_model=SearchResponse, responses=EXPORTS)
def search(
    kb: KbDep,
    settings: SettingsDep,
    search_log: SearchLogDep,
    request: Request,
    query: Annotated[SearchPageQuery, Query()],
) -> Response:
    """Search passages; repeat a filter to allow several values (`lang=kk&lang=ru`).

    Pages follow `next_offset` with the same parameters; reading needs no key. `format=csv` or `format=ris` gives
    the same page (k, offset, filters) as a file to download.
    """
    page = localise_results(run_search(kb, settings, query), kb.vocabulary, _title_order(request, query))
    if query.format == "json":
        return model_response(record_search(search_log, query, page))
    rows = export_rows(page, kb.backend.get_document, str(request.base_url))
    return Response(export_body(query.format, rows), media_type=MEDIA_TYPES[query.format],
                    headers={"Content-Disposition": content_disposition(query.q, query.format)})


@router.post("/search", response_model=SearchResponse)
def search_post(
    kb: KbDep,
    settings: SettingsDep,
    search_log: SearchLogDep,
    request: Request,
    query: Annotated[SearchQuery, Body(openapi_examples=SEARCH_BODY)],
) -> Response:
    """The same search with a JSON body, for long queries and many filters."""
    page = localise_results(run_search(kb, settings, query), kb.vocabulary, _title_order(request, query))
    return model_response(record_search(search_log, query, page))


def _title_order(request: Request, query: SearchQuery) -> tuple[str, ...]:
    """The languages of the results' titles: `ui_lang`, else Accept-Language, then ru, kk, ky, en."""
    return title_order(query.ui_lang or asked_language(request.headers.get("accept-language")))
