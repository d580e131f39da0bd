"""Experiences without an id get a readable, unique slug; a refused record lists every problem at once (both
backends)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from index.kb.slug import experience_slug, slug_words
from index.knowledge_base import KnowledgeBase
from index.store.base import Backend
from pedkb.errors import ValidationError
from pedkb.settings import Settings
from search_api.examples import EXPERIENCE_BODY

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def record(lang: str = "kk", **changes: Any) -> dict[str, Any]:
    """The documented example record in `lang`, without its id."""
    body = {k: v for k, v in EXPERIENCE_BODY[lang]["value"].items() if k != "id"}
    return {**body, **changes}


@pytest.mark.parametrize(("lang", "title", "expected"), [
    ("kk", "Сыни ойлау дағдыларын дамыту", "exp-kk-syni-oylau-daghdylaryn-damytu"),
    ("ky", "Сынчыл ой жүгүртүүнү өнүктүрүү", "exp-ky-synchyl-oy-zhugurtuunu-onukturuu"),
    ("ru", "«Шесть шляп» на уроках истории!", "exp-ru-shest-shlyap-na-urokakh-istorii"),
    ("ru", "Қазақ тілі: ұжымдық оқыту (5–9 сыныптар)", "exp-ru-qazaq-tili-uzhymdyq-oqytu-5-9-synyptar"),
])  # fmt: skip
def test_slug_is_transliterated_url_safe_and_stable(lang: str, title: str, expected: str) -> None:
    assert experience_slug(lang, title) == expected
    assert experience_slug(lang, title) == experience_slug(lang, title)
    assert SLUG.match(expected)


def test_long_titles_are_cut_between_words_and_symbols_only_titles_still_get_an_id() -> None:
    long = slug_words("Развитие функциональной грамотности учащихся через исследовательские проекты " * 3)
    assert len(long) <= 48 and not long.endswith("-") and "razvitie-funktsionalnoy" in long
    assert "funktsional-" not in long  # never half a word
    assert SLUG.match(experience_slug("kk", "!!! ???"))


def test_created_without_id_gets_a_slug_then_suffixes(kb: KnowledgeBase) -> None:
    first = kb.bank.create(record(title="Сыни ойлау дағдыларын дамыту"))
    second = kb.bank.create(record(title="Сыни ойлау дағдыларын дамыту"))
    third = kb.bank.create(record(id="", title="Сыни ойлау дағдыларын дамыту"))
    assert [first.id, second.id, third.id] == [
        "exp-kk-syni-oylau-daghdylaryn-damytu", "exp-kk-syni-oylau-daghdylaryn-damytu-2",
        "exp-kk-syni-oylau-daghdylaryn-damytu-3"]
    assert kb.bank.get(second.id).title == "Сыни ойлау дағдыларын дамыту"
    assert kb.search("Сыни ойлау дағдыларын", k=5, filters=None)


def test_the_store_write_decides_a_taken_id(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two creations that both saw the id free: the transaction refuses the second, which takes the next."""
    first = kb.bank.create(record(title="Жобалық оқыту"))
    backend: Backend = kb.bank.backend
    real = backend.get_document
    monkeypatch.setattr(backend, "get_document", lambda doc_id: None if doc_id.startswith("exp-kk-") else real(doc_id))
    second = kb.bank.create(record(title="Жобалық оқыту"))
    assert (first.id, second.id) == ("exp-kk-zhobalyq-oqytu", "exp-kk-zhobalyq-oqytu-2")
    monkeypatch.undo()
    assert kb.bank.get(first.id).id == first.id and kb.bank.get(second.id).id == second.id


def test_concurrent_creations_never_share_an_id(settings: Settings) -> None:
    """Four writers (each its own knowledge base on the same store, as four processes) create the same title."""
    from tests.conftest import CountingEmbedder

    bases = [KnowledgeBase(settings, embedder=CountingEmbedder(256)) for _ in range(4)]
    try:
        start = threading.Barrier(len(bases))
        ids: list[str] = []
        errors: list[BaseException] = []

        def create(base: KnowledgeBase) -> None:
            start.wait()
            try:
                ids.append(base.bank.create(record("ru", title="Дебаты в парах")).id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(b,)) for b in bases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert sorted(ids) == ["exp-ru-debaty-v-parakh", "exp-ru-debaty-v-parakh-2", "exp-ru-debaty-v-parakh-3",
                               "exp-ru-debaty-v-parakh-4"]
        assert bases[0].bank.count() == 4
    finally:
        for base in bases:
            base.close()


def test_every_problem_is_reported_at_once_with_its_field(kb: KnowledgeBase) -> None:
    bad = record(id="Bad Id!", region="kz-atlantis", year=2031, technologies=["debates", "telepathy"])
    del bad["title"]
    with pytest.raises(ValidationError) as caught:
        kb.bank.create(bad)
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {"id", "title", "year", "region", "technologies[1]"}
    assert problems["id"].kind == "invalid_id" and "^[a-z" not in problems["id"].reason
    assert "lowercase Latin letters" in problems["id"].reason
    assert problems["title"].kind == "missing_field"
    assert problems["region"].reason == "unknown region id 'kz-atlantis'"
    assert problems["year"].kind == "too_large" and problems["year"].values["limit"] == 2026
    assert "5 problems" in str(caught.value)
    assert kb.bank.count() == 0
