"""The lexical index of the embedded store: an FTS5 table of analysed chunk terms, ranked by BM25.

`chunk_terms` holds one row per chunk (rowid = chunk_id) with the chunk's `lexical.index_terms` joined by spaces;
FTS5's own tokenizer then only splits on those spaces (no diacritics removed, case already folded). Rows are
written and deleted in the same transaction as their chunks (`SqliteStore.put_document` / `delete_document`), so
the lexical and the vector index never disagree. `meta.lexical_analyzer` records which analysis built the table;
a store built by another analysis (or before the table existed) is refilled from its chunks when opened.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence

from index.lexical import ANALYZER, index_terms
from index.records import SearchFilters
from index.store.filter_sql import filter_clause

log = logging.getLogger(__name__)

LEXICAL_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
"""
_BATCH = 500


def terms_text(text: str, lang: str) -> str:
    """The indexed form of a chunk: its analysed terms separated by spaces."""
    return " ".join(index_terms(text, lang))


def add_chunks(db: sqlite3.Connection, rows: Iterable[tuple[int, str, str]]) -> None:
    """Index (chunk_id, text, lang) rows; call inside the transaction that writes the chunks."""
    db.executemany("INSERT INTO chunk_terms(rowid, terms) VALUES (?, ?)",
                   ((cid, terms_text(text, lang)) for cid, text, lang in rows))


def remove_chunks(db: sqlite3.Connection, chunk_ids: Sequence[int]) -> None:
    """Drop chunks from the lexical index; call inside the transaction that deletes them."""
    ids = [int(i) for i in chunk_ids]
    for start in range(0, len(ids), _BATCH):
        part = ids[start:start + _BATCH]
        db.execute(f"DELETE FROM chunk_terms WHERE rowid IN ({','.join('?' * len(part))})", part)


def ensure_current(db: sqlite3.Connection) -> bool:
    """Refill the lexical index from the chunks when it was built by another analysis; True when it did."""
    if _analyzer(db) == ANALYZER:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        if _analyzer(db) == ANALYZER:  # another process did it while we waited for the lock
            db.execute("ROLLBACK")
            return False
        db.execute("DELETE FROM chunk_terms")
        rows = db.execute("SELECT chunk_id, text, lang FROM chunks ORDER BY chunk_id")
        count = 0
        while batch := rows.fetchmany(_BATCH):
            add_chunks(db, [(r[0], r[1], r[2]) for r in batch])
            count += len(batch)
        db.execute("INSERT INTO meta(key, value) VALUES ('lexical_analyzer', ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (ANALYZER,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if count:
        log.info("lexical index rebuilt from %d chunks (%s)", count, ANALYZER)
    return True


def _analyzer(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = 'lexical_analyzer'").fetchone()
    return None if row is None else str(row[0])


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of the terms (each quoted, so no term is read as an operator)."""
    unique = dict.fromkeys(t for t in terms if t)
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in unique)


def search(db: sqlite3.Connection, terms: Sequence[str], k: int,
           filters: SearchFilters | None) -> list[tuple[int, float]]:
    """The k chunks with the best BM25 score for the terms, as (chunk_id, score) best first; higher is better."""
    expression = match_expression(terms)
    if not expression or k <= 0:
        return []
    sql = "SELECT rowid, bm25(chunk_terms) AS rank FROM chunk_terms WHERE chunk_terms MATCH ?"
    params: list[object] = [expression]
    if filters is not None and not filters.is_empty():
        where, extra = filter_clause(filters, chunk_level=True)
        sql += (" AND rowid IN (SELECT c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                f"WHERE {where})")
        params.extend(extra)
    sql += " ORDER BY rank, rowid LIMIT ?"
    params.append(int(k))
    return [(int(cid), -float(rank)) for cid, rank in db.execute(sql, params)]
