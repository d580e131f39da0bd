"""oai_dc records (unqualified Dublin Core) of experiences and documents, built with lxml."""

from __future__ import annotations

from lxml import etree

from index.records import DocumentRecord
from ingest.knowledge import Experience, Vocabulary

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"


def page_url(base_url: str, kind: str, doc_id: str) -> str:
    """The address of an item's page on the web interface."""
    return f"{base_url.rstrip('/')}/#/{kind}/{doc_id}"


def _dc(parent: etree._Element, name: str, text: str, lang: str | None = None) -> None:
    element = etree.SubElement(parent, f"{{{DC}}}{name}")
    element.text = text
    if lang is not None:
        element.set(XML_LANG, lang)


def _root(parent: etree._Element) -> etree._Element:
    root = etree.SubElement(parent, f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {OAI_DC_SCHEMA}")
    return root


def experience_dc(parent: etree._Element, exp: Experience, vocabulary: Vocabulary, base_url: str) -> None:
    """An experience as oai_dc under `parent`: title, author, technologies as subjects, summary, organisation,
    year, type, language, region, lifecycle stage and its page's address."""
    root = _root(parent)
    lang = exp.language
    _dc(root, "title", exp.title, lang)
    _dc(root, "creator", exp.author)
    for tech_id in exp.technologies:
        tech = vocabulary.technologies.get(tech_id)
        _dc(root, "subject", getattr(tech.labels, lang) if tech else tech_id, lang)
    _dc(root, "description", exp.summary, lang)
    _dc(root, "publisher", exp.organisation, lang)
    _dc(root, "date", str(exp.year))
    _dc(root, "type", "Text")
    _dc(root, "type", "best-practice experience")
    _dc(root, "language", lang)
    region = vocabulary.regions.get(exp.region)
    _dc(root, "coverage", getattr(region.labels, lang) if region else exp.region, lang if region else None)
    _dc(root, "description", f"lifecycle stage: {exp.stage}")
    _dc(root, "identifier", page_url(base_url, "experience", exp.id))


def document_dc(parent: etree._Element, doc: DocumentRecord, vocabulary: Vocabulary, base_url: str) -> None:
    """A document as oai_dc: title, languages, suggested technologies as subjects, format, date and address."""
    root = _root(parent)
    _dc(root, "title", doc.title or doc.doc_id)
    for tech_id in doc.facets.get("technology", []):
        tech = vocabulary.technologies.get(tech_id)
        _dc(root, "subject", tech.labels.en if tech else tech_id, "en" if tech else None)
    _dc(root, "type", "Text")
    _dc(root, "format", doc.fmt)
    for lang in doc.languages:
        _dc(root, "language", lang)
    _dc(root, "identifier", page_url(base_url, "document", doc.doc_id))
