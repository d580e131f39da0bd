"""The experience bank: teachers' best-practice records and the technology classification, kept in the index.

Experiences are stored as items of kind "experience" (doc_id = the record id, the whole record in the item's
metadata, its text chunked and embedded); technologies as items of kind "technology" (doc_id `tech:<id>`, one
chunk per language). Facets (region, subject, grade, year, technology, group, kind, stage) make them filterable.
Every change re-embeds or removes vectors in the same write, so the bank and the index never disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from index.items import ItemWriter
from index.kb.slug import candidates, experience_slug
from index.records import DocumentRecord, SearchFilters
from ingest.knowledge import (
    LANGUAGES,
    NEW_ID,
    Experience,
    Technology,
    Vocabulary,
    dump_experiences,
    experience_text,
    load_corpus_experiences,
    load_experiences,
    parse_experience,
    technology_text,
)
from pedkb.errors import ConflictError, NotFoundError, ValidationError
from pedkb.limits import MAX_LIST, SUGGESTED_TAGS

log = logging.getLogger(__name__)

EXPERIENCE = "experience"
TECHNOLOGY = "technology"


def technology_doc_id(tech_id: str) -> str:
    """The index id of a technology."""
    return f"tech:{tech_id}"


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class ExperienceBank:
    """Create, read, update, delete, import and export experiences; index the technology classification."""

    def __init__(self, writer: ItemWriter, vocabulary: Vocabulary) -> None:
        self.writer = writer
        self.backend = writer.backend
        self.vocabulary = vocabulary

    # --- reading ---------------------------------------------------------------------------------------------
    def get(self, exp_id: str) -> Experience:
        """One experience, or NotFoundError."""
        doc = self.backend.get_document(exp_id)
        if doc is None or doc.kind != EXPERIENCE:
            raise NotFoundError(f"no experience with id {exp_id!r}")
        return Experience.model_validate(doc.meta["record"])

    def suggested(self, exp_id: str) -> list[dict[str, object]]:
        """The technology tags suggested by the classifier for an experience (apart from its own)."""
        doc = self.backend.get_document(exp_id)
        if doc is None or doc.kind != EXPERIENCE:
            raise NotFoundError(f"no experience with id {exp_id!r}")
        return list(doc.meta.get("suggested_technologies", []))  # type: ignore[call-overload]

    def select(self, filters: SearchFilters | None = None, offset: int = 0, limit: int = 50) -> list[Experience]:
        """Experiences passing the filters, oldest first."""
        if not 0 <= limit <= MAX_LIST:
            raise ValidationError("limit", f"must be between 0 and {MAX_LIST}")
        if offset < 0:
            raise ValidationError("offset", "must not be negative")
        docs, _ = self.backend.filter_documents(self._only_experiences(filters), offset, limit)
        return [Experience.model_validate(d.meta["record"]) for d in docs]

    def count(self, filters: SearchFilters | None = None) -> int:
        """How many experiences pass the filters."""
        return self.backend.filter_documents(self._only_experiences(filters), 0, 0)[1]

    def for_technology(self, tech_id: str) -> list[Experience]:
        """Experiences tagged with a technology."""
        if tech_id not in self.vocabulary.technologies:
            raise NotFoundError(f"no technology with id {tech_id!r}")
        return self.select(SearchFilters(technologies=(tech_id,)), limit=MAX_LIST)

    @staticmethod
    def _only_experiences(filters: SearchFilters | None) -> SearchFilters:
        return replace(filters or SearchFilters(), kinds=(EXPERIENCE,))

    # --- writing ---------------------------------------------------------------------------------------------
    def create(self, record: dict[str, Any]) -> Experience:
        """Validate and add a new experience; an existing id is a ConflictError.

        A record without an id (absent, null or "") gets a readable one from its language and title
        (`index.kb.slug`), with `-2`, `-3`, ... when taken; which one is free is decided by the store's write,
        so two creations at once never get the same id.
        """
        assign = not record.get("id")
        exp = parse_experience({**record, "id": NEW_ID} if assign else record, self.vocabulary, "experience")
        if not assign:
            if self.backend.get_document(exp.id) is not None:  # early, before any embedding; `put` decides
                raise ConflictError(f"id: an item with id {exp.id!r} exists already")
            self.put(exp, must_exist=False)
            return exp
        for candidate in candidates(experience_slug(exp.language, exp.title)):
            if self.backend.get_document(candidate) is not None:
                continue
            named = exp.model_copy(update={"id": candidate})
            try:
                self.put(named, must_exist=False)
            except ConflictError:  # another writer stored this id between the look and the write
                log.debug("id %s taken meanwhile, trying the next", candidate)
                continue
            return named
        raise ConflictError(f"id: no free id left for the title {exp.title!r}")

    def update(self, exp_id: str, record: dict[str, Any]) -> Experience:
        """Replace an experience's fields (the id stays); re-embeds it. A record without a history keeps the
        stored one (the lifecycle changes by transitions, `kb/lifecycle.py`)."""
        if record.get("id", exp_id) != exp_id:
            raise ValidationError("id", f"the id cannot change ({exp_id!r} → {record.get('id')!r})")
        stored = self.get(exp_id)
        if not record.get("history") and stored.history:  # the lifecycle is kept; it changes by transitions only
            record = {**record, "history": [step.model_dump(mode="json") for step in stored.history]}
        exp = parse_experience({**record, "id": exp_id}, self.vocabulary, "experience")
        try:
            self.put(exp, must_exist=True)
        except NotFoundError as exc:  # deleted by another writer meanwhile
            raise NotFoundError(f"no experience with id {exp_id!r}") from exc
        return exp

    def delete(self, exp_id: str) -> None:
        """Delete an experience and its vectors (NotFoundError when it is gone, also when another writer deleted
        it meanwhile)."""
        self.get(exp_id)
        if not self.backend.delete_document(exp_id):
            raise NotFoundError(f"no experience with id {exp_id!r}")

    def put(self, exp: Experience, *, must_exist: bool | None = None, expect_sha256: str | None = None) -> str:
        """Store an experience (validated) unless it is unchanged: added | updated | unchanged; `must_exist` and
        `expect_sha256` as in `ItemWriter.store` (a creation or an update only, of one version, decided in the
        write)."""
        payload = exp.model_dump(mode="json")
        digest = _digest({"record": payload, "chunking": self.writer.signature()})
        existing = self.backend.get_document(exp.id)
        if existing is not None and existing.sha256 == digest and must_exist is not False:
            return "unchanged"
        text = experience_text(exp)
        vocab = self.vocabulary
        facets = {
            "technology": list(exp.technologies),
            "group": sorted({vocab.group_of(t).id for t in exp.technologies}),
            "region": [exp.region], "subject": [exp.subject], "grade": [str(g) for g in exp.grades],
            "experience_kind": [exp.experience_kind], "stage": [exp.stage], "year": [str(exp.year)],
        }  # fmt: skip
        record = DocumentRecord(
            doc_id=exp.id, source=f"experience:{exp.id}", title=exp.title, fmt="record", sha256=digest,
            size=len(text), kind=EXPERIENCE, languages=[exp.language], facets=facets, meta={"record": payload},
        )
        self.writer.store(record, self.writer.chunk_text(text, exp.language), suggest=SUGGESTED_TAGS,
                          must_exist=must_exist, expect_sha256=expect_sha256)
        return "added" if existing is None else "updated"

    def put_technology(self, tech: Technology) -> str:
        """Index one technology (a chunk per language): added | updated | unchanged."""
        doc_id = technology_doc_id(tech.id)
        payload = tech.model_dump(mode="json")
        digest = _digest({"technology": payload, "model": self.writer.space.embedder.name})
        existing = self.backend.get_document(doc_id)
        if existing is not None and existing.sha256 == digest:
            return "unchanged"
        texts = [technology_text(tech, lang) for lang in LANGUAGES]
        record = DocumentRecord(
            doc_id=doc_id, source=f"technology:{tech.id}", title=tech.labels.en, fmt="record", sha256=digest,
            size=sum(map(len, texts)), kind=TECHNOLOGY, languages=list(LANGUAGES),
            facets={"technology": [tech.id], "group": [tech.group]}, meta={"technology": payload},
        )
        chunks = [self.writer.whole_chunk(i, text, lang) for i, (text, lang) in enumerate(zip(texts, LANGUAGES,
                                                                                            strict=True))]
        self.writer.store(record, chunks)
        return "added" if existing is None else "updated"

    # --- bulk ------------------------------------------------------------------------------------------------
    def load_corpus(self, corpus_dir: Path) -> dict[str, dict[str, int]]:
        """Index the technologies and the experiences shipped in a corpus folder; returns counts per status."""
        vocab = self.vocabulary
        experiences = load_corpus_experiences(corpus_dir, vocab)
        with self.backend.writing():
            techs = self._count(self.put_technology(t) for t in vocab.technologies.values())
            exps = self._count(self.put(e) for e in experiences)
        return {"technologies": techs, "experiences": exps}

    def import_file(self, path: Path) -> dict[str, int]:
        """Import experiences from JSON Lines or CSV: all records are validated before any is stored."""
        experiences = load_experiences(path, self.vocabulary)
        with self.backend.writing():
            return self._count(self.put(e) for e in experiences)

    def export(self, path: Path) -> int:
        """Write every experience to JSON Lines or CSV (by suffix); returns how many."""
        records = self.select(limit=MAX_LIST)
        offset = len(records)
        while True:
            page = self.select(offset=offset, limit=MAX_LIST)
            if not page:
                break
            records.extend(page)
            offset += len(page)
        tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        dump_experiences(records, tmp)
        tmp.replace(path)
        return len(records)

    @staticmethod
    def _count(statuses: Iterable[str]) -> dict[str, int]:
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        for status in statuses:
            counts[status] += 1
        return counts
