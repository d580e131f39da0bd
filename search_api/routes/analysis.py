"""Free-text analysis: items similar to a text, and the technologies a text describes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from pedkb.errors import ValidationError
from search_api.deps import RATE_LIMITED, AnalysisLimit, KbDep, SettingsDep
from search_api.examples import CLASSIFY_BODY, SIMILAR_BODY
from search_api.query import check_page, check_text, has_letters
from search_api.schemas import ClassifyQuery, ErrorResponse, SimilarItem, SimilarQuery, TechnologySuggestion

router = APIRouter(tags=["analysis"], dependencies=[AnalysisLimit],
                   responses={422: {"model": ErrorResponse, "description": "a field is wrong"}, **RATE_LIMITED})


@router.post("/similar", response_model=list[SimilarItem])
def similar(
    kb: KbDep, settings: SettingsDep, body: Annotated[SimilarQuery, Body(openapi_examples=SIMILAR_BODY)]
) -> list[SimilarItem]:
    """Experiences and documents close to a free text (e.g. a draft description of one's own practice)."""
    text = check_text(body.text, settings.max_text_chars, field="text")
    check_page(body.k, 0, settings)
    if not has_letters(text):
        return []
    try:
        items = kb.similar(text=text, k=body.k, kinds=tuple(dict.fromkeys(body.kinds)))
    except ValidationError as exc:
        if exc.field != "text":
            raise
        return []  # nothing in the text to compare (no words after chunking)
    return [SimilarItem.of(item) for item in items]


@router.post("/classify", response_model=list[TechnologySuggestion])
def classify(
    kb: KbDep, settings: SettingsDep, body: Annotated[ClassifyQuery, Body(openapi_examples=CLASSIFY_BODY)]
) -> list[TechnologySuggestion]:
    """The teaching technologies a text most likely describes, best first, with labels in kk/ru/ky/en."""
    text = check_text(body.text, settings.max_text_chars, field="text")
    if not has_letters(text):
        return []
    try:
        suggestions = kb.classify(text, k=body.k)
    except ValidationError as exc:
        if exc.field != "text":
            raise
        return []
    return [TechnologySuggestion.model_validate(s.to_dict()) for s in suggestions]
