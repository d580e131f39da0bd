"""The lexical analyzer: normalisation, light stemming of kk/ky/ru word families, analysis schemes."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.lexical import (
    ANALYZER,
    DEFAULT_SCHEME,
    PREFIX_LEN,
    SCHEMES,
    analyse,
    fold_turkic,
    index_terms,
    normalise,
    stem,
    word_key,
    words,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Мұғалім, ЖӘНЕ оқушы!", "мұғалім және оқушы"),
        ("жəне кəсіби", "және кәсіби"),  # Latin schwa of seed 004
        ("бiрлесіп тiлдерді", "бірлесіп тілдерді"),  # Latin i inside Kazakh words (seed 003)
        ("сүйенcек", "сүйенсек"),  # Latin c
        ("Ёлка, ещё", "елка еще"),
        ("«Педагог мəртебесі» туралы Заңы (№ 293-VI)", "педагог мәртебесі туралы заңы 293 vi"),
        ("учи\u0301тель", "учитель"),  # stress mark
        ("TALISтың нәтижелері — 94%", "talisтың нәтижелері 94"),  # a Latin name with a Kazakh ending stays
        ("  іс-тәжірибе\n\n", "іс тәжірибе"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_is_idempotent() -> None:
    text = "Педагогтардың ІС-ТӘЖІРИБЕСІ, жəне «Lesson Study» (2012 ж.)"
    assert normalise(normalise(text)) == normalise(text)


def test_words_drop_one_letter_words_but_keep_numbers() -> None:
    assert words("В 2013 г. и 5 курсов") == ["2013", "5", "курсов"]


@pytest.mark.parametrize(
    ("lang", "family"),
    [
        ("kk", ["мұғалім", "мұғалімдер", "мұғалімдердің", "мұғалімге", "мұғалімнің", "мұғалімі"]),
        ("kk", ["мектеп", "мектепке", "мектебі", "мектебіне", "мектептегі", "мектептің"]),
        ("kk", ["тәжірибе", "тәжірибесі", "тәжірибені", "тәжірибелер", "тәжірибесін"]),
        ("kk", ["бағдарлама", "бағдарламасын", "бағдарламалар", "бағдарламаның"]),
        ("kk", ["сабақ", "сабағы", "сабақтар", "сабақтың"]),
        ("kk", ["инновация", "инновациялық", "инновацияны"]),
        ("kk", ["біліктілік", "біліктілігі", "біліктілігін"]),
        ("ky", ["мугалим", "мугалимдер", "мугалимдердин", "мугалимге", "мугалимдин", "мугалими"]),
        ("ky", ["мектеп", "мектепке", "мектеби", "мектептеги"]),
        ("ky", ["тажрыйба", "тажрыйбасы", "тажрыйбаны", "тажрыйбалар"]),
        ("ky", ["инновация", "инновациялык", "инновацияны"]),
        ("ru", ["учитель", "учителя", "учителями", "учителей"]),
        ("ru", ["опыт", "опыта", "опытом", "опыты"]),
        ("ru", ["методический", "методического", "методическими"]),
    ],
)
def test_word_families_share_one_stem(lang: str, family: list[str]) -> None:
    stems = {stem(word, lang) for word in family}
    assert len(stems) == 1, {word: stem(word, lang) for word in family}


@pytest.mark.parametrize(
    ("lang", "word"),
    [("kk", "заң"), ("kk", "бала"), ("kk", "қала"), ("kk", "және"), ("kk", "білім"), ("kk", "тіл"),
     ("ky", "жана"), ("ky", "тил"), ("ru", "дом"), ("ru", "опыт"), ("ru", "мир")],
)
def test_short_words_are_not_over_stemmed(lang: str, word: str) -> None:
    assert stem(word, lang) == word


def test_stems_keep_at_least_four_letters_and_a_vowel() -> None:
    for lang, word in (("kk", "мұғалімдердің"), ("kk", "тәжірибелерінің"), ("kk", "мектептерінде"),
                       ("ky", "мугалимдердин"), ("kk", "ойларын"), ("ky", "ойлорун")):
        result = stem(word, lang)
        assert len(result) >= 4 and any(ch in "аәеиоөуұүыі" for ch in result), result


def test_distinct_words_keep_distinct_stems() -> None:
    assert stem("мұғалім", "kk") != stem("мектеп", "kk")
    assert stem("білім", "kk") != stem("біліктілік", "kk")


def test_other_languages_and_numbers_are_left_alone() -> None:
    assert stem("study", "kk") == "study"
    assert stem("2013", "ru") == "2013"
    assert stem("тәжірибесі", "en") == "тәжірибесі"


def test_analysis_schemes() -> None:
    text = "Мұғалімдердің іс-тәжірибесі, 2013 ж."
    assert analyse(text, "kk", scheme="plain") == ["мұғалімдердің", "іс", "тәжірибесі", "2013"]
    assert analyse(text, "kk", scheme="stem") == ["мұғал", "іс", "тәжірибе", "2013"]
    assert analyse(text, "kk", scheme="prefix", prefix_len=5) == ["мұғал", "іс", "тәжір", "2013"]
    assert analyse(text, "kk") == analyse(text, "kk", scheme=DEFAULT_SCHEME, prefix_len=PREFIX_LEN)
    assert DEFAULT_SCHEME in SCHEMES
    with pytest.raises(ValueError, match="unknown analysis scheme"):
        analyse(text, "kk", scheme="lemma")


def test_a_query_and_a_passage_in_different_forms_share_terms() -> None:
    query = set(analyse("мұғалімнің тәжірибесін тарату", "kk", scheme="stem"))
    passage = set(analyse("Мұғалімдердің тәжірибелерін таратуда", "kk", scheme="stem"))
    assert {"мұғал", "тәжірибе"} <= query & passage


def test_folding_lets_kazakh_and_kyrgyz_spellings_meet() -> None:
    assert fold_turkic("мұғалімдердің") == "мугалимдердин"
    assert fold_turkic("мугалим") == "мугалим" and fold_turkic("учитель") == "учитель"
    assert index_terms("Мұғалімнің білімі", "kk") == index_terms("мугалимдин билими", "ky") == ["муга", "били"]
    assert analyse("тәжірибесі", "kk", scheme="stem", fold=True) == ["тажирибе"]  # folded after stemming


def test_index_terms_keep_words_with_digits_whole() -> None:
    assert index_terms("Тақырып3, № 583 бұйрық, 2016-2018 жж.") == ["такырып3", "583", "буйр", "2016", "2018", "жж"]
    assert ANALYZER.startswith("prefix4-fold")


def _seed_stems() -> list[tuple[str, str, str]]:
    path = Path(__file__).parent / "data" / "seed_stems.tsv"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return [(row[0], row[1], row[2]) for row in rows if len(row) == 3 and not row[0].startswith("#")]


# the seed words the grammar-built stripper still misses: a spelling variant and a three-letter stem
SEED_MISSES = {("kk", "процестерді"), ("ky", "топтор")}


@pytest.mark.parametrize(("lang", "word", "lemma"), _seed_stems())
def test_seed_words_meet_their_dictionary_form(lang: str, word: str, lemma: str) -> None:
    same = word_key(word, lang) == word_key(lemma, lang)
    assert same != ((lang, word) in SEED_MISSES), (word, stem(word, lang), lemma, stem(lemma, lang))


def test_distinct_seed_lemmas_keep_distinct_stems() -> None:
    lemmas = {(lang, lemma) for lang, _, lemma in _seed_stems()}
    keys = [(lang, word_key(lemma, lang)) for lang, lemma in lemmas]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("lang", "word", "expected"),
    [
        ("kk", "қызметінің", "қызмет"),  # -і-нің, not -ті- after a vowel
        ("kk", "мұғалімнің", "мұғал"),  # genitive -нің after м
        ("kk", "ойлауды", "ойлау"),  # accusative -ды after у
        ("kk", "ғылымның", "ғылым"),
        ("kk", "педагогтардың", "педагок"),  # -тар after a final г that sounds voiceless
        ("kk", "қалада", "қала"),  # the locative -да follows a vowel too
        ("ky", "компоненти", "компонент"),  # -и, not -ти after н
        ("ky", "сапатын", "сапат"),  # -ын, not -тын after a vowel
        ("ky", "процессинин", "процесс"),  # -и-нин, not -си- after a consonant
    ],
)
def test_endings_are_stripped_only_where_the_sound_rules_allow(lang: str, word: str, expected: str) -> None:
    assert stem(word, lang) == expected


def test_word_keys_keep_languages_apart_and_kazakh_and_kyrgyz_together() -> None:
    assert word_key("парах", "ru") != word_key("парағы", "kk")
    assert word_key("мұғалімдердің", "kk") == word_key("мугалимдердин", "ky") == word_key("мұғалім", "kk")
    assert word_key("учителей", "ru") == word_key("учителю", "ru")
