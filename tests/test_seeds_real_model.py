"""The real seed documents through the whole pipeline with the real model: languages and cross-lingual retrieval."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.slow


def _doc_langs(kb: KnowledgeBase) -> dict[str, list[str]]:
    return {Path(d.source).name[:3]: d.languages for d in kb.documents()}


def test_every_seed_is_ingested_with_its_languages(seeds_kb: KnowledgeBase) -> None:
    langs = _doc_langs(seeds_kb)
    assert sorted(langs) == ["000", "001", "002", "003", "004"]
    assert langs["000"] == ["kk"] and langs["003"] == ["kk"] and langs["004"] == ["kk"]
    assert langs["001"][0] == "ky" and set(langs["001"]) <= {"ky", "ru", "en"}
    assert set(langs["002"]) == {"kk", "ru"}


def test_bilingual_guide_switches_language_once(seeds_kb: KnowledgeBase) -> None:
    guide = next(d for d in seeds_kb.documents() if Path(d.source).name.startswith("002"))
    sequence = [c.lang for c in seeds_kb.backend.document_chunks(guide.doc_id)]
    switches = sum(1 for a, b in zip(sequence, sequence[1:], strict=False) if a != b)
    assert sequence[0] == "kk" and sequence[-1] == "ru" and switches == 1


def test_chunks_fit_the_token_budget(seeds_kb: KnowledgeBase) -> None:
    budget = seeds_kb.settings.chunk_tokens
    for doc in seeds_kb.documents():
        for chunk in seeds_kb.backend.document_chunks(doc.doc_id):
            assert seeds_kb.embedder.count_tokens(chunk.text) <= budget


@pytest.mark.parametrize(
    ("query", "seed", "lang", "within"),
    [
        ("наставничество для молодых учителей и закон о статусе педагога", "004", "kk", 1),
        ("Болонский процесс, трёхуровневая система бакалавр магистр доктор", "003", "kk", 1),
        ("Lesson Study и Action Research в школах", "004", "kk", 1),
        ("источники инновационных идей: неожиданное событие, противоречия, демографический фактор", "001", "ky", 1),
        ("классификация инноваций по масштабу: республиканские, региональные", "001", "ky", 3),
    ],
)
def test_russian_queries_find_kazakh_and_kyrgyz_answers(seeds_kb: KnowledgeBase, query: str, seed: str,
                                                        lang: str, within: int) -> None:
    hits = seeds_kb.search(query, k=within)
    assert any(Path(h.document.source).name.startswith(seed) and h.chunk.lang == lang for h in hits), [
        (Path(h.document.source).name[:3], h.chunk.lang, round(h.score, 3)) for h in hits]


def test_kazakh_query_finds_kyrgyz_article(seeds_kb: KnowledgeBase) -> None:
    hits = seeds_kb.search("мұғалімнің инновациялық іс-әрекетке дайындығы", k=5, langs=["ky"])
    assert hits and all(h.chunk.lang == "ky" for h in hits)
    assert Path(hits[0].document.source).name.startswith("001")
