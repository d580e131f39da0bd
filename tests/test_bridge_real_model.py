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


# phrasings written for these tests (not in corpus/eval): a method described, never named
DESCRIBED = {
    "дети смотрят видеоурок дома, а в классе делают опыты": ("flipped-classroom", "exp-kk-005"),
    "үйдө видео көрүшөт, класста химиялык тажрыйба жасашат": ("flipped-classroom", "exp-kk-005"),
}


@pytest.mark.parametrize("query", sorted(DESCRIBED))
def test_a_described_technology_brings_its_experience_in_another_language(bank_kb: KnowledgeBase,
                                                                         query: str) -> None:
    tech, other_language = DESCRIBED[query]
    assert not bank_kb.bridge.recognise(query)  # the query does not name the technology
    page = bank_kb.find(query, k=5, explain=True)
    ids = [item.document.doc_id for item in page.items]
    assert other_language in ids and f"tech:{tech}" in ids, ids
    expansions = [e for item in page.items for e in item.explanation["expansions"]]  # type: ignore[index]
    assert any(tech in e and ("described in" in e or "agreed on" in e) for e in expansions), expansions
    scores = [item.score for item in page.items]
    assert scores == sorted(scores, reverse=True)


def test_the_router_stays_silent_on_nonsense(bank_kb: KnowledgeBase) -> None:
    for query in ("рецепт борща", "ставки на хоккей сегодня"):
        assert bank_kb.router.route(bank_kb.embedder.embed_queries([query])[0]) == [], query
