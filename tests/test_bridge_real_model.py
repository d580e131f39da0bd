"""The technology bridge and spelling with the real model: a named technology lifts its card and tagged items."""

from __future__ import annotations

import pytest

from index.knowledge_base import KnowledgeBase

pytestmark = pytest.mark.slow

# query -> (technology, the experiences tagged with it in other languages than the query's)
NAMED = {
    "кейс-стади": ("case-method", {"exp-kk-012", "exp-ky-009"}),
    "дебаты": ("debates", {"exp-kk-008", "exp-ky-001"}),
    "перевернутый клас": ("flipped-classroom", {"exp-kk-005"}),  # no Kyrgyz sample is tagged with it
}


@pytest.mark.parametrize("query", sorted(NAMED))
def test_a_named_technology_comes_first_with_its_experiences_in_every_language(bank_kb: KnowledgeBase,
                                                                              query: str) -> None:
    tech, tagged = NAMED[query]
    hits = bank_kb.search(query, k=10)
    assert hits[0].document.doc_id == f"tech:{tech}", [h.document.doc_id for h in hits]
    assert tagged <= {h.document.doc_id for h in hits}, [h.document.doc_id for h in hits]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_dense_mode_stays_the_model_alone(bank_kb: KnowledgeBase) -> None:
    hybrid = [h.chunk.chunk_id for h in bank_kb.search("перевернутый клас", k=10)]
    dense = [h.chunk.chunk_id for h in bank_kb.search("перевернутый клас", k=10, mode="dense")]
    assert hybrid != dense


def test_did_you_mean_on_the_bank(bank_kb: KnowledgeBase) -> None:
    assert bank_kb.spelling_suggestion("перевернутый клас") == "перевернутый класс"
    assert bank_kb.spelling_suggestion("оқушылардың сыни ойлауын дамыту") is None
