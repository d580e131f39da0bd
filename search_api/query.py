"""From request models to knowledge-base calls: configured limits, filters checked against the vocabulary."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from pedkb.settings import Settings
from search_api.errors import ApiError
from search_api.schemas import Filters

NOTHING = SearchFilters(doc_ids=())  # matches no item

# request filter -> (SearchFilters attribute, vocabulary part it must name)
_FILTERS = {
    "technology": ("technologies", "technologies"),
    "group": ("groups", "groups"),
    "region": ("regions", "regions"),
    "subject": ("subjects", "subjects"),
    "experience_kind": ("experience_kinds", "experience_kind"),
    "stage": ("stages", "stage"),
}


def clean_text(text: str) -> str:
    """Text safe to embed, store and echo: unpaired surrogates (from JSON escapes) become U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def shown_source(source: str, corpus: PurePath) -> str:
    """A document's source as the API shows it: a server path never leaves the server. Inside the corpus folder
    it becomes `corpus/<relative path>`, elsewhere only the file name; uploads and bank items stay as they are."""
    path = PurePath(source)
    if not path.is_absolute():
        return source
    try:
        return str(PurePath(corpus.name) / path.relative_to(corpus))
    except ValueError:
        return path.name


def check_text(text: str, limit: int, field: str = "q") -> str:
    """The text, cleaned, or ApiError when it is longer than `limit` characters (the schema refuses blank ones)."""
    if len(text) > limit:
        raise ApiError(422, "query_too_long", field=field, length=len(text), limit=limit)
    return clean_text(text)


def check_page(k: int, offset: int, settings: Settings, *, k_field: str = "k") -> None:
    """ApiError when k or offset pass the configured limits (the schema holds only the hard ceilings)."""
    if k > settings.max_k:
        raise ApiError(422, "too_large", field=k_field, limit=settings.max_k, value=k)
    if offset > settings.max_offset:
        raise ApiError(422, "too_large", field="offset", limit=settings.max_offset, value=offset)


def _known(kb: KnowledgeBase, part: str) -> set[str] | None:
    """The ids the vocabulary knows for one filter, or None when there is no vocabulary to check against."""
    vocabulary: Any = kb.vocabulary
    if not vocabulary.technologies:
        return None
    if part in ("experience_kind", "stage"):
        return set(vocabulary.classifications.get(part).ids())
    return set(getattr(vocabulary, part))


def has_words(text: str) -> bool:
    """True when a text has a letter or a digit to search for."""
    return re.search(r"\w", text) is not None


def has_letters(text: str) -> bool:
    """True when a text has a letter (a text of digits and signs has nothing to compare by meaning)."""
    return re.search(r"[^\W\d_]", text) is not None


def build_filters(kb: KnowledgeBase, filters: Filters, kinds: list[str] | None = None) -> SearchFilters | None:
    """SearchFilters from the request's filters; a value the vocabulary does not know is a 422 naming it.

    Filters nothing can pass (a year range that ends before it starts) give NOTHING: the answer is empty.
    """
    if filters.year_min is not None and filters.year_max is not None and filters.year_min > filters.year_max:
        return NOTHING
    values: dict[str, Any] = {}
    for name, (attr, part) in _FILTERS.items():
        chosen = getattr(filters, name)
        if not chosen:
            continue
        known = _known(kb, part)
        for i, value in enumerate(chosen):
            if known is not None and value not in known:
                raise ApiError(422, "unknown_value", field=f"{name}[{i}]" if len(chosen) > 1 else name, value=value)
        values[attr] = tuple(dict.fromkeys(chosen))
    if filters.lang:
        values["langs"] = tuple(dict.fromkeys(filters.lang))
    if filters.grade:
        values["grades"] = tuple(dict.fromkeys(filters.grade))
    if kinds:
        values["kinds"] = tuple(dict.fromkeys(kinds))
    if filters.year_min is not None:
        values["year_min"] = filters.year_min
    if filters.year_max is not None:
        values["year_max"] = filters.year_max
    if filters.ocr is not None:
        values["ocr"] = filters.ocr
    return SearchFilters(**values) if values else None
