"""PostgreSQL specifics against a real server: migrations, concurrent writers, a streaming replica, `pedkb migrate`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from index.embedding.hashing import HashingEmbedder
from index.knowledge_base import KnowledgeBase
from index.store.postgres.backend import PgBackend
from index.store.postgres.schema import BULK_LOCK_KEY, MIGRATIONS, VECTOR_INDEX
from pedkb.settings import Settings
from tests.conftest import DATA, REPO, fresh_database
from tests.support.pgserver import PgServer, start_replica, wait_for_replay

DOCS = [DATA / "kk_ru_bilingual.txt", DATA / "ky_narrow.txt", DATA / "ru_plain.txt", DATA / "guide.docx",
        DATA / "three_pages.pdf"]


def _settings(tmp: Path, backend: str, read: str | None = None) -> Settings:
    return Settings(data=tmp / "data", model="hashing:256", chunk_tokens=64, chunk_overlap=8, backend=backend,
                    read_backend=read)


def _pedkb(*args: str, backend: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64", "PEDKB_CHUNK_OVERLAP": "8"}
    if backend:
        env["PEDKB_BACKEND"] = backend
    return subprocess.Popen([sys.executable, "-m", "cli", "-q", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _has_hnsw(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = %s", (VECTOR_INDEX,)).fetchone()[0])


def test_opening_rebuilds_an_index_a_killed_bulk_load_left_dropped(pg_server: PgServer) -> None:
    url = fresh_database(pg_server)
    with PgBackend(url) as backend:
        backend.set_meta("dim", "8")
    with psycopg.connect(url, autocommit=True) as loader:
        loader.execute(f"DROP INDEX {VECTOR_INDEX}")
        loader.execute("SELECT pg_advisory_lock(%s)", (BULK_LOCK_KEY,))  # a bulk load still running
        PgBackend(url).close()
        assert not _has_hnsw(url)
    PgBackend(url).close()  # the loader's session ended without building the index
    assert _has_hnsw(url)


def test_migrations_are_recorded_and_applied_once(pg_server: PgServer) -> None:
    url = fresh_database(pg_server)
    PgBackend(url).close()
    PgBackend(url).close()
    with psycopg.connect(url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [v for v, _ in MIGRATIONS]


def test_bad_url_is_a_clear_error() -> None:
    from pedkb.errors import StoreError

    with pytest.raises(StoreError, match="127.0.0.1:1/nowhere"):
        PgBackend("postgresql://postgres:secret@127.0.0.1:1/nowhere")


def test_concurrent_uploads_of_one_file_make_one_document(pg_server: PgServer, tmp_path: Path) -> None:
    url = fresh_database(pg_server)
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        kb.ingest([DATA / "ru_plain.txt"])  # claims the model; the racers then replace the same document
        expected = kb.documents()[0].n_chunks
    target = DATA / "kk_ru_bilingual.txt"
    racers = [_pedkb("ingest", "--force", str(target), str(DATA / "ky_narrow.txt"), backend=url) for _ in range(4)]
    for proc in racers:
        proc.wait(timeout=120)
    assert all(p.returncode == 0 for p in racers), [p.stderr.read() for p in racers if p.stderr]
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        docs = kb.documents()
        assert sorted(Path(d.source).name for d in docs) == ["kk_ru_bilingual.txt", "ky_narrow.txt", "ru_plain.txt"]
        assert next(d for d in docs if d.source.endswith("ru_plain.txt")).n_chunks == expected
        for doc in docs:
            assert len(kb.backend.document_chunks(doc.doc_id)) == doc.n_chunks
        assert kb.stats()["chunks"] == sum(d.n_chunks for d in docs)


def test_several_processes_write_without_losing_any(pg_server: PgServer, tmp_path: Path) -> None:
    url = fresh_database(pg_server)
    files = []
    for i in range(6):
        path = tmp_path / f"note{i}.txt"
        path.write_text(f"Мұғалімдердің тәжірибесі нөмір{i}. Оқушылар жобамен жұмыс істейді нөмір{i}.", "utf-8")
        files.append(path)
    procs = [_pedkb("ingest", *map(str, files[i::3]), backend=url) for i in range(3)]
    for proc in procs:
        proc.wait(timeout=120)
    assert all(p.returncode == 0 for p in procs)
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        assert len(kb.documents()) == 6


def test_searches_go_to_a_streaming_replica(pg_server: PgServer, tmp_path: Path) -> None:
    url = fresh_database(pg_server)
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        kb.ingest(DOCS[:2])
    root = Path(tempfile.mkdtemp(prefix="pedkb-replica-"))
    os.chmod(root, 0o755)
    replica = start_replica(pg_server, root)
    try:
        read_url = replica.database_url(url.rsplit("/", 1)[1])
        with KnowledgeBase(_settings(tmp_path, url, read_url), embedder=HashingEmbedder(256)) as kb:
            backend = kb.backend
            assert isinstance(backend, PgBackend)
            with backend._read() as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
            with backend._write() as conn:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            kb.ingest([DATA / "ru_plain.txt"])
            wait_for_replay(pg_server, replica)
            hits = kb.search("учитель урок", k=20)
            assert any(h.document.source.endswith("ru_plain.txt") for h in hits)
            assert len(kb.documents()) == 3
    finally:
        replica.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_migrate_copies_an_embedded_installation(pg_server: PgServer, tmp_path: Path) -> None:
    data = tmp_path / "embedded"
    local = Settings(data=data, model="hashing:256", chunk_tokens=64, chunk_overlap=8)
    with KnowledgeBase(local, embedder=HashingEmbedder(256)) as kb:
        kb.ingest(DOCS)
        kb.bank.load_corpus(local.corpus)
        before_stats = kb.stats()
        queries = ["мұғалім оқушылар", "учитель урок", "мугалим сабак", "debates pairs"]
        before = {q: [(h.document.doc_id, h.chunk.ordinal) for h in kb.search(q, k=5)] for q in queries}
    url = fresh_database(pg_server)
    proc = _pedkb("migrate", "--from", str(data), "--to", url)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"copied {sum(before_stats['documents'].values())} documents" in out
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        after_stats = kb.stats()
        for key in ("documents", "chunks", "chunk_languages", "model", "dim", "model_weights"):
            assert after_stats[key] == before_stats[key], key
        for q in queries:
            assert [(h.document.doc_id, h.chunk.ordinal) for h in kb.search(q, k=5)] == before[q], q
        assert kb.bank.get("exp-ru-001").title
        assert _has_hnsw(url)  # the empty target was bulk loaded: the index is built after the COPYs
    again = _pedkb("migrate", "--from", str(data), "--to", url)
    assert again.wait(timeout=300) == 0  # re-running replaces by id: still the same counts
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        assert kb.stats()["chunks"] == before_stats["chunks"]


def test_reindex_to_another_dimension_while_a_reader_holds_a_snapshot(pg_server: PgServer, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A reader's open snapshot keeps the old vectors alive; the switch must still land and the index follow."""
    from index.store.postgres import schema as pg_schema

    monkeypatch.setattr(pg_schema, "SWITCH_INDEX_WAIT", 0.5)
    url = fresh_database(pg_server)
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        kb.ingest(DOCS[:3])
    with psycopg.connect(url) as reader:
        reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT count(*) FROM meta").fetchone()  # a snapshot, no lock on chunks
        with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(128)) as kb:
            chunks = kb.reindex()
            assert chunks == kb.stats()["chunks"] and kb.stats()["dim"] == 128
            assert Path(kb.search("ученики спорят в парах", k=1)[0].document.source).suffix
            assert not _has_hnsw(url) and "not built" in caplog.text  # searched by an exact scan meanwhile
        with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(128)) as kb:
            assert kb.search("мугалим сабак", k=3)  # opening does not fail while the snapshot lives on
        reader.execute("ROLLBACK")
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(128)) as kb:
        assert kb.search("мугалим сабак", k=3)
    assert _has_hnsw(url)


def test_reindex_to_another_dimension_builds_the_index_at_once(pg_server: PgServer, tmp_path: Path) -> None:
    url = fresh_database(pg_server)
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(256)) as kb:
        kb.ingest(DOCS[:3])
    with KnowledgeBase(_settings(tmp_path, url), embedder=HashingEmbedder(128)) as kb:
        kb.reindex()
        assert _has_hnsw(url)
        with psycopg.connect(url) as conn:
            definition = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                      (VECTOR_INDEX,)).fetchone()[0]
        assert "vector(128)" in definition
