"""Linked data of an experience: a schema.org `LearningResource` (with its LRMI properties) as JSON-LD, served by
`GET /api/v1/experiences/{id}` to clients that ask for `application/ld+json` and embedded in the experience's page.
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import Request, Response

from index.knowledge_base import KnowledgeBase
from index.records import DocumentRecord
from ingest.knowledge import Experience, Vocabulary
from pedkb.errors import NotFoundError

LD_JSON = "application/ld+json"
SCHEMA_ORG = "https://schema.org"


def wants_linked_data(request: Request) -> bool:
    """True when the Accept header prefers JSON-LD to plain JSON (listed, with a q at least as high)."""
    quality: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    ld = quality.get(LD_JSON, 0.0)
    return ld > 0 and ld >= quality.get("application/json", 0.0)


def _site(base_url: str) -> str:
    return base_url.rstrip("/")


def experience_ld(exp: Experience, doc: DocumentRecord, vocabulary: Vocabulary, base_url: str) -> dict[str, object]:
    """The experience as a schema.org LearningResource: `about` its technologies, `educationalLevel` its grades,
    `teaches` its goal, `inLanguage`, `dateModified`, and its lifecycle stage as `creativeWorkStatus`."""
    site, lang = _site(base_url), exp.language
    page = f"{site}/#/experience/{exp.id}"
    try:
        stage = {v.id: v for v in vocabulary.classifications.get("stage").values}.get(exp.stage)
    except KeyError:  # a corpus folder without classifications
        stage = None
    region = vocabulary.regions.get(exp.region)
    subject = vocabulary.subjects.get(exp.subject)

    def technology(tech_id: str) -> dict[str, object]:
        tech = vocabulary.technologies.get(tech_id)
        term: dict[str, object] = {"@type": "DefinedTerm", "@id": f"{site}/#/technology/{tech_id}",
                                   "termCode": tech_id, "inDefinedTermSet": f"{site}/#/tree"}
        if tech is not None:
            term["name"] = getattr(tech.labels, lang)
            term["alternateName"] = tech.labels.en
        return term

    return {
        "@context": SCHEMA_ORG,
        "@type": "LearningResource",
        "@id": page,
        "url": page,
        "identifier": exp.id,
        "name": exp.title,
        "description": exp.summary,
        "inLanguage": lang,
        "learningResourceType": "best-practice experience",
        "educationalLevel": [{"@type": "DefinedTerm", "termCode": str(g),
                              "name": "preschool" if g == 0 else f"grade {g}"} for g in exp.grades],
        "teaches": exp.goal,
        "about": [technology(t) for t in exp.technologies],
        "keywords": getattr(subject.labels, lang) if subject else exp.subject,
        "audience": {"@type": "EducationalAudience", "educationalRole": "teacher"},
        "author": {"@type": "Person", "name": exp.author,
                   "affiliation": {"@type": "Organization", "name": exp.organisation}},
        "spatialCoverage": {"@type": "Place", "name": getattr(region.labels, lang) if region else exp.region},
        "dateCreated": str(exp.year),
        "dateModified": dt.datetime.fromtimestamp(doc.updated, dt.UTC).isoformat(timespec="seconds"),
        "creativeWorkStatus": stage.labels.en if stage else exp.stage,
    }


def linked_data_response(kb: KnowledgeBase, exp_id: str, base_url: str) -> Response:
    """An experience's JSON-LD as an `application/ld+json` answer (NotFoundError when there is none)."""
    exp = kb.bank.get(exp_id)
    doc = kb.backend.get_document(exp_id)
    if doc is None:  # deleted between the two reads
        raise NotFoundError(f"no experience with id {exp_id!r}")
    body = json.dumps(experience_ld(exp, doc, kb.vocabulary, base_url), ensure_ascii=False)
    return Response(body, media_type=LD_JSON, headers={"Vary": "Accept"})
