"""Serialised, atomic writes and `pedkb check [--repair]` on both backends: preconditions decided inside the write,
one writer at a time, the index following a commit, damage found with its numbers, repaired from the rows, and a
server that refuses a store it finds inconsistent (issue 15)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from fastapi.testclient import TestClient

from cli.main import main as cli_main
from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.records import DocumentRecord, NewChunk
from index.store.base import Backend
from index.store.embedded.backend import FaissBackend
from index.store.postgres.backend import PgBackend
from pedkb.errors import ConflictError, InconsistentStoreError, NotFoundError
from pedkb.settings import Settings
from search_api.app import create_app
from tests.support.load import experience

DIM = 256


def _fill(kb: KnowledgeBase, n: int = 6) -> None:
    for i in range(n):
        kb.bank.create(experience(f"exp-t-{i}", f"Опыт номер{i} про дебаты"))


def _sql(kb: KnowledgeBase, statement: str) -> None:
    """Damage the store behind the backend's back."""
    backend = kb.backend
    if isinstance(backend, PgBackend):
        with backend._write() as conn:
            conn.execute(statement)
    else:
        with sqlite3.connect(Path(kb.settings.data) / "pedkb.sqlite3") as db:
            db.execute(statement)


def _cli_check(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("PEDKB_BACKEND", kb.settings.backend)
    monkeypatch.setenv("PEDKB_MODEL", "hashing:256")
    return cli_main(["--data", str(kb.settings.data), "check", *args])


def test_a_clean_store_checks_clean(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _fill(kb)
    report = kb.check()
    assert report.ok, report.lines()
    assert report.counts["chunks"] == report.counts["lexical"] == report.counts["vectors"] == 6
    assert _cli_check(kb, monkeypatch) == 0
    assert "consistent" in capsys.readouterr().out


def test_missing_lexical_entries_and_wrong_counts_are_found_and_repaired(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _fill(kb)
    victim = kb.backend.document_chunks("exp-t-2")[0].chunk_id
    if isinstance(kb.backend, PgBackend):
        _sql(kb, f"DELETE FROM chunk_terms WHERE chunk_id = {victim}")
    else:
        _sql(kb, f"DELETE FROM chunk_terms WHERE rowid = {victim}")
    _sql(kb, "UPDATE documents SET n_chunks = 99 WHERE doc_id = 'exp-t-3'")
    if isinstance(kb.backend, PgBackend):
        _sql(kb, "DROP INDEX chunks_embedding_hnsw")
    report = kb.check()
    assert report.number("lexical_missing") == 1 and report.number("chunk_count_wrong") == 1, report.lines()
    assert report.number("vector_index_missing") == isinstance(kb.backend, PgBackend)
    assert _cli_check(kb, monkeypatch) == 1
    out = capsys.readouterr().out
    assert "PROBLEM lexical_missing: 1" in out and "pedkb check --repair" in out
    assert all(hit.document.doc_id != "exp-t-2" for hit in kb.search("номер2", mode="lexical", k=3))
    with pytest.raises(InconsistentStoreError, match="pedkb check --repair"):
        kb.refuse_inconsistent()
    assert _cli_check(kb, monkeypatch, "--repair") == 0
    assert "repaired: " in capsys.readouterr().out
    assert kb.check().ok
    assert kb.search("номер2", mode="lexical", k=1)[0].document.doc_id == "exp-t-2"
    assert kb.backend.get_document("exp-t-3").n_chunks == 1  # type: ignore[union-attr]


def test_missing_vectors_are_re_embedded(tmp_path: Path) -> None:
    """Embedded only: PostgreSQL keeps each chunk's vector in its own row (NOT NULL), so none can go missing."""
    settings = Settings(data=tmp_path / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8)
    kb = KnowledgeBase(settings, embedder=HashingEmbedder(DIM))
    _fill(kb, 3)
    _sql(kb, "DELETE FROM vectors WHERE key = (SELECT vector_key FROM chunks ORDER BY chunk_id DESC LIMIT 1)")
    kb.close()
    for path in Path(settings.data).glob("vectors-*.faiss"):
        path.unlink()
    with KnowledgeBase(settings, embedder=HashingEmbedder(DIM)) as reopened:  # the index rebuilt from the rows
        report = reopened.check()
        assert report.number("vectors_missing") == 1 and report.number("index_missing") == 1, report.lines()
        repaired = reopened.check(repair=True)
        assert any("re-embedded" in line for line in repaired.repaired), repaired.lines()
        assert reopened.check().ok
        assert reopened.search("номер2", mode="dense", k=1)[0].document.doc_id == "exp-t-2"


def test_the_model_fingerprint_is_checked(kb: KnowledgeBase, settings: Settings) -> None:
    _fill(kb, 2)
    other = KnowledgeBase(settings, embedder=HashingEmbedder(128), backend=kb.backend)  # the kb fixture closes it
    report = other.check()
    assert report.number("model_mismatch") == 1 and not report.problems[0].repairable
    assert other.check(quick=True).ok  # the quick part (serve's) needs no model


def test_server_refuses_an_inconsistent_store(kb: KnowledgeBase, settings: Settings) -> None:
    _fill(kb, 3)
    _sql(kb, "UPDATE documents SET n_chunks = 7 WHERE doc_id = 'exp-t-0'")
    kb.close()
    with pytest.raises(InconsistentStoreError, match="pedkb check --repair"), \
            TestClient(create_app(settings)):
        pass
    with KnowledgeBase(settings, embedder=HashingEmbedder(DIM)) as again:
        again.check(repair=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/health/live").status_code == 200


def test_creation_and_update_preconditions_are_decided_in_the_write(kb: KnowledgeBase) -> None:
    _fill(kb, 1)
    generation = kb.backend.get_meta("generation")
    with pytest.raises(ConflictError):
        kb.bank.put(kb.bank.get("exp-t-0"), must_exist=False)
    with pytest.raises(NotFoundError):
        kb.bank.update("exp-none", experience("exp-none", "Нет"))
    assert kb.backend.get_meta("generation") == generation  # refused writes changed nothing
    assert [d.doc_id for d in kb.documents("experience")] == ["exp-t-0"]


def test_threads_writing_at_once_leave_a_consistent_store(kb: KnowledgeBase) -> None:
    _fill(kb, 1)  # the classifier's first use
    errors: list[BaseException] = []
    winners: list[int] = []

    def write(n: int) -> None:
        try:
            try:
                kb.bank.create(experience("exp-shared", f"Общий опыт {n}"))
                winners.append(n)
            except ConflictError:
                pass
            for j in range(6):
                kb.bank.create(experience(f"exp-{n}-{j}", f"Опыт {n} {j}"))
                kb.search(f"Опыт {n}", k=5)
                if j % 2:
                    kb.bank.update(f"exp-{n}-{j}", experience(f"exp-{n}-{j}", f"Изменён {n} {j}"))
                if j % 3 == 2:
                    kb.bank.delete(f"exp-{n}-{j - 1}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(winners) == 1
    ids = [d.doc_id for d in kb.documents("experience")]
    assert len(ids) == len(set(ids)) == 1 + 1 + 8 * 4
    report = kb.check()
    assert report.ok and report.counts["vectors"] == report.counts["chunks"], report.lines()


def _doc(doc_id: str) -> tuple[DocumentRecord, list[NewChunk]]:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[hash(doc_id) % DIM] = 1.0
    return (DocumentRecord(doc_id=doc_id, source=f"/src/{doc_id}", title=doc_id, fmt="txt", sha256="0", size=1),
            [NewChunk(0, f"text of {doc_id}", "ru", None, 0, 1, 1, f"key-{doc_id}", vector)])


def test_a_writer_waits_for_the_lock_at_any_depth(tmp_path: Path) -> None:
    first, second = FaissBackend(tmp_path), FaissBackend(tmp_path)  # one folder: one lock for both
    first.set_meta("dim", str(DIM))
    done = threading.Event()
    with first.writing(), first._writer.hold(), first._writer.hold():  # depth 2 in this thread
        writer = threading.Thread(target=lambda: (first.put_document(*_doc("b")), second.put_document(*_doc("c")),
                                                  done.set()))
        writer.start()
        time.sleep(0.4)
        assert not done.is_set()  # the other thread waits, even though a batch is open at depth > 0
        first.put_document(*_doc("a"))  # this thread re-enters
    writer.join(30)
    assert done.is_set()
    assert first.check().ok and first.stats()["vectors"] == 3
    first.close()
    second.close()


def test_a_failure_after_the_commit_leaves_the_write_and_a_rebuilt_index(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    backend = FaissBackend(tmp_path)
    backend.set_meta("dim", str(DIM))
    backend.put_document(*_doc("a"))

    def broken(*args: object) -> None:
        raise RuntimeError("faiss fell over")

    monkeypatch.setattr(backend, "_apply_write", broken)
    backend.put_document(*_doc("b"))  # committed: no error reaches the caller
    monkeypatch.undo()
    assert backend.get_document("b") is not None
    assert {cid for cid, _ in backend.search(_doc("b")[1][0].vector, 5)} == {
        c.chunk_id for d in ("a", "b") for c in backend.document_chunks(d)}
    assert backend.check().ok
    backend.close()


def test_duplicate_ids_in_the_vector_file_are_found_refused_and_rebuilt(tmp_path: Path) -> None:
    backend = FaissBackend(tmp_path)
    backend.set_meta("dim", str(DIM))
    for name in "abc":
        backend.put_document(*_doc(name))
    backend.close()
    [(path)] = list(tmp_path.glob("vectors-*.faiss"))
    index = faiss.read_index(str(path))
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    index.add_with_ids(np.stack([index.reconstruct(int(i)) for i in ids[:2]]), ids[:2])  # 5 vectors, 3 chunks
    faiss.write_index(index, str(path))
    backend = FaissBackend(tmp_path)
    report = backend.check(quick=True)
    assert report.number("file_duplicates") == 2 and report.counts["file_vectors"] == 5, report.lines()
    repaired = backend.check(repair=True)
    assert repaired.repaired and backend.check().ok
    assert backend.stats()["vectors"] == 3
    backend.close()


def test_first_writes_at_once_on_a_fresh_store(backend: Backend) -> None:
    errors: list[BaseException] = []

    def first_write(n: int) -> None:
        try:
            backend.set_meta("model", "test")  # what `EmbeddingSpace.claim` does on a store's first write
            backend.set_meta("dim", str(DIM))
            backend.put_document(*_doc(f"first{n}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    report = backend.check()
    assert report.ok and report.counts["chunks"] == report.counts["vectors"] == 8, report.lines()
