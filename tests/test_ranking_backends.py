"""The lexical index and language statistics on every backend, and the search modes of the knowledge base."""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from cli import main as cli
from index.knowledge_base import KnowledgeBase
from index.lexical import index_terms
from index.records import DocumentRecord, NewChunk, SearchFilters
from index.store import statistics as base
from index.store.base import Backend
from index.store.embedded import sqlite as sqlite_store
from index.store.embedded.backend import DB_NAME, FaissBackend
from pedkb.errors import ValidationError
from pedkb.limits import DEFAULT_SEARCH_MODE, SEARCH_MODES

DIM = 8
TEXTS = {  # doc id -> (kind, [(text, lang)])
    "guide": ("document", [("Мұғалімдердің іс-тәжірибесін зерделеу және тарату.", "kk"),
                           ("Изучение и распространение опыта учителей.", "ru"),
                           ("Әдістемелік кабинеттің жұмыс жоспары, тәжірибе алмасу.", "kk")]),
    "article": ("document", [("Мугалимдин инновациялык ишмердүүлүгү жана тажрыйбасы.", "ky")]),
    "exp": ("experience", [("Дебаты в парах на уроках истории: учимся спорить доказательно.", "ru"),
                           ("Опыт учителя истории: дебаты, аргументы и правила спора.", "ru")]),
}


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _put(backend: Backend, doc_id: str, kind: str, items: list[tuple[str, str]], seed: int = 0) -> None:
    doc = DocumentRecord(doc_id=doc_id, source=f"/src/{doc_id}.txt", title=None, fmt="txt", sha256="0" * 64,
                         size=10, kind=kind, languages=sorted({lang for _, lang in items}))
    chunks = [NewChunk(i, text, lang, None, 0, len(text), 5, f"{doc_id}-{seed}-{i}", _vec(seed * 100 + i))
              for i, (text, lang) in enumerate(items)]
    backend.put_document(doc, chunks)


@pytest.fixture
def filled(backend: Backend) -> Backend:
    backend.set_meta("model", "test")
    backend.set_meta("dim", str(DIM))
    for n, (doc_id, (kind, items)) in enumerate(TEXTS.items()):
        _put(backend, doc_id, kind, items, seed=n)
    return backend


def _texts(backend: Backend, pairs: list[tuple[int, float]]) -> list[str]:
    chunks = backend.get_chunks([cid for cid, _ in pairs])
    return [chunks[cid].text for cid, _ in pairs]


def test_lexical_search_ranks_shared_terms_and_honours_filters(filled: Backend) -> None:
    hits = filled.lexical_search(index_terms("тәжірибе алмасу әдістемелік кабинетте"), 10)
    assert _texts(filled, hits)[0].startswith("Әдістемелік кабинеттің")
    assert all(a[1] >= b[1] > 0 for a, b in zip(hits, hits[1:], strict=False))
    assert "Изучение и распространение опыта учителей." not in _texts(filled, hits)  # no shared term
    # folded prefixes meet across Kazakh and Kyrgyz: мұғалім / мугалим, тәжірибе / тажрыйба share "муга"
    kyrgyz = _texts(filled, filled.lexical_search(index_terms("мұғалімнің тәжірибесі"), 10))
    assert any(text.startswith("Мугалимдин") for text in kyrgyz)
    ru_only = filled.lexical_search(index_terms("опыт учителей истории"), 10, SearchFilters(kinds=("document",)))
    assert _texts(filled, ru_only) == ["Изучение и распространение опыта учителей."]
    assert filled.lexical_search(index_terms("опыт"), 10, SearchFilters(langs=("kk",))) == []
    assert filled.lexical_search([], 10) == [] and filled.lexical_search(['"; DROP', "OR"], 10) == []


def test_bm25_scores_follow_the_fts5_formula(filled: Backend) -> None:
    docs = [index_terms(text) for _, items in TEXTS.values() for text, _ in items]
    n, avgdl = len(docs), sum(map(len, docs)) / len(docs)
    query = index_terms("опыт учителей истории, дебаты")

    def bm25(terms: list[str]) -> float:
        tf, score = Counter(terms), 0.0
        for term in dict.fromkeys(query):
            hits = sum(term in d for d in docs)
            idf = max(math.log((n - hits + 0.5) / (hits + 0.5)), 0.0) or 1e-6
            score += idf * tf[term] * 2.2 / (tf[term] + 1.2 * (1 - 0.75 + 0.75 * len(terms) / avgdl))
        return score

    hits = filled.lexical_search(query, 10)
    chunks = filled.get_chunks([cid for cid, _ in hits])
    for cid, score in hits:
        assert score == pytest.approx(bm25(index_terms(chunks[cid].text)), rel=1e-6)


def test_the_lexical_index_follows_replacements_and_deletions(filled: Backend) -> None:
    _put(filled, "exp", "experience", [("Геймификация курса информатики: квест и бейджи.", "ru")], seed=9)
    assert filled.lexical_search(index_terms("дебаты"), 10) == []
    assert len(filled.lexical_search(index_terms("квест"), 10)) == 1
    assert filled.delete_document("exp")
    assert filled.lexical_search(index_terms("квест"), 10) == []


def test_language_statistics_are_the_mean_and_covariance_of_each_language(filled: Backend) -> None:
    stats = filled.language_statistics()
    assert {lang: s.count for lang, s in stats.items()} == {"kk": 2, "ru": 3, "ky": 1}
    ru = np.stack([_vec(0 * 100 + 1), _vec(2 * 100), _vec(2 * 100 + 1)])  # guide #1, exp #0 and #1
    assert np.allclose(stats["ru"].mean, ru.mean(axis=0), atol=1e-6)
    assert np.allclose(stats["ru"].covariance, np.cov(ru.T, bias=True), atol=1e-6)


def test_a_large_store_estimates_its_statistics_from_a_sample(backend: Backend,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_SAMPLE", 400)
    monkeypatch.setattr(base, "STATS_MIN_PER_LANGUAGE", 30)
    backend.set_meta("model", "test")
    backend.set_meta("dim", str(DIM))
    rng = np.random.default_rng(5)
    shift = {"ru": 2.0, "kk": -2.0, "ky": 0.0}
    vectors: dict[str, list[np.ndarray]] = {"ru": [], "kk": [], "ky": []}
    for d in range(40):  # 30 ru and 10 kk documents of 50 chunks, one ky document of 5
        lang = "ru" if d < 30 else "kk"
        doc = DocumentRecord(doc_id=f"d{d}", source=f"/src/{d}", title=None, fmt="txt", sha256="0", size=1,
                             languages=[lang])
        chunks = []
        for i in range(50):
            v = (rng.normal(size=DIM) + shift[lang]).astype(np.float32)
            vectors[lang].append(v)
            chunks.append(NewChunk(i, f"c {d} {i}", lang, None, 0, 1, 1, f"d{d}-{i}", v))
        backend.put_document(doc, chunks)
    small = [(rng.normal(size=DIM)).astype(np.float32) for _ in range(5)]
    vectors["ky"] = small
    backend.put_document(DocumentRecord(doc_id="k", source="/src/k", title=None, fmt="txt", sha256="0", size=1,
                                        languages=["ky"]),
                         [NewChunk(i, f"k {i}", "ky", None, 0, 1, 1, f"k-{i}", v) for i, v in enumerate(small)])
    stats = backend.language_statistics()
    assert {lang: s.count for lang, s in stats.items()} == {"ru": 1500, "kk": 500, "ky": 5}  # exact counts
    assert np.allclose(stats["ky"].mean, np.mean(small, axis=0), atol=1e-5)  # a small language is read whole
    for lang in ("ru", "kk"):  # a sample: close to, not equal to, the whole
        full = np.stack(vectors[lang])
        assert np.abs(stats[lang].mean - full.mean(axis=0)).max() < 0.35
        assert np.abs(np.diag(stats[lang].covariance) - full.var(axis=0)).max() < 0.5
    assert not np.allclose(stats["ru"].mean, np.stack(vectors["ru"]).mean(axis=0), atol=1e-6)
    # while the estimate is young, a write does not trigger another pass over the vectors
    backend.delete_document("d0")
    assert backend.language_statistics() is stats
    monkeypatch.setattr(base, "STATS_MAX_AGE", 0.0)  # once it is old, it is served while a refresh replaces it
    assert backend.language_statistics() is stats
    assert backend._statistics.wait(5)  # type: ignore[attr-defined]
    assert backend.language_statistics()["ru"].count == 1450


def test_a_small_store_follows_every_write_exactly(filled: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_MAX_AGE", 1e9)
    assert filled.language_statistics()["ky"].count == 1
    _put(filled, "article2", "document", [("Жаңы макала.", "ky")], seed=7)
    stats = filled.language_statistics()
    assert stats["ky"].count == 2
    assert np.allclose(stats["ky"].mean, (_vec(100) + _vec(700)) / 2, atol=1e-6)  # the article (seed 1) and the new one


def test_a_store_from_before_the_lexical_index_gets_one_when_opened(tmp_path: Path) -> None:
    with FaissBackend(tmp_path) as backend:
        backend.set_meta("model", "test")
        backend.set_meta("dim", str(DIM))
        _put(backend, "guide", *TEXTS["guide"])
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript("DROP TABLE chunk_terms; DELETE FROM meta WHERE key = 'lexical_analyzer'; "
                     "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    db.close()
    with FaissBackend(tmp_path) as backend:
        assert backend.get_meta("schema_version") == str(sqlite_store.SCHEMA_VERSION)
        assert len(backend.lexical_search(index_terms("тәжірибе"), 10)) == 2
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE meta SET value = 'an-older-analysis' WHERE key = 'lexical_analyzer'")
    db.execute("DELETE FROM chunk_terms")
    db.commit()
    db.close()
    with FaissBackend(tmp_path) as backend:  # another analysis: rebuilt from the chunks
        assert len(backend.lexical_search(index_terms("тәжірибе"), 10)) == 2


# ---- the knowledge base ----------------------------------------------------------------------------------------


@pytest.fixture
def small_kb(kb: KnowledgeBase, tmp_path: Path) -> KnowledgeBase:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(8):
        (docs / f"note{n}.txt").write_text(
            f"Сабақ жоспары нөмір{n}. Оқушылар топта жұмыс істейді, мұғалім бағалау критерийлерін түсіндіреді.\n",
            "utf-8")
    (docs / "debate.txt").write_text("Дебаты в парах на уроках истории: аргументы и контраргументы.\n", "utf-8")
    assert kb.ingest([docs]).count("failed") == 0
    return kb


def test_search_modes(small_kb: KnowledgeBase) -> None:
    assert DEFAULT_SEARCH_MODE == SEARCH_MODES[0] == "hybrid" and set(SEARCH_MODES) == {"hybrid", "dense", "lexical"}
    assert cli.SEARCH_MODE_CHOICES == SEARCH_MODES
    for mode in SEARCH_MODES:
        hits = small_kb.search("Сабақ жоспары нөмір3", k=3, mode=mode)
        assert Path(hits[0].document.source).name == "note3.txt", mode
    assert small_kb.search("контраргументы", mode="lexical")[0].document.source.endswith("debate.txt")
    assert small_kb.search("zzzz qqqq", mode="lexical") == []
    with pytest.raises(ValidationError, match="mode"):
        small_kb.search("дебаты", mode="bm25")


def test_paging_through_results_is_consistent(small_kb: KnowledgeBase) -> None:
    for mode in SEARCH_MODES:
        everything = [h.chunk.chunk_id for h in small_kb.search("мұғалім оқушылар дебаты", k=9, mode=mode)]
        pages = [h.chunk.chunk_id for offset in (0, 3, 6)
                 for h in small_kb.search("мұғалім оқушылар дебаты", k=3, offset=offset, mode=mode)]
        assert pages == everything, mode


def test_a_backend_without_lexical_index_falls_back_to_dense(small_kb: KnowledgeBase,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    def missing(*args: object, **kwargs: object) -> list[tuple[int, float]]:
        raise NotImplementedError("no lexical index")

    monkeypatch.setattr(small_kb.backend, "lexical_search", missing)
    with caplog.at_level(logging.WARNING):
        hits = small_kb.search("дебаты в парах", k=3)
    assert hits == small_kb.search("дебаты в парах", k=3, mode="dense")
    assert "falls back to dense" in caplog.text
