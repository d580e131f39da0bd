"""Technologies as a bridge between languages (index/bridge.py): recognition and the lift, hashing embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.bridge import TechnologyBridge, lift
from index.knowledge_base import KnowledgeBase
from index.ranking import Ranked
from index.records import SearchFilters
from ingest.knowledge import load_vocabulary
from pedkb.settings import Settings
from tests.conftest import REPO, CountingEmbedder


@pytest.fixture(scope="module")
def bridge() -> TechnologyBridge:
    return TechnologyBridge(load_vocabulary(REPO / "corpus"))


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    settings = Settings(data=tmp_path_factory.mktemp("bridge") / "data", model="hashing:256", chunk_tokens=64,
                        chunk_overlap=8)
    with KnowledgeBase(settings, embedder=CountingEmbedder(256)) as base:
        base.bank.load_corpus(REPO / "corpus")
        yield base


@pytest.mark.parametrize(
    ("query", "tech", "how"),
    [
        ("кейс-стади", "case-method", "exact"),
        ("case study", "case-method", "exact"),
        ("кейс әдісі", "case-method", "exact"),
        ("дебаты", "debates", "exact"),
        ("дебаттар өткізу", "debates", "exact"),
        ("технологии дебатов на уроках истории", "debates", "inflected"),
        ("дебаттарды ұйымдастыру", "debates", "inflected"),  # Kazakh accusative
        ("перевернутый клас", "flipped-classroom", "fuzzy"),
        ("төңкерілген сыныпта", "flipped-classroom", "inflected"),  # Kazakh locative
        ("оодарылган класста", "flipped-classroom", "inflected"),  # Kyrgyz locative
        ("flipped classroom", "flipped-classroom", "exact"),
        ("мозговой штурм", "brainstorming", "exact"),
        ("работа в парах", "group-pair-work", "exact"),
        ("оқушылардың сыни ойлауын дамыту", "critical-thinking", "inflected"),
        ("сын тұрғысынан ойлауды дамытудың жолдары", "critical-thinking", "inflected"),
        ("СОР по математике", "criteria-based-assessment", "exact"),
    ],
)
def test_technologies_are_recognised_in_any_language(bridge: TechnologyBridge, query: str, tech: str,
                                                     how: str) -> None:
    matches = bridge.recognise(query)
    assert matches, query
    assert (matches[0].technology_id, matches[0].how) == (tech, how)


@pytest.mark.parametrize(
    "query",
    [
        "білім беру",  # "education": words in many technologies' names recognise none of them
        "сто учеников",  # the acronym СТО only in capitals
        "учитель математики",
        "мугалимдин тажрыйбасы",
        "zzqxv qwpp",
        "клас",  # not the kk alias кластер, whose "stem" клас is an accident of the suffix stripper
    ],
)
def test_plain_queries_name_no_technology(bridge: TechnologyBridge, query: str) -> None:
    assert bridge.recognise(query) == []


def test_a_name_with_one_word_missing_is_a_description(bridge: TechnologyBridge) -> None:
    matches = bridge.recognise("как развивать критическое мышление учащихся на уроке")
    assert matches[0].technology_id == "critical-thinking"
    assert {m.how for m in bridge.recognise("анализ конкретных ситуаций")} >= {"described"}


def _candidates(bank: KnowledgeBase, query: str) -> list[Ranked]:
    chunks = [c for batch in bank.backend.iter_chunks() for c in batch]
    unrelated = [c for c in chunks if c.doc_id in ("tech:montessori", "tech:waldorf", "tech:triz")]
    return [Ranked(c, 0.9 - 0.01 * i) for i, c in enumerate(unrelated)]


def test_lift_puts_the_card_and_tagged_experiences_first_with_monotone_scores(bank: KnowledgeBase) -> None:
    ranked = _candidates(bank, "дебаты")
    matches = bank.bridge.recognise("дебаты")
    lifted, record = lift(ranked, matches, bank.backend, None, "ru")
    assert lifted[0].chunk.doc_id == "tech:debates" and lifted[0].chunk.lang == "ru"
    assert record[0].reason == "technology card" and record[0].rank_before is None and record[0].rank_after == 1
    tagged = {r.doc_id for r in record if r.reason == "tagged experience"}
    docs = bank.backend.get_documents(sorted(tagged))
    assert {d.languages[0] for d in docs.values()} == {"kk", "ru", "ky"}
    assert all("debates" in d.facets["technology"] for d in docs.values())
    assert {r.chunk.doc_id for r in lifted[: len(record)]} == {r.doc_id for r in record}
    scores = [r.score for r in lifted]
    assert scores == sorted(scores, reverse=True) and scores[0] == ranked[0].score
    assert {r.chunk_id for r in ranked} <= {r.chunk_id for r in lifted}  # nothing is lost


def test_lift_respects_the_filters(bank: KnowledgeBase) -> None:
    ranked = _candidates(bank, "дебаты")
    matches = bank.bridge.recognise("дебаты")
    lifted, record = lift(ranked, matches, bank.backend, SearchFilters(langs=("ky",)), "ru")
    assert record[0].doc_id == "tech:debates" and lifted[0].chunk.lang == "ky"
    assert {bank.backend.get_document(r.doc_id).languages[0] for r in record[1:]} == {"ky"}  # type: ignore[union-attr]
    _, record = lift(ranked, matches, bank.backend, SearchFilters(kinds=("technology",)), "ru")
    assert [r.reason for r in record] == ["technology card"]
    _, record = lift(ranked, matches, bank.backend, SearchFilters(technologies=("triz",)), "ru")
    assert record == []


def test_without_a_match_the_ranking_is_untouched(bank: KnowledgeBase) -> None:
    ranked = _candidates(bank, "x")
    assert lift(ranked, [], bank.backend) == (ranked, [])


def test_search_lifts_named_technologies_in_hybrid_mode(bank: KnowledgeBase, tmp_path: Path) -> None:
    for query, tech in (("кейс-стади", "case-method"), ("дебаты", "debates"), ("перевернутый клас",
                                                                              "flipped-classroom")):
        hits = bank.search(query, k=10)
        assert hits[0].document.doc_id == f"tech:{tech}", query
        tagged = {h.chunk.lang for h in hits if tech in h.document.facets.get("technology", [])
                  and h.document.kind == "experience"}
        assert len(tagged) >= 2, (query, tagged)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_a_mentioned_technology_is_lifted_below_the_first_results(bank: KnowledgeBase) -> None:
    query = "ЮНЕСКО болжамы бойынша болашақта қашықтан оқыту үлесі қанша болады"
    matches = bank.bridge.recognise(query)
    assert matches[0].technology_id == "distance-learning" and matches[0].share < 0.5
    assert bank.bridge.recognise("дебаты")[0].share == 1.0
    ranked = _candidates(bank, query)
    lifted, record = lift(ranked, matches, bank.backend, None, "kk")
    assert [r.chunk_id for r in lifted[:3]] == [r.chunk_id for r in ranked[:3]]  # the head stays in place
    assert lifted[3].chunk.doc_id == "tech:distance-learning" and record[0].rank_after == 4
    scores = [r.score for r in lifted]
    assert scores == sorted(scores, reverse=True)
