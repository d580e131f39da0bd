"""Free-text analysis: items similar to a text, and the technologies a text describes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from search_api.deps import KbDep, SettingsDep
from search_api.examples import CLASSIFY_BODY, SIMILAR_BODY
from search_api.query import check_page, check_text
from search_api.schemas import ErrorResponse, SimilarItem, SimilarQuery, TechnologySuggestion, TextQuery

router = APIRouter(prefix="/api/v1", tags=["analysis"],
                   responses={422: {"model": ErrorResponse, "description": "a field is wrong"}})


@router.post("/similar", response_model=list[SimilarItem])
def similar(
    kb: KbDep, settings: SettingsDep, body: Annotated[SimilarQuery, Body(openapi_examples=SIMILAR_BODY)]
) -> list[SimilarItem]:
    """Experiences and documents close to a free text (e.g. a draft description of one's own practice)."""
    text = check_text(body.text, settings, field="text")
    check_page(body.k, 0, settings)
    items = kb.similar(text=text, k=body.k, kinds=tuple(dict.fromkeys(body.kinds)))
    return [SimilarItem(**item.to_dict()) for item in items]


@router.post("/classify", response_model=list[TechnologySuggestion])
def classify(
    kb: KbDep, settings: SettingsDep, body: Annotated[TextQuery, Body(openapi_examples=CLASSIFY_BODY)]
) -> list[TechnologySuggestion]:
    """The teaching technologies a text most likely describes, best first, with labels in kk/ru/ky/en."""
    text = check_text(body.text, settings, field="text")
    check_page(body.k, 0, settings)
    return [TechnologySuggestion(**s.to_dict()) for s in kb.classify(text, k=body.k)]
