"""Highlighting with the lexical analysis of each language (search_api/snippets.py)."""

from __future__ import annotations

import pytest

from search_api.snippets import make_snippet


def marked(text: str, query: str, lang: str | None, query_lang: str | None) -> list[str]:
    snippet = make_snippet(text, query, lang=lang, query_lang=query_lang)
    return [snippet.text[a:b] for a, b in snippet.highlights]


def test_a_russian_word_is_not_marked_inside_a_kazakh_word_that_begins_alike() -> None:
    text = "Жұмыс парағы әр жұпқа беріледі, оқушылар жұпта талқылайды."
    assert marked(text, "работа в парах", "kk", "ru") == []
    assert marked("Работа в парах: затем пары меняются.", "работа в парах", "ru", "ru") == [
        "Работа", "парах", "пары"]


@pytest.mark.parametrize(
    ("text", "lang", "query", "query_lang", "expected"),
    [
        # Kazakh endings: plural + genitive, dative, possessive with a voiced final consonant
        ("Мұғалімдердің тәжірибесі мектебіне тарады.", "kk", "мұғалім тәжірибе мектеп", "kk",
         ["Мұғалімдердің", "тәжірибесі", "мектебіне"]),
        # Kyrgyz endings, and a Kyrgyz query on a Kazakh passage (folded letters meet)
        ("Мугалимдердин тажрыйбасы мектептеги сабактарда колдонулат.", "ky", "мугалим тажрыйба сабак", "ky",
         ["Мугалимдердин", "тажрыйбасы", "сабактарда"]),
        ("Мұғалімдер сабақта топпен жұмыс істейді.", "kk", "мугалимдер сабакта", "ky", ["Мұғалімдер", "сабақта"]),
        # Russian cases
        ("Учителю помогают наставники; учителей обучают на семинарах.", "ru", "учителя наставник семинар", "ru",
         ["Учителю", "наставники", "учителей", "семинарах"]),
    ],
)
def test_inflected_forms_are_marked(text: str, lang: str, query: str, query_lang: str,
                                    expected: list[str]) -> None:
    assert marked(text, query, lang, query_lang) == expected


def test_unrelated_words_sharing_a_beginning_are_not_marked() -> None:
    assert marked("Педагогика и педагоги", "педаль", "ru", "ru") == []
    assert marked("Оқушылар оқулықпен жұмыс істейді", "оқушы", "kk", "kk") == ["Оқушылар"]


def test_languages_are_detected_when_not_given() -> None:
    snippet = make_snippet("Жұмыс парағы әр жұпқа беріледі, оқушылар жұпта талқылайды.", "работа в парах")
    assert snippet.highlights == []
    snippet = make_snippet("Учащиеся выполняют работу в парах.", "работа в парах")
    assert [snippet.text[a:b] for a, b in snippet.highlights] == ["работу", "парах"]


def test_the_window_holds_the_marked_words() -> None:
    text = "Вводный абзац без нужных слов. " * 20 + "Здесь дебаты по истории. " + "Хвост текста. " * 20
    snippet = make_snippet(text, "дебаты история", 120, lang="ru", query_lang="ru")
    assert snippet.text.startswith("… ") and snippet.text.endswith(" …") and len(snippet.text) <= 124
    assert [snippet.text[a:b] for a, b in snippet.highlights] == ["дебаты", "истории"]
    assert "<mark>дебаты</mark>" in snippet.html()
