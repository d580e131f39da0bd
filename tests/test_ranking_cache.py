"""Recent rankings are reused until the store changes, whoever changes it (issue 16): on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from index.knowledge_base import KnowledgeBase
from index.store.generation_cache import GenerationCache, RecordCache
from pedkb.settings import Settings
from tests.conftest import CountingEmbedder

PAIRS = ("Работа в парах помогает ученикам спорить аргументированно. Учитель даёт каждой паре тезис, ученики "
         "готовят доводы за и против, затем меняются ролями.")
PROJECT = ("Метод проектов в сельской школе: ученики выбирают тему проекта, собирают сведения и защищают результат "
           "перед классом.")
QUERY = "ученики спорят в парах"


def _sources(kb: KnowledgeBase) -> list[str]:
    return [hit.document.source for hit in kb.find(QUERY, mode="lexical").items]


def test_a_repeated_search_reuses_its_ranking_and_a_write_makes_it_stale(kb: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "pairs.txt").write_text(PAIRS, encoding="utf-8")
    kb.ingest_file(tmp_path / "pairs.txt", source="pairs")
    first = kb.find(QUERY)
    cache = kb.searcher.rankings
    hits, misses = cache.hits, cache.misses
    again = kb.find(QUERY)
    assert (cache.hits, cache.misses) == (hits + 1, misses)
    assert [(h.document.doc_id, h.score) for h in again.items] == [(h.document.doc_id, h.score) for h in first.items]
    assert _sources(kb) == ["pairs"]
    (tmp_path / "more.txt").write_text(PROJECT + " Ученики спорят в парах о теме.", encoding="utf-8")
    kb.ingest_file(tmp_path / "more.txt", source="more")
    assert sorted(_sources(kb)) == ["more", "pairs"]  # not the ranking cached before the write
    kb.delete(kb.find(QUERY, mode="lexical").items[0].document.doc_id)
    assert len(_sources(kb)) == 1


def test_a_write_by_another_process_makes_the_cached_rankings_stale(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "pairs.txt").write_text(PAIRS, encoding="utf-8")
    (tmp_path / "project.txt").write_text(PROJECT + " Ученики спорят в парах о теме.", encoding="utf-8")
    with KnowledgeBase(settings, embedder=CountingEmbedder(256)) as reader, \
            KnowledgeBase(settings, embedder=CountingEmbedder(256)) as writer:  # two server workers, say
        writer.ingest_file(tmp_path / "pairs.txt", source="pairs")
        assert _sources(reader) == ["pairs"]
        writer.ingest_file(tmp_path / "project.txt", source="project")
        assert sorted(_sources(reader)) == ["pairs", "project"]
        writer.delete(next(d.doc_id for d in writer.documents() if d.source == "pairs"))
        assert _sources(reader) == ["project"]


def test_the_cache_keeps_a_generation_and_a_bounded_number_of_values() -> None:
    cache: GenerationCache[str] = GenerationCache(budget=2)
    computed: list[str] = []

    def value(name: str) -> Callable[[], str]:
        return lambda: computed.append(name) or name

    assert [cache.get(k, 1, value(k)) for k in ("a", "b", "a", "c", "b")] == ["a", "b", "a", "c", "b"]
    assert computed == ["a", "b", "c", "b"]  # "a" reused; "b" was the least recently used when "c" came
    assert cache.get("a", 2, value("a2")) == "a2"  # another generation: nothing of the first is served
    assert cache.get(["unhashable"], 2, value("u")) == "u" and cache.get(["unhashable"], 2, value("u")) == "u"
    assert computed[-2:] == ["u", "u"]


def test_the_record_cache_reads_only_what_it_lacks_for_one_generation_within_its_budget() -> None:
    cache: RecordCache[int, str] = RecordCache(budget=10, weigh=len)
    reads: list[list[int]] = []

    def fetch(ids: list[int]) -> dict[int, str]:
        reads.append(ids)
        return {i: "x" * i for i in ids if i != 9}  # 9 does not exist

    assert cache.get_many([1, 2, 9, 2], 1, fetch) == {1: "x", 2: "xx"}
    assert cache.get_many([2, 3, 9], 1, fetch) == {2: "xx", 3: "xxx"}
    assert reads == [[1, 2, 9], [3, 9]]  # 2 came from the cache; 9, missing, is asked again
    assert cache.get_many([4], 1, fetch) == {4: "xxxx"}  # weight 1+2+3+4 = 10: all kept
    cache.get_many([2], 1, fetch)  # 2 is now the most recently used
    cache.get_many([5], 1, fetch)  # 15 > 10: the least recently used go (1, 3, 4), 2 and 5 stay
    reads.clear()
    cache.get_many([1, 2, 3, 4, 5], 1, fetch)
    assert reads == [[1, 3, 4]]
    reads.clear()
    assert cache.get_many([4], 1, fetch) == {4: "xxxx"} and reads == []  # 1, 3, 4 are kept now
    assert cache.get_many([4], 2, fetch) == {4: "xxxx"} and reads == [[4]]  # another generation: read again


def test_an_item_changed_by_another_process_is_served_changed(settings: Settings, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("Спор в парах\n\n" + PAIRS, encoding="utf-8")
    with KnowledgeBase(settings, embedder=CountingEmbedder(256)) as reader, \
            KnowledgeBase(settings, embedder=CountingEmbedder(256)) as writer:
        writer.ingest_file(pairs, source="pairs")
        first = reader.find(QUERY).items[0]
        assert first.document.title == "Спор в парах" and reader.searcher.documents.weight == 1
        pairs.write_text("Дебаты в парах\n\n" + PAIRS + " Пары меняются тезисами.", encoding="utf-8")
        writer.ingest_file(pairs, source="pairs")
        again = reader.find(QUERY).items[0]
        assert again.document.doc_id == first.document.doc_id
        assert again.document.title == "Дебаты в парах"  # not the record (or passage) read before the write
        assert "меняются тезисами" in " ".join(p.text for p in again.group.passages)
