"""The embedded lexical leg's kept per-term scores (issue 16): the same ranked list as FTS5's OR query, scores
equal to the last bit, and stale after any write. On a real SQLite store with the thresholds lowered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.lexical import index_terms
from index.records import DocumentRecord, NewChunk, SearchFilters
from index.store.embedded import lexical
from index.store.embedded.backend import FaissBackend

WORDS = ("учитель ученик урок пара спор довод тезис проект метод оценка критерий группа класс школа знание "
         "навык чтение письмо мнение роль вопрос ответ итог цель").split()
QUERIES = ["ученики спорят в парах", "критерии оценки проекта", "урок чтения в группе", "цель урока и итог",
           "школа", "довод тезис довод", "слово которого нет"]


def _texts(n: int, seed: int) -> list[str]:
    """Texts whose words follow a Zipf-like law: some terms in most chunks, others in a few (with ties)."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, len(WORDS) + 1)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)), p=weights / weights.sum()))
            for _ in range(n)]


def _put(backend: FaissBackend, name: str, texts: list[str]) -> None:
    doc = DocumentRecord(doc_id=name, source=name, title=None, fmt="txt", sha256="0", size=0, languages=["ru"])
    backend.put_document(doc, [NewChunk(i, text, "ru", None, 0, 1, 1, f"{name}-{i}", np.ones(4, np.float32) / 2)
                               for i, text in enumerate(texts)])


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FaissBackend:
    monkeypatch.setattr(lexical, "TERM_SCORES_MIN_ROWS", 0)
    monkeypatch.setattr(lexical, "TERM_SCORES_MIN_DF", 2)
    backend = FaissBackend(tmp_path / "data")
    backend.set_meta("model", "test")
    backend.set_meta("dim", "4")
    for d in range(4):
        _put(backend, f"d{d}", _texts(150, d))
    return backend


def _both(store: FaissBackend, query: str, k: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    terms = index_terms(query, "ru")
    plain = lexical.search(store.store.db, terms, k, None)  # FTS5's OR query ranked by bm25()
    return plain, store.lexical_search(terms, k)


@pytest.mark.parametrize("k", [1, 7, 40, 1000])
def test_summed_term_scores_rank_exactly_as_the_or_query(store: FaissBackend, k: int) -> None:
    kept = store.store.term_scores.kept
    for _ in range(2):  # computed, then from the kept scores
        for query in QUERIES:
            plain, summed = _both(store, query, k)
            assert summed == plain, query  # the same chunks in the same order, the same doubles
    assert kept.hits > 0 and kept.misses > 0


def test_a_write_makes_the_kept_scores_stale(store: FaissBackend) -> None:
    before = _both(store, QUERIES[0], 50)[1]
    _put(store, "new", ["ученики спорят в парах о тезисе"] * 3 + _texts(300, 9))  # other IDFs and lengths
    plain, summed = _both(store, QUERIES[0], 50)
    assert summed == plain and summed != before
    store.delete_document("d0")
    plain, summed = _both(store, QUERIES[0], 50)
    assert summed == plain
    assert not {chunk for chunk, _ in summed} & set(range(150))  # d0's chunks were the first ids


def test_small_stores_and_filtered_searches_keep_the_or_query(tmp_path: Path) -> None:
    backend = FaissBackend(tmp_path / "data")
    backend.set_meta("model", "test")
    backend.set_meta("dim", "4")
    _put(backend, "d0", _texts(50, 0))
    backend.lexical_search(index_terms("ученики спорят", "ru"), 10)
    assert backend.store.term_scores.kept.misses == 0  # below TERM_SCORES_MIN_ROWS nothing is split by term


def test_the_most_common_terms_are_scored_ahead_and_then_served_kept(store: FaissBackend) -> None:
    kept = store.store.term_scores.kept
    common = lexical.common_terms(store.store.db)
    df = {term: len(lexical._term_scores(store.store.db, term)[0]) for term, _ in common}
    assert common and [n for _, n in common] == sorted((n for _, n in common), reverse=True)
    assert all(df[term] == n >= 2 for term, n in common)
    every = {t for (t,) in store.store.db.execute("SELECT DISTINCT term FROM temp.chunk_terms_vocabulary")}
    assert {t for t, _ in common} == {t for t in every if len(lexical._term_scores(store.store.db, t)[0]) >= 2}
    assert store.warm(0.0) == 0 and len(kept) == 0  # no time: nothing scored
    assert store.warm(60.0) == len(common) == len(kept)
    hits = kept.hits
    for query in QUERIES:
        plain, summed = _both(store, query, 40)
        assert summed == plain, query
    assert kept.hits > hits and len(kept) == len(common)  # served from what the warm-up scored


def test_warming_stops_short_of_the_budget(store: FaissBackend) -> None:
    scores = store.store.term_scores
    common = lexical.common_terms(store.store.db)
    scores.kept.budget = 16 * sum(n for _, n in common[:3]) + 8  # room for the three most common terms
    assert store.warm(60.0) == 3 and set(scores.kept._values) == {t for t, _ in common[:3]}  # none dropped


def test_a_small_store_warms_nothing(tmp_path: Path) -> None:
    backend = FaissBackend(tmp_path / "data")  # TERM_SCORES_MIN_ROWS as shipped: no per-term scores kept
    backend.set_meta("model", "test")
    backend.set_meta("dim", "4")
    _put(backend, "d0", _texts(50, 0))
    assert backend.warm(60.0) == 0 and len(backend.store.term_scores.kept) == 0


@pytest.mark.parametrize("kept", [True, False])
def test_a_filtered_search_runs_the_match_once_and_keeps_its_order(store: FaissBackend, kept: bool,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Filtered, the kept term scores give the unfiltered list without the chunks the filter does not pass; the
    OR query (a small store) restricts the rows of one match pass: FTS5 is not handed the filtered chunk ids as
    rowid lookups (each one ran the whole match again: a language filter on 100,000 chunks took 15-80 s)."""
    if not kept:
        monkeypatch.setattr(lexical, "TERM_SCORES_MIN_ROWS", 10**9)
    kk = DocumentRecord(doc_id="kk", source="kk", title=None, fmt="txt", sha256="0", size=0, languages=["kk"])
    store.put_document(kk, [NewChunk(i, text, "kk", None, 0, 1, 1, f"kk-{i}", np.ones(4, np.float32) / 2)
                            for i, text in enumerate(_texts(120, 7))])
    kk_ids = {c.chunk_id for c in store.store.document_chunks("kk")}
    db, only_kk = store.store.db, SearchFilters(langs=("kk",))
    for query in QUERIES[:4]:
        terms = index_terms(query, "ru")
        sql, params = lexical.or_query(lexical.match_expression(terms), 10, only_kk)
        scans = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params) if "chunk_terms" in row[3]]
        assert scans and all("=" not in plan.rpartition(":")[2] for plan in scans), scans  # M (match), no rowid
        everything = lexical.search(db, terms, 10_000, None)
        for k in (1, 10, 1000):
            filtered = store.lexical_search(terms, k, only_kk)
            assert filtered and filtered == [hit for hit in everything if hit[0] in kk_ids][:k], query
    assert (store.store.passing.misses == 1) == kept  # the kept path reads the passing ids once
