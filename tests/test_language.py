"""Tests of language identification and of language runs in bilingual documents."""

from __future__ import annotations

import pytest

from ingest.language import detect_language, split_by_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Мұғалім", "kk"),
        ("Кіріспе", "kk"),
        ("Әдістемелік кабинет мұғалімдердің озық тәжірибесін жинақтайды.", "kk"),
        ("Мектептегі білім беру", "kk"),  # only і among the Kazakh letters
        ("Саясат пен тəжірибенің білім беру жүйесін реформалау барысында", "kk"),  # Latin ə, unrepaired
        ("Бiлiм берудiң сапасы мектептiң басты мақсаты", "kk"),  # Latin i, unrepaired
        ("Мугалимдин ишмердүүлүгү", "ky"),
        ("Инновациялык ишмердүүлүк мурункуга салыштырмалуу жаңы нерсе жана сапатты жакшыртат.", "ky"),
        ("Введение", "ru"),
        ("Методический кабинет собирает сведения о передовом опыте учителей района.", "ru"),
        ("Курсы института «Өрлеу» для учителей проводятся каждый год в областном центре.", "ru"),
        ("Победители конкурса «Жыл мұғалімі» выступают на областных семинарах перед коллегами.", "ru"),
        ("The article describes the innovative activity of a teacher.", "en"),
        ("Key words: education", "en"),
        ("Українська мова має літери ї та є.", "uk"),
        ("Арнайы құралдар: Adobe Presenter, Camtasia for Screen and Podcasts", "kk"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["", "   ", "12 345", "— 39 —", "1. ___", "[5-8]"])
def test_text_without_letters_is_undetermined(text: str) -> None:
    assert detect_language(text) == "und"


KK = [
    "Әдістемелік кабинеттің басты міндеті мұғалімдердің озық тәжірибесін анықтау және тарату.",
    "Кабинет әдіскерлері жыл сайын мектептерге барып, сабақтарды бақылайды.",
]
RU = [
    "Методический кабинет собирает сведения о передовом опыте учителей и помогает его распространять.",
    "Лучшие материалы включаются в электронный банк педагогического опыта области.",
]


def test_bilingual_document_splits_into_two_runs() -> None:
    paragraphs = ["Кіріспе", *KK, "12", "Введение", *RU]
    assert split_by_language(paragraphs) == [(0, 4, "kk"), (4, 7, "ru")]


def test_short_paragraphs_take_a_neighbours_language() -> None:
    # a number and a list tail ending with a dot stay with the text before them
    paragraphs = [*KK, "Кестелер, графиктер.", "2020", *RU]
    assert split_by_language(paragraphs) == [(0, 4, "kk"), (4, 6, "ru")]


def test_three_languages_in_one_file() -> None:
    paragraphs = [
        "Инновациялык ишмердүүлүк мурункуга салыштырмалуу жаңы нерсе жана бул жаңы нерсе билим берүүнүн "
        "сапатын.",
        "Негизги сөздөр: билим берүү, педагогика.",
        "В статье описывается инновационная деятельность педагога в образовании и её значение.",
        "Ключевые слова: образование, педагогика.",
        "The article describes the innovative activity of a teacher in education and its meaning.",
        "Key words: education, pedagogy.",
        "Бүгүнкү күндө инновациялар бүткүл дүйнө жүзү боюнча билим берүүнү өнүктүрүүнүн негизги фактору.",
    ]
    assert split_by_language(paragraphs) == [(0, 2, "ky"), (2, 4, "ru"), (4, 6, "en"), (6, 7, "ky")]


def test_a_lone_short_quote_is_folded_into_its_surroundings() -> None:
    paragraphs = [KK[0], "Методический совет утвердил план работы.", KK[1]]
    assert split_by_language(paragraphs) == [(0, 3, "kk")]


def test_no_paragraphs_and_no_letters() -> None:
    assert split_by_language([]) == []
    assert split_by_language(["1", "2"]) == [(0, 2, "und")]
