"""The backend contract, run against every backend: add, replace, delete, filters, persistence, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.records import DocumentRecord, NewChunk, SearchFilters
from index.store.base import WEIGHTS_META, Backend
from index.store.embedded.backend import FaissBackend
from index.store.postgres.backend import PgBackend

DIM = 8


def _vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    for i in hot:
        v[i] = 1.0
    return v / np.linalg.norm(v)


def _doc(doc_id: str, kind: str = "document") -> DocumentRecord:
    return DocumentRecord(doc_id=doc_id, source=f"/src/{doc_id}.txt", title=doc_id.upper(), fmt="txt",
                          sha256="0" * 64, size=10, kind=kind, languages=["kk"])


def _chunks(spec: list[tuple[str, str, tuple[int, ...]]]) -> list[NewChunk]:
    return [NewChunk(i, text, lang, None, 0, len(text), 3, f"key-{text}", _vec(*hot))
            for i, (text, lang, hot) in enumerate(spec)]


@pytest.fixture
def filled(backend: Backend) -> Backend:
    backend.set_meta("model", "test")
    backend.set_meta("dim", str(DIM))
    backend.put_document(_doc("a"), _chunks([("alpha", "kk", (0,)), ("beta", "ru", (1,))]))
    backend.put_document(_doc("b", kind="experience"), _chunks([("gamma", "ky", (2,)), ("delta", "ru", (0, 3))]))
    return backend


def test_the_first_claim_of_the_space_wins_whole(backend: Backend) -> None:
    space = {"model": "first", "dim": str(DIM), WEIGHTS_META: "w1"}
    assert backend.claim_meta(space)
    assert not backend.claim_meta({"model": "second", "dim": "16", WEIGHTS_META: "w2"})
    assert {key: backend.get_meta(key) for key in space} == space  # nothing of the second claim was written


def test_search_returns_nearest_first(filled: Backend) -> None:
    hits = filled.search(_vec(0), 4)
    texts = [filled.get_chunks([cid])[cid].text for cid, _ in hits]
    assert texts[:2] == ["alpha", "delta"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert hits[1][1] == pytest.approx(1 / np.sqrt(2), abs=1e-5)


def test_filters_by_language_kind_and_document(filled: Backend) -> None:
    ids = [cid for cid, _ in filled.search(_vec(0), 10, SearchFilters(langs=("ru",)))]
    assert {filled.get_chunks(ids)[i].lang for i in ids} == {"ru"}
    ids = [cid for cid, _ in filled.search(_vec(0), 10, SearchFilters(kinds=("experience",)))]
    assert {filled.get_chunks(ids)[i].doc_id for i in ids} == {"b"}
    assert filled.search(_vec(0), 10, SearchFilters(langs=("en",))) == []


def test_replace_swaps_chunks_and_keeps_document_identity(filled: Backend) -> None:
    before = filled.get_document("a")
    assert before is not None
    old_ids = {c.chunk_id for c in filled.document_chunks("a")}
    filled.put_document(_doc("a"), _chunks([("epsilon", "kk", (4,))]))
    after = filled.get_document("a")
    assert after is not None and after.created == before.created and after.n_chunks == 1
    assert [c.text for c in filled.document_chunks("a")] == ["epsilon"]
    assert not old_ids & set(filled.get_chunks(list(old_ids)))
    hit_ids = [cid for cid, _ in filled.search(_vec(0), 10)]
    assert not old_ids & set(hit_ids)
    assert filled.search(_vec(4), 1)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_delete_removes_vectors(filled: Backend) -> None:
    assert filled.delete_document("b") is True
    assert filled.delete_document("b") is False
    assert filled.get_document("b") is None
    texts = {filled.get_chunks([cid])[cid].text for cid, _ in filled.search(_vec(2), 10)}
    assert texts == {"alpha", "beta"}


def test_chunk_ids_are_never_reused(filled: Backend) -> None:
    first = {c.chunk_id for c in filled.document_chunks("b")}
    filled.delete_document("b")
    filled.put_document(_doc("c"), _chunks([("zeta", "kk", (5,)), ("eta", "kk", (6,))]))
    assert not first & {c.chunk_id for c in filled.document_chunks("c")}


def test_vector_cache_serves_known_keys(filled: Backend) -> None:
    cached = filled.cached_vectors(["key-alpha", "key-missing"])
    assert set(cached) == {"key-alpha"}
    np.testing.assert_allclose(cached["key-alpha"], _vec(0))


def test_stats_count_kinds_and_languages(filled: Backend) -> None:
    stats = filled.stats()
    assert stats["documents"] == {"document": 1, "experience": 1}
    assert stats["chunk_languages"] == {"kk": 1, "ru": 2, "ky": 1}
    assert stats["vectors"] == 4


def test_state_survives_reopen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = FaissBackend(tmp_path)
    first.set_meta("dim", str(DIM))
    first.put_document(_doc("a"), _chunks([("alpha", "kk", (0,))]))
    first.close()
    assert len(list(tmp_path.glob("vectors-*.faiss"))) == 1
    second = FaissBackend(tmp_path)
    assert [second.get_chunks([c])[c].text for c, _ in second.search(_vec(0), 1)] == ["alpha"]
    second.close()


def test_reader_sees_writes_of_another_instance(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer, reader = FaissBackend(tmp_path), FaissBackend(tmp_path)
    writer.set_meta("dim", str(DIM))
    writer.put_document(_doc("a"), _chunks([("alpha", "kk", (0,))]))
    assert len(reader.search(_vec(0), 5)) == 1
    with writer.writing():  # inside a batch the FAISS file is not saved yet: the reader syncs from SQLite
        writer.put_document(_doc("b"), _chunks([("beta", "kk", (0, 1))]))
        assert len(reader.search(_vec(0), 5)) == 2
        writer.delete_document("a")
        assert [reader.get_chunks([c])[c].text for c, _ in reader.search(_vec(0), 5)] == ["beta"]
    writer.close()
    reader.close()


def test_stale_or_corrupt_vector_file_is_rebuilt_from_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = FaissBackend(tmp_path)
    first.set_meta("dim", str(DIM))
    first.put_document(_doc("a"), _chunks([("alpha", "kk", (0,))]))
    first.close()
    for path in tmp_path.glob("vectors-*.faiss"):
        path.write_bytes(b"garbage")
    second = FaissBackend(tmp_path)
    assert [second.get_chunks([c])[c].text for c, _ in second.search(_vec(0), 1)] == ["alpha"]
    second.close()


def test_switch_model_repoints_all_chunks_at_once(filled: Backend) -> None:
    ids = [c.chunk_id for batch in filled.iter_chunks() for c in batch]
    filled.store_vectors([("new-key", _vec(7))])
    filled.switch_model("other", DIM, [(cid, "new-key") for cid in ids], weights="0123abcd")
    assert filled.get_meta("model") == "other"
    assert filled.get_meta(WEIGHTS_META) == "0123abcd"  # recorded in the same switch, not after it
    hits = filled.search(_vec(7), 10)
    assert len(hits) == 4 and all(score == pytest.approx(1.0, abs=1e-5) for _, score in hits)


def _has_vector_index(backend: Backend) -> bool:
    """On PostgreSQL: whether the HNSW index exists (pg_indexes); other backends have nothing to drop."""
    if not isinstance(backend, PgBackend):
        return True
    with backend._write() as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'chunks' AND indexdef LIKE "
                                 "'%USING hnsw%'").fetchone()[0])


def _bulk_docs(vectors: np.ndarray, per_doc: int = 10) -> list[tuple[DocumentRecord, list[NewChunk]]]:
    return [(_doc(f"bulk{d}"), [NewChunk(i, f"bulk {d}-{i}", "ru", None, 0, 1, 1, f"bulk-{d}-{i}",
                                         vectors[d * per_doc + i]) for i in range(per_doc)])
            for d in range(len(vectors) // per_doc)]


def _exact_texts(vectors: np.ndarray, query: np.ndarray, k: int, per_doc: int = 10) -> list[str]:
    return [f"bulk {row // per_doc}-{row % per_doc}" for row in np.argsort(-(vectors @ query))[:k]]


def test_bulk_loaded_documents_search_like_exact_search(backend: Backend) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((300, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    backend.set_meta("model", "test")
    backend.set_meta("dim", str(DIM))
    docs = _bulk_docs(vectors)
    with backend.bulk_loading():
        for doc, chunks in docs[:15]:
            backend.put_document(doc, chunks)
        if isinstance(backend, PgBackend):
            assert not _has_vector_index(backend)
        hits = backend.search(vectors[3], 5)  # readers keep working inside the block
        assert [backend.get_chunks([c])[c].text for c, _ in hits] == _exact_texts(vectors[:150], vectors[3], 5)
        for doc, chunks in docs[15:]:
            backend.put_document(doc, chunks)
    assert _has_vector_index(backend)
    assert backend.stats()["vectors"] == 300
    for query in rng.standard_normal((10, DIM)).astype(np.float32):
        query /= np.linalg.norm(query)
        hits = backend.search(query, 5)
        assert [backend.get_chunks([c])[c].text for c, _ in hits] == _exact_texts(vectors, query, 5)
        scores = np.sort(vectors @ query)[::-1][:5]
        np.testing.assert_allclose([s for _, s in hits], scores, atol=1e-5)


def test_bulk_loading_restores_the_index_after_an_error(filled: Backend) -> None:
    with pytest.raises(RuntimeError, match="disk on fire"), filled.bulk_loading():
        filled.put_document(_doc("c"), _chunks([("zeta", "kk", (5,))]))
        raise RuntimeError("disk on fire")
    assert _has_vector_index(filled)
    assert [filled.get_chunks([c])[c].text for c, _ in filled.search(_vec(5), 1)] == ["zeta"]
    assert filled.stats()["vectors"] == 5


def test_embedded_writes_update_the_index_without_listing_the_store(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((200, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = _bulk_docs(vectors)  # 20 documents of 10 chunks
    with FaissBackend(tmp_path) as backend:
        backend.set_meta("model", "test")
        backend.set_meta("dim", str(DIM))
        backend.put_document(*docs[0])
        backend.search(vectors[0], 1)  # the index now matches the store
        listings = []
        listing = backend.store.chunk_ids
        monkeypatch.setattr(backend.store, "chunk_ids", lambda: listings.append(1) or listing())
        for doc, chunks in docs[1:]:
            backend.put_document(doc, chunks)
        backend.put_document(*docs[4])  # a replacement: its old chunk ids leave the index
        assert backend.delete_document(docs[7][0].doc_id)
        assert listings == []  # every write applied its own chunk ids
        assert backend.stats()["vectors"] == 190
        for query in vectors[::17]:
            scores = vectors @ query
            scores[70:80] = -np.inf  # the deleted document
            hits = backend.search(query, 5)
            assert [backend.get_chunks([c])[c].text for c, _ in hits] == \
                [f"bulk {row // 10}-{row % 10}" for row in np.argsort(-scores)[:5]]
    with FaissBackend(tmp_path) as reopened:  # and what was saved is the same index
        hits = reopened.search(vectors[3], 3)
        assert [reopened.get_chunks([c])[c].text for c, _ in hits] == _exact_texts(vectors, vectors[3], 3)
