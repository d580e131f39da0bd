"""Technologies as a bridge between languages (index/bridge.py): recognition and the lift, hashing embedder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from index.bridge import (
    HOW,
    MENTION_HEAD,
    STOP_WORDS,
    TechnologyBridge,
    TechnologyMatch,
    TechnologyRouter,
    _word_match,
    feedback,
    lift,
    merge,
)
from index.knowledge_base import KnowledgeBase
from index.lexical import normalise
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


# ---- described technologies: the embedding router, the question frame, scattered names ---------------------


def test_the_router_takes_only_a_clear_winner() -> None:
    ids = ["a", "b", "c"]
    prototypes = np.zeros((2, 3, 4), dtype=np.float32)  # two languages, three technologies, four dimensions
    prototypes[0, 0] = [1, 0, 0, 0]
    prototypes[1, 1] = [0, 1, 0, 0]  # b is close in its second language only: the best language counts
    prototypes[0, 2] = [0, 0.96, 0.28, 0]
    router = TechnologyRouter(ids, prototypes, gap=0.1)
    [match] = router.route(np.array([1, 0, 0, 0], dtype=np.float32))
    assert (match.technology_id, match.how, match.share) == ("a", "embedded", 0.0)
    assert router.route(np.array([0, 1, 0, 0], dtype=np.float32)) == []  # b 1.0, c 0.96: no clear winner
    assert router.route(np.array([0, 0, 0, 1], dtype=np.float32)) == []  # near nothing: all tied
    assert TechnologyRouter(["a"], prototypes[:, :1]).route(np.array([1, 0, 0, 0], dtype=np.float32)) == []


def test_named_technologies_come_before_routed_ones() -> None:
    named = [TechnologyMatch("debates", "дебаты", "ru", "exact")]
    routed = [TechnologyMatch("debates", "", "", "embedded", 0.0), TechnologyMatch("triz", "", "", "embedded", 0.0)]
    assert [(m.technology_id, m.how) for m in merge(named, routed)] == [("debates", "exact"), ("triz", "embedded")]


def test_a_described_technology_is_lifted_below_the_first_results(bank: KnowledgeBase) -> None:
    tech = "collective-learning"
    vector = bank.classifier.prototypes[1, bank.classifier.ids.index(tech)]  # its Russian prototype as the query
    assert [m.technology_id for m in bank.router.route(vector)] == [tech]
    ranked = _candidates(bank, "x")
    lifted, record = bank.lift_technologies("дети учат друг друга", ranked, None, "ru", vector)
    assert [r.chunk_id for r in lifted[:MENTION_HEAD]] == [r.chunk_id for r in ranked[:MENTION_HEAD]]
    assert lifted[MENTION_HEAD].chunk.doc_id == f"tech:{tech}"
    assert {r.how for r in record} == {"embedded"} and record[0].rank_after == MENTION_HEAD + 1
    without, _ = bank.lift_technologies("дети учат друг друга", ranked, None, "ru")  # no vector, no routing
    assert without == ranked


def test_a_how_to_frame_does_not_count_against_the_named_share(bridge: TechnologyBridge) -> None:
    for query in ("как организовать работу в парах на уроке", "сабакта жуптук ишти кантип уюштуруу керек"):
        [match] = bridge.recognise(query)
        assert (match.technology_id, match.share) == ("group-pair-work", 1.0), query
    # a query asking something else of a technology still only mentions it
    assert bridge.recognise("работа в парах и оценивание по критериям в 5 классе")[0].share < 0.5


def test_the_words_of_a_name_must_stand_together(bridge: TechnologyBridge) -> None:
    assert bridge.recognise("тескери класс")[0].technology_id == "flipped-classroom"
    scattered = bridge.recognise("2-класста кошуу менен кемитүүнү бирге, тескери маселелер аркылуу окутуу")
    assert "flipped-classroom" not in {m.technology_id for m in scattered}
    assert "math-through-problems" in {m.technology_id for m in scattered}


def test_the_lifted_experience_is_the_one_most_about_the_technology(bank: KnowledgeBase) -> None:
    tech = "group-pair-work"
    # experiences that list pair work last (3rd of their tags) lead the candidates: rank alone would lift them
    side = [c for batch in bank.backend.iter_chunks() for c in batch
            if c.doc_id in ("exp-kk-009", "exp-ru-008", "exp-ky-015")]
    ranked = [Ranked(c, 0.95 - 0.001 * i) for i, c in enumerate(side)] + _candidates(bank, "x")
    _, record = lift(ranked, bank.bridge.recognise("работа в парах"), bank.backend, None, "ru")
    lifted = {r.doc_id for r in record if r.reason == "tagged experience"}
    docs = bank.backend.list_documents("experience")
    for lang in ("kk", "ru", "ky"):
        tagged = [d for d in docs if d.languages[0] == lang and tech in d.facets.get("technology", [])]
        [chosen] = [d for d in tagged if d.doc_id in lifted]
        assert chosen.facets["technology"].index(tech) == min(d.facets["technology"].index(tech) for d in tagged)


def test_feedback_takes_the_technology_the_first_results_agree_on(bank: KnowledgeBase) -> None:
    chunks = {c.doc_id: c for batch in bank.backend.iter_chunks() for c in batch}

    def ranked(*doc_ids: str) -> list[Ranked]:
        return [Ranked(chunks[d], 0.9 - 0.01 * i) for i, d in enumerate(doc_ids)]

    # exp-ky-001 lists debates first, exp-ru-001 too: two of the first three items, a majority
    [match] = feedback(ranked("exp-ky-001", "tech:triz", "exp-ru-001", "exp-kk-007"), bank.backend)
    assert (match.technology_id, match.how) == ("debates", "feedback")
    assert feedback(ranked("exp-ky-001", "tech:triz", "tech:waldorf", "exp-ru-001"), bank.backend) == []  # 4th
    assert feedback(ranked("exp-ky-001", "tech:triz", "tech:waldorf"), bank.backend) == []  # no majority
    lifted, record = bank.lift_technologies("x", ranked("exp-ky-001", "tech:triz", "exp-ru-001", "exp-kk-007"),
                                            None, "ru")
    assert record and {r.how for r in record} == {"feedback"} and record[0].doc_id == "tech:debates"
    assert [r.chunk.doc_id for r in lifted[:4]] == ["exp-ky-001", "tech:triz", "exp-ru-001", "tech:debates"]


def _every_name_scanned(bridge: TechnologyBridge, query: str) -> list[tuple[str, str, str]]:
    """The technologies a query names by comparing every word of every name with every query word (what the word
    index in `recognise` narrows down), as (technology, name, how) of each technology's best name."""
    query_words = [w for w in normalise(query).split() if w not in STOP_WORDS]
    best: dict[str, tuple[tuple[int, int], tuple[str, str, str]]] = {}
    for name in bridge.names:
        if name.acronym:
            continue
        met = {(word, name.lang): [(h, i) for i, q in enumerate(query_words)
                                   if (h := _word_match(word, name.lang, q)) is not None] for word in name.words}
        found = TechnologyBridge._name_match(name, met, bridge.generic)
        if found is not None:
            key = (HOW.index(found[0]), -len(name.words))
            if name.technology_id not in best or key < best[name.technology_id][0]:
                best[name.technology_id] = (key, (name.technology_id, name.text, found[0]))
    return [match for _, match in sorted(best.values(), key=lambda item: (item[0], item[1][0]))]


def test_the_word_index_finds_every_name_a_full_scan_finds(bridge: TechnologyBridge) -> None:
    rng = random.Random(7)
    words = sorted({w for name in bridge.names if not name.acronym for w in name.words})
    queries = [name.text.lower() for name in bridge.names if not name.acronym]
    for _ in range(400):  # name words cut short, inflected, misspelt, shuffled among other names' words
        picked = rng.sample(words, 3)
        edits = [w[:-1] if rng.random() < 0.25 else w + rng.choice(["ды", "лар", "ов", "а", "ти"])
                 if rng.random() < 0.3 else w[:2] + "о" + w[3:] if rng.random() < 0.2 and len(w) > 4 else w
                 for w in picked]
        queries.append(" ".join(edits))
    found = 0
    for query in queries:
        expected = _every_name_scanned(bridge, query)
        assert [(m.technology_id, m.name, m.how) for m in bridge.recognise(query)] == expected, query
        found += bool(expected)
    assert found >= len(queries) // 2  # the comparison is over queries that do name technologies
