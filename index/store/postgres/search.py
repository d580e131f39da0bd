"""Search support of the PostgreSQL backend: the lexical index and the per-language vector statistics.

The lexical index scores exactly like the embedded store's FTS5 `bm25()` (k1 = 1.2, b = 0.75, IDF
ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, document length = number of terms, N and the average length over
all chunks), so both backends rank alike. `chunk_terms(chunk_id, term, tf)` holds the postings of
`lexical.index_terms`, `chunks.n_terms` each chunk's length; both are written in the transaction that writes the
chunks (`index_document`) and go with them by ON DELETE CASCADE. `meta.lexical_analyzer` names the analysis; a
database indexed by another one (or before migration 2) is re-indexed when the backend opens it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from index.lexical import ANALYZER, index_terms
from index.records import SearchFilters
from index.store.filter_sql import filter_clause
from index.store.statistics import LanguageStatistics, estimate_statistics

log = logging.getLogger(__name__)

K1, B, IDF_FLOOR = 1.2, 0.75, 1e-6  # FTS5's bm25() constants
LOCK_KEY = 7_340_002  # pg_advisory_xact_lock key serialising re-indexing across processes
_BATCH = 500


def chunk_terms(text: str, lang: str) -> Counter[str]:
    """Term frequencies of one chunk as the lexical index stores them; their sum is the chunk's `n_terms`."""
    return Counter(index_terms(text, lang))


def index_document(conn: Any, doc_id: str, terms: Sequence[Counter[str]]) -> None:
    """Write the postings of a document's chunks (inside the transaction that wrote them, by COPY).

    `terms` are `chunk_terms` of each chunk in the order the chunks were written, which is chunk id order; the
    caller wrote their lengths into `chunks.n_terms` with the chunks, so no chunk row is updated afterwards.
    """
    ids = [row[0] for row in conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = %s ORDER BY chunk_id",
                                          (doc_id,))]
    if len(ids) != len(terms):
        raise ValueError(f"{doc_id}: {len(ids)} chunks stored, {len(terms)} analysed")
    with conn.cursor() as cur, cur.copy("COPY chunk_terms (chunk_id, term, tf) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "text", "int4"])
        for chunk_id, counts in zip(ids, terms, strict=True):
            for term, tf in counts.items():
                copy.write_row((chunk_id, term, tf))


def _index_chunks(conn: Any, rows: Sequence[tuple[int, str, str]]) -> None:
    postings: list[tuple[int, str, int]] = []
    lengths: list[tuple[int, int]] = []
    for chunk_id, text, lang in rows:
        counts = chunk_terms(text, lang)
        lengths.append((sum(counts.values()), chunk_id))
        postings.extend((chunk_id, term, tf) for term, tf in counts.items())
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO chunk_terms (chunk_id, term, tf) VALUES (%s, %s, %s)", postings)
        cur.executemany("UPDATE chunks SET n_terms = %s WHERE chunk_id = %s", lengths)


def ensure_lexical_index(conn: Any) -> bool:
    """Re-index every chunk when the lexical index was built by another analysis; True when it did."""
    if _analyzer(conn) == ANALYZER:
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        if _analyzer(conn) == ANALYZER:
            return False
        conn.execute("DELETE FROM chunk_terms")
        last, count = -1, 0
        while rows := conn.execute("SELECT chunk_id, text, lang FROM chunks WHERE chunk_id > %s ORDER BY chunk_id "
                                   "LIMIT %s", (last, _BATCH)).fetchall():
            _index_chunks(conn, rows)
            last, count = rows[-1][0], count + len(rows)
        conn.execute("INSERT INTO meta (key, value) VALUES ('lexical_analyzer', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (ANALYZER,))
    if count:
        log.info("lexical index rebuilt from %d chunks (%s)", count, ANALYZER)
    return True


def _analyzer(conn: Any) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'lexical_analyzer'").fetchone()
    return None if row is None else str(row[0])


def lexical_search(conn: Any, terms: Sequence[str], k: int, filters: SearchFilters | None) -> list[tuple[int, float]]:
    """The k chunks with the best BM25 score for the terms, as (chunk_id, score) best first."""
    unique = list(dict.fromkeys(t for t in terms if t))
    if not unique or k <= 0:
        return []
    where: str = ""
    params: list[object] = []
    if filters is not None and not filters.is_empty():
        where, params = filter_clause(filters, chunk_level=True, mark="%s")
    sql = f"""
        WITH totals AS (SELECT count(*)::float8 AS n, coalesce(sum(n_terms), 0)::float8 AS total FROM chunks),
        idf AS (
            SELECT t.term, CASE WHEN ln((totals.n - count(*) + 0.5) / (count(*) + 0.5)) <= 0 THEN {IDF_FLOOR}
                                ELSE ln((totals.n - count(*) + 0.5) / (count(*) + 0.5)) END AS idf
            FROM chunk_terms t, totals WHERE t.term = ANY(%s) GROUP BY t.term, totals.n
        )
        SELECT c.chunk_id,
               sum(idf.idf * t.tf * {K1 + 1} / (t.tf + {K1} * (1 - {B} + {B} * c.n_terms / (totals.total / totals.n))))
                   AS score
        FROM chunk_terms t JOIN idf ON idf.term = t.term JOIN chunks c ON c.chunk_id = t.chunk_id
             JOIN documents d ON d.doc_id = c.doc_id CROSS JOIN totals
        {"WHERE " + where if where else ""}
        GROUP BY c.chunk_id ORDER BY score DESC, c.chunk_id LIMIT %s"""
    rows = conn.execute(sql, [unique, *params, k]).fetchall()
    return [(int(cid), float(score)) for cid, score in rows]


def language_statistics(conn: Any) -> tuple[dict[str, LanguageStatistics], bool]:
    """Count, mean and covariance of the chunk vectors per language (`estimate_statistics`: a large store is read
    from a row sample, the same rows for the same table, streamed from a server-side cursor); returns
    (statistics, sampled)."""
    counts = {lang: int(n) for lang, n in conn.execute("SELECT lang, count(*) FROM chunks GROUP BY lang")}

    def read(langs: Sequence[str], fraction: float) -> Iterator[tuple[str, np.ndarray]]:
        sample = "" if fraction >= 1 else f" TABLESAMPLE BERNOULLI ({min(100.0, 100 * fraction):.6f}) REPEATABLE (7)"
        with conn.transaction(), conn.cursor(name="language_statistics") as cur:
            cur.itersize = 2048
            cur.execute(f"SELECT lang, embedding FROM chunks{sample} WHERE lang = ANY(%s)", (list(langs),))
            for lang, e in cur:
                yield lang, np.asarray(e.to_numpy() if hasattr(e, "to_numpy") else e, dtype=np.float32)

    return estimate_statistics(counts, read)


def statistics_on_own_connection(url: str) -> tuple[dict[str, LanguageStatistics], bool]:
    """The statistics on a connection of their own, for a background refresh: searches keep every pooled
    connection for the seconds the pass takes."""
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        register_vector(conn)
        return language_statistics(conn)
