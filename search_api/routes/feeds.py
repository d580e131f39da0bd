"""Atom feeds of new and updated experiences, overall or for a technology, region or language, so a school can
follow what is new in its subject: /feeds/experiences.atom?tech=&region=&lang= (docs/harvesting.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from lxml import etree

from index.records import DocumentRecord, SearchFilters
from ingest.knowledge import LANGUAGES, Experience, Vocabulary
from pedkb.errors import ValidationError
from search_api.deps import KbDep

router = APIRouter(prefix="/feeds", tags=["harvesting"], include_in_schema=False)  # docs/harvesting.md
ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MEDIA = "application/atom+xml; charset=utf-8"
MAX_ENTRIES = 200


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _el(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}", **attrs)
    element.text = text
    return element


def _checked(vocabulary: Vocabulary, tech: str | None, region: str | None, lang: str | None) -> SearchFilters:
    if tech is not None and tech not in vocabulary.technologies:
        raise ValidationError("tech", f"unknown technology {tech!r}")
    if region is not None and region not in vocabulary.regions:
        raise ValidationError("region", f"unknown region {region!r}")
    if lang is not None and lang not in LANGUAGES:
        raise ValidationError("lang", f"must be one of {', '.join(LANGUAGES)}")
    return SearchFilters(kinds=("experience",), technologies=(tech,) if tech else None,
                         regions=(region,) if region else None, langs=(lang,) if lang else None)


def _title(vocabulary: Vocabulary, tech: str | None, region: str | None, lang: str | None) -> str:
    parts = [f"technology: {vocabulary.technologies[tech].labels.en}" if tech else "",
             f"region: {vocabulary.regions[region].labels.en}" if region else "", f"language: {lang}" if lang else ""]
    scope = "; ".join(p for p in parts if p)
    return "pedkb: new and updated experiences" + (f" ({scope})" if scope else "")


def _entry(feed: etree._Element, doc: DocumentRecord, vocabulary: Vocabulary, site: str) -> None:
    exp = Experience.model_validate(doc.meta["record"])
    page = f"{site}/#/experience/{exp.id}"
    entry = _el(feed, "entry")
    _el(entry, "id", page)
    _el(entry, "title", exp.title, type="text").set(XML_LANG, exp.language)
    _el(entry, "updated", _stamp(doc.updated))
    _el(entry, "published", _stamp(doc.created))
    _el(entry, "link", rel="alternate", type="text/html", href=page)
    _el(entry, "link", rel="alternate", type="application/ld+json", href=f"{site}/api/v1/experiences/{exp.id}")
    author = _el(entry, "author")
    _el(author, "name", exp.author)
    for tech_id in exp.technologies:
        tech = vocabulary.technologies.get(tech_id)
        _el(entry, "category", term=f"tech:{tech_id}", label=getattr(tech.labels, exp.language) if tech else tech_id)
    region = vocabulary.regions.get(exp.region)
    _el(entry, "category", term=f"region:{exp.region}",
        label=getattr(region.labels, exp.language) if region else exp.region)
    _el(entry, "category", term=f"stage:{exp.stage}", label=exp.stage)
    _el(entry, "summary", exp.summary, type="text").set(XML_LANG, exp.language)


@router.get("/experiences.atom", response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}, "description": "an Atom 1.0 feed"}})
def experiences_feed(
    kb: KbDep,
    request: Request,
    tech: Annotated[str | None, Query(max_length=100, description="a technology id")] = None,
    region: Annotated[str | None, Query(max_length=100, description="a region id")] = None,
    lang: Annotated[str | None, Query(max_length=2, description="kk, ru or ky")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 50,
) -> Response:
    """The most recently added or changed experiences, newest first, as Atom 1.0."""
    filters = _checked(kb.vocabulary, tech, region, lang)
    docs, _ = kb.backend.filter_documents(filters, 0, None)
    newest = sorted(docs, key=lambda d: (d.updated, d.doc_id), reverse=True)[:limit]
    site = str(request.base_url).rstrip("/")
    query = urlencode({k: v for k, v in (("tech", tech), ("region", region), ("lang", lang)) if v})
    self_url = f"{site}/feeds/experiences.atom" + (f"?{query}" if query else "")
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _el(feed, "id", self_url)
    _el(feed, "title", _title(kb.vocabulary, tech, region, lang), type="text")
    _el(feed, "updated", _stamp(newest[0].updated if newest else 0.0))
    _el(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _el(feed, "link", rel="alternate", type="text/html", href=f"{site}/")
    _el(_el(feed, "author"), "name", "pedkb")
    _el(feed, "generator", "pedkb")
    for doc in newest:
        _entry(feed, doc, kb.vocabulary, site)
    body = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Response(body, media_type=MEDIA)
