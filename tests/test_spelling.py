"""'Did you mean' and typo tolerance from the store's own vocabulary (index/spelling.py), hashing embedder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.knowledge_base import KnowledgeBase
from index.lexical import index_terms
from index.spelling import Lexicon, Speller, apply, corrections
from pedkb.settings import Settings
from tests.conftest import REPO, CountingEmbedder


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The shipped technologies and sample experiences on the embedded backend."""
    settings = Settings(data=tmp_path_factory.mktemp("spelling") / "data", model="hashing:256", chunk_tokens=64,
                        chunk_overlap=8)
    with KnowledgeBase(settings, embedder=CountingEmbedder(256)) as base:
        base.bank.load_corpus(REPO / "corpus")
        yield base


def _lexicon(*texts: tuple[str, str]) -> Lexicon:
    lexicon = Lexicon()
    for text, lang in texts:
        lexicon.add(text, lang)
    return lexicon.finish()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("перевернутый клас", "перевернутый класс"),
        ("дебты", "дебаты"),
        ("Критичское мышление", "Критическое мышление"),
        ("технология дебатоф на уроке", "технология дебатов на уроке"),
    ],
)
def test_misspelt_words_are_corrected_from_the_corpus(bank: KnowledgeBase, query: str, expected: str) -> None:
    assert bank.spelling_suggestion(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "кейс-стади",
        "оқушылардың сыни ойлауын дамыту",  # inflected Kazakh forms of known words
        "мугалимдердин тажрыйбасы",  # Kyrgyz plural + genitive, possessive
        "работа в парах на уроках математики",  # Russian cases
        "zzqxv qwpp",  # nothing close: no suggestion rather than a wild guess
        "STEM 2024",
    ],
)
def test_known_words_and_their_inflections_are_never_corrected(bank: KnowledgeBase, query: str) -> None:
    assert bank.spelling_suggestion(query) is None


def test_each_language_is_corrected_from_its_own_vocabulary() -> None:
    lexicon = _lexicon(("мұғалім сабақ береді", "kk"), ("учитель ведёт урок", "ru"), ("мугалим сабак берет", "ky"))
    assert [f.corrected for f in corrections(lexicon, "мугалм", "ky")] == ["мугалим"]
    assert [f.corrected for f in corrections(lexicon, "мұғалм", "kk")] == ["мұғалім"]
    assert [f.corrected for f in corrections(lexicon, "учитль", "ru")] == ["учитель"]
    assert corrections(lexicon, "учитль", "kk") == []  # no Russian word offered to a Kazakh query


def test_the_more_frequent_of_two_equally_close_words_wins() -> None:
    lexicon = _lexicon(("метод метод метод", "ru"), ("метан", "ru"))
    assert [f.corrected for f in corrections(lexicon, "метад", "ru")] == ["метод"]


def test_short_words_and_long_distances_are_left_alone() -> None:
    lexicon = _lexicon(("урок проект технология", "ru"),)
    assert corrections(lexicon, "урк", "ru") == []  # under MIN_WORD letters
    assert corrections(lexicon, "тхнлгия", "ru") == []  # three edits away


def test_apply_keeps_the_rest_of_the_query_and_capitals() -> None:
    lexicon = _lexicon(("дебаты", "ru"),)
    query = "Дебты, 9 класс!"
    assert apply(query, corrections(lexicon, query, "ru")) == "Дебаты, 9 класс!"


def test_the_lexicon_follows_the_store(bank: KnowledgeBase, tmp_path: Path) -> None:
    speller = Speller(bank.backend, bank.vocabulary, max_age=0)
    patient = Speller(bank.backend, bank.vocabulary)
    before = speller.lexicon()
    kept = patient.lexicon()
    assert speller.lexicon() is before  # cached while the store is unchanged
    assert "дебаты" in before.counts["ru"] and "flipped" in before.counts["en"]  # technology names count
    assert speller.suggest("квазиметодичка") is None
    note = tmp_path / "note.txt"
    note.write_text("Квазиметодичка для учителей: квазиметодичка помогает планировать урок.\n" * 3, encoding="utf-8")
    bank.ingest_file(note)
    try:
        assert patient.lexicon() is kept  # a store being written to is not re-read at once
        assert speller.lexicon() is before  # served at once: the new lexicon is built in the background
        after = rebuilt(speller, before)
        assert speller.suggest("квазиметодчка") == "квазиметодичка"
    finally:
        bank.delete(bank.documents("document")[0].doc_id)
    rebuilt(speller, after)
    assert speller.suggest("квазиметодчка") is None


def rebuilt(speller: Speller, old: Lexicon, timeout: float = 30.0) -> Lexicon:
    """The speller's lexicon once its background rebuild has replaced `old`."""
    deadline = time.monotonic() + timeout
    while (current := speller.lexicon()) is old:
        assert time.monotonic() < deadline, "the lexicon was never rebuilt"
        time.sleep(0.02)
    return current


def test_typo_tolerance_adds_the_corrections_terms_to_the_lexical_leg(bank: KnowledgeBase) -> None:
    terms = bank.lexical_terms("дбаты на уроке")
    assert terms[: len(index_terms("дбаты на уроке"))] == index_terms("дбаты на уроке")
    assert set(index_terms("дебаты")) <= set(terms)
    hits = bank.search("дбаты", k=5, mode="lexical")
    assert hits and any("debates" in h.document.facets.get("technology", []) for h in hits)
    assert bank.lexical_terms("дебаты") == index_terms("дебаты")


def test_words_of_another_language_are_not_corrected() -> None:
    lexicon = _lexicon(("футбол командасы жеңді", "kk"), ("команда", "ru"), ("кластер", "kk"), ("класс", "ru"))
    assert corrections(lexicon, "футбол командасы", "ru") == []  # a Kazakh form in a query taken for Russian
    assert [f.corrected for f in corrections(lexicon, "клас", "ru")] == ["класс"]  # клас is not a form of кластер
