"""The PostgreSQL backend's writer lock and `pedkb check`: one writer transaction at a time per database, and the
rows vs postings vs embeddings vs HNSW index comparison with its repair.

Every write transaction starts with `begin_write`: a transaction-level advisory lock on one key (so writers of all
processes queue, in the order PostgreSQL grants it, and release it at COMMIT or ROLLBACK), then the item's
precondition. A write that fails rolls back whole: rows, postings and embeddings are one transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from index.store.base import check_precondition
from index.store.consistency import ConsistencyReport
from index.store.postgres import search as pg_search
from index.store.postgres.schema import BULK_LOCK_KEY, build_vector_index, has_vector_index

log = logging.getLogger(__name__)

WRITE_LOCK_KEY = 7_340_005  # pg_advisory_xact_lock key every write transaction takes first


def begin_write(conn: Any, doc_id: str | None = None, must_exist: bool | None = None,
                expect_sha256: str | None = None) -> float | None:
    """Inside a transaction: wait for the writer lock; for an item, check `must_exist` (and `expect_sha256`) and
    return its creation time (None when it is new)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
    if doc_id is None:
        return None
    row = conn.execute("SELECT created, sha256 FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()
    check_precondition(doc_id, row is not None, must_exist, expect_sha256=expect_sha256,
                       current_sha256=None if row is None else row[1])
    return None if row is None else float(row[0])


def _count(conn: Any, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def check(conn: Any, *, quick: bool, repair: bool, index: tuple[str, int]) -> ConsistencyReport:
    """Compare rows, postings and embeddings on an autocommit connection; `repair` fixes them as a writer
    (`index`: the memory and workers of an HNSW build)."""
    report = ConsistencyReport("postgresql")
    with conn.transaction():
        if repair:
            begin_write(conn)  # no other writer until the repair commits
        else:  # one snapshot for every comparison, whatever commits meanwhile
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _inspect(conn, report, quick)
        if repair and report.problems:
            _repair(conn, report, *index)
    return report


def _inspect(conn: Any, report: ConsistencyReport, quick: bool) -> None:
    """The comparisons; `quick` leaves out those that scan the postings (the foreign key and the write
    transaction keep them rare; a full check looks)."""
    report.counts.update(documents=_count(conn, "SELECT count(*) FROM documents"),
                         chunks=_count(conn, "SELECT count(*) FROM chunks"))
    report.problem("chunk_count_wrong", _count(conn, (
        "SELECT count(*) FROM documents d WHERE n_chunks != (SELECT count(*) FROM chunks c "
        "WHERE c.doc_id = d.doc_id)")), "documents whose recorded chunk count differs from their chunks")
    if quick:
        report.problem("lexical_missing", _count(conn, "SELECT count(*) FROM chunks WHERE n_terms IS NULL"),
                       "chunks never analysed for the lexical index: BM25 search cannot find them")
    else:
        report.counts["lexical"] = _count(conn, "SELECT count(DISTINCT chunk_id) FROM chunk_terms")
        report.problem("lexical_missing", _count(conn, (
            "SELECT count(*) FROM chunks c WHERE c.n_terms IS NULL OR (c.n_terms > 0 AND NOT EXISTS "
            "(SELECT 1 FROM chunk_terms t WHERE t.chunk_id = c.chunk_id))")),
            "chunks without lexical postings: BM25 search cannot find them")
        report.problem("lexical_orphans", _count(conn, (
            "SELECT count(DISTINCT t.chunk_id) FROM chunk_terms t LEFT JOIN chunks c ON c.chunk_id = t.chunk_id "
            "WHERE c.chunk_id IS NULL")), "postings of chunks that no longer exist")
    dim_row = conn.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()
    if dim_row is None:
        return
    dim = int(dim_row[0])
    report.counts["vectors"] = report.counts["chunks"]  # one embedding column per chunk row: no duplicate ids
    if not quick:
        report.problem("lexical_length_wrong", _count(conn, (
            "SELECT count(*) FROM chunks c JOIN (SELECT chunk_id, sum(tf) AS n FROM chunk_terms GROUP BY chunk_id) "
            "t ON t.chunk_id = c.chunk_id WHERE t.n != c.n_terms")), "chunks whose length differs from their postings")
        report.problem("vectors_wrong_dimension", _count(conn, (
            f"SELECT count(*) FROM chunks WHERE vector_dims(embedding) != {dim}")),
            "chunk embeddings of another dimension than the store's: run `pedkb reindex`", repairable=False)
    bulk = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s",
                        (BULK_LOCK_KEY,)).fetchone()[0]
    if not has_vector_index(conn):
        if bulk:
            report.notes.append("a bulk load is running: the vector index is built when it ends")
        else:
            report.problem("vector_index_missing", 1, "the HNSW vector index is missing (searches scan every row)")


def _repair(conn: Any, report: ConsistencyReport, index_memory: str, index_workers: int) -> None:
    names = {p.name for p in report.problems}
    if names & {"lexical_missing", "lexical_orphans", "lexical_length_wrong"}:
        conn.execute("DELETE FROM chunk_terms t WHERE NOT EXISTS "
                     "(SELECT 1 FROM chunks c WHERE c.chunk_id = t.chunk_id)")
        rows = conn.execute(
            "SELECT c.chunk_id, c.text, c.lang FROM chunks c LEFT JOIN (SELECT chunk_id, sum(tf) AS n FROM chunk_terms "
            "GROUP BY chunk_id) t ON t.chunk_id = c.chunk_id WHERE c.n_terms IS NULL OR t.n IS DISTINCT FROM "
            "nullif(c.n_terms, 0)").fetchall()
        conn.execute("DELETE FROM chunk_terms WHERE chunk_id = ANY(%s)", ([r[0] for r in rows],))
        postings: list[tuple[int, str, int]] = []
        lengths: list[tuple[int, int]] = []
        for chunk_id, text, lang in rows:
            counts = pg_search.chunk_terms(text, lang)
            lengths.append((sum(counts.values()), chunk_id))
            postings.extend((chunk_id, term, tf) for term, tf in counts.items())
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO chunk_terms (chunk_id, term, tf) VALUES (%s, %s, %s)", postings)
            cur.executemany("UPDATE chunks SET n_terms = %s WHERE chunk_id = %s", lengths)
        report.repaired.append(f"lexical postings rebuilt for {len(rows)} chunks, orphans removed")
    if "chunk_count_wrong" in names:
        fixed = conn.execute("UPDATE documents d SET n_chunks = (SELECT count(*) FROM chunks c WHERE c.doc_id = "
                             "d.doc_id) WHERE n_chunks != (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id)"
                             ).rowcount
        report.repaired.append(f"{fixed} document chunk counts corrected")
    if "vector_index_missing" in names:
        dim = int(conn.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
        build_vector_index(conn, dim, index_memory, index_workers)
        report.repaired.append("HNSW vector index built")
    conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")
