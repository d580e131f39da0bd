"""Titles in the reader's language: the language asked for (a `lang` or `ui_lang` parameter, else Accept-Language),
then ru, kk, ky, en, the first one the data has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from ingest.knowledge import Vocabulary
from search_api.i18n import pick_language
from search_api.schemas import SearchResponse

FALLBACK = ("ru", "kk", "ky", "en")
TitleLang = Literal["kk", "ru", "ky", "en"]


def asked_language(accept_language: str | None) -> str | None:
    """The best of kk/ru/ky/en in an Accept-Language header, or None when it names none of them."""
    if not accept_language:
        return None
    best = pick_language(accept_language)
    return best if best != "en" or "en" in accept_language.lower() else None


def title_order(asked: str | None) -> tuple[str, ...]:
    """The languages to try, in order: the one asked for, then ru, kk, ky, en."""
    return tuple(dict.fromkeys([asked, *FALLBACK] if asked else FALLBACK))


def pick_title(titles: Mapping[str, str], order: tuple[str, ...], default: str | None = None) -> str | None:
    """The title in the first language of `order` that `titles` has (else `default`)."""
    return next((titles[lang] for lang in order if titles.get(lang)), default)


def reader_language(
    request: Request,
    ui_lang: Annotated[TitleLang | None, Query(description="language of `title` (else Accept-Language; then ru, kk, "
                                                          "ky, en)")] = None,
) -> tuple[str, ...]:
    """The title languages of a request, from `ui_lang` or Accept-Language."""
    return title_order(ui_lang or asked_language(request.headers.get("accept-language")))


ReaderLanguage = Annotated[tuple[str, ...], Depends(reader_language)]


def technology_titles(vocabulary: Vocabulary, tech_id: str) -> dict[str, str]:
    """A technology's names per language ({} for an unknown id)."""
    tech = vocabulary.technologies.get(tech_id)
    return dict(tech.labels.model_dump()) if tech is not None else {}


def localise_results(page: SearchResponse, vocabulary: Vocabulary, order: tuple[str, ...]) -> SearchResponse:
    """Give every result its `titles` (a technology: its four names; an experience: its title in its language; a
    file: none, its `title` is kept) and `title` in the reader's language where the data has it."""
    for result in page.results:
        if result.type == "technology":
            result.titles = technology_titles(vocabulary, result.doc_id.removeprefix("tech:"))
        elif result.type == "experience" and result.title:
            result.titles = {result.lang: result.title}
        result.title = pick_title(result.titles, order, result.title)
    return page
