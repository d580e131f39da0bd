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
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from index.lexical import ANALYZER, index_terms
from index.records import SearchFilters
from index.store.filter_sql import filter_clause
from index.store.generation_cache import GenerationCache

log = logging.getLogger(__name__)

LEXICAL_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
"""
_BATCH = 500
TERM_SCORES_MIN_ROWS = 20_000  # from this many chunks, an unfiltered search sums per-term scores (TermScores)
TERM_SCORES_MIN_DF = 200  # a term in at least this many chunks has its scores kept (scoring it takes 0.4 ms or more)
TERM_SCORES_BYTES = 64 << 20  # the kept scores' memory per process


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
    return " OR ".join(_quoted(term) for term in dict.fromkeys(t for t in terms if t))


class TermScores:
    """Each common term's BM25 contribution to every chunk holding it, kept for one store generation.

    FTS5's `bm25()` of an OR query is the sum over its terms of each term's own `bm25()` (the same IDF, document
    length and average; summed in the same order, so the same doubles), and scoring is what costs: finding the
    rows that share a term with the query takes 2-3 ms at 100k chunks, scoring them 25-50 ms. Common terms
    (the folded prefixes of педагог, учитель, оқушы ...) cost the most and recur across queries, so their scores
    are kept (TERM_SCORES_MIN_DF rows at least, TERM_SCORES_BYTES in all, least recently used dropped) until a
    write changes the store's generation (`GenerationCache`). At 100k chunks a term in 200-400 chunks takes 0.4 ms
    to score, one in 400-1,000 1-5 ms (a word of one query in eight of the API bench, 5 ms each time while only
    terms in 1,000 chunks were kept); a rarer term costs 0.2 ms, and is seldom asked for again.
    """

    def __init__(self, max_bytes: int = TERM_SCORES_BYTES) -> None:
        self.kept: GenerationCache[tuple[np.ndarray, np.ndarray]] = GenerationCache(
            max_bytes, weigh=lambda found: found[0].nbytes + found[1].nbytes)
        self._rows: GenerationCache[int] = GenerationCache(1)

    def rows(self, db: sqlite3.Connection, generation: int) -> int:
        """The number of indexed chunks at `generation`."""
        return self._rows.get("rows", generation, lambda: int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]))

    def prefill(self, db: sqlite3.Connection, generation: int, seconds: float) -> int:
        """Score the most common terms ahead of the searches that will need them (a serving process, once warm):
        most chunks first, for at most `seconds` and while the next one fits the budget (none is dropped again);
        returns how many terms are kept. Nothing below TERM_SCORES_MIN_ROWS chunks, where none are kept."""
        if self.rows(db, generation) < TERM_SCORES_MIN_ROWS:
            return 0
        deadline = time.monotonic() + seconds
        for term, chunks in common_terms(db):
            if time.monotonic() >= deadline or self.kept.weight + 16 * chunks > self.kept.budget:
                break  # 16 bytes a chunk: its id and its score
            self.scores(db, term, generation)
        return len(self.kept)

    def scores(self, db: sqlite3.Connection, term: str, generation: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids ascending, BM25 contributions) of one term."""
        return self.kept.get(term, generation, lambda: _term_scores(db, term),
                             keep=lambda found: found[0].size >= TERM_SCORES_MIN_DF)


def common_terms(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """(term, chunks holding it) for the terms in TERM_SCORES_MIN_DF chunks or more, most common first (FTS5's
    own vocabulary, through a table in the connection's temporary schema: nothing is written to the store)."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_terms_vocabulary USING fts5vocab(main, chunk_terms, row)")
    return [(term, int(chunks)) for term, chunks in db.execute(
        "SELECT term, doc FROM temp.chunk_terms_vocabulary WHERE doc >= ? ORDER BY doc DESC, term",
        (TERM_SCORES_MIN_DF,))]


def _term_scores(db: sqlite3.Connection, term: str) -> tuple[np.ndarray, np.ndarray]:
    rows = db.execute("SELECT rowid, bm25(chunk_terms) FROM chunk_terms WHERE chunk_terms MATCH ? ORDER BY rowid",
                      (_quoted(term),)).fetchall()
    pairs = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return pairs[:, 0].astype(np.int64), -pairs[:, 1]


def _quoted(term: str) -> str:
    """A term as an FTS5 string (so that no term is read as an operator)."""
    return '"' + term.replace('"', '""') + '"'


def _top_by_terms(db: sqlite3.Connection, terms: Sequence[str], k: int, cache: TermScores,
                  generation: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The k best chunks by the sum of the terms' kept scores, ordered as the OR query orders them (score, then
    chunk id); with `allowed` (sorted chunk ids), the k best of those."""
    parts = [cache.scores(db, term, generation) for term in dict.fromkeys(t for t in terms if t)]
    parts = [(ids, values) for ids, values in parts if ids.size]
    if not parts:
        return []
    top = max(int(ids[-1]) for ids, _ in parts)
    total = np.zeros(top + 1, dtype=np.float64)
    seen = np.zeros(top + 1, dtype=bool)
    for ids, values in parts:  # in the query's term order, as bm25() sums its phrases
        total[ids] += values
        seen[ids] = True
    ids = np.flatnonzero(seen)
    if allowed is not None:
        ids = ids[among(ids, allowed)]
    values = total[ids]
    if ids.size > k:  # the k best; at the boundary, equal scores go by chunk id as in ORDER BY rank, rowid
        kth = np.partition(values, ids.size - k)[ids.size - k]
        above = np.flatnonzero(values > kth)
        equal = np.flatnonzero(values == kth)[:k - above.size]
        keep = np.concatenate([above, equal])
        ids, values = ids[keep], values[keep]
    order = np.lexsort((ids, -values))
    return list(zip(ids[order].tolist(), values[order].tolist(), strict=True))


def search(db: sqlite3.Connection, terms: Sequence[str], k: int, filters: SearchFilters | None,
           cache: TermScores | None = None, generation: int | None = None,
           passing: Callable[[], np.ndarray] | None = None) -> list[tuple[int, float]]:
    """The k chunks with the best BM25 score for the terms, as (chunk_id, score) best first; higher is better.

    With a `cache` and the store's `generation`, a search of a store of TERM_SCORES_MIN_ROWS chunks or more sums
    the terms' kept scores (`TermScores`): the same list, without scoring the common terms again. Filtered, it
    needs `passing` (the sorted ids of the chunks the filter passes): BM25 does not depend on the filter, so the
    filtered list is the unfiltered one without the chunks the filter does not pass."""
    expression = match_expression(terms)
    if not expression or k <= 0:
        return []
    filtered = filters is not None and not filters.is_empty()
    if (cache is not None and generation is not None and (not filtered or passing is not None)
            and cache.rows(db, generation) >= TERM_SCORES_MIN_ROWS):
        return _top_by_terms(db, terms, k, cache, generation, passing() if passing is not None and filtered else None)
    return [(int(cid), -float(rank)) for cid, rank in db.execute(*or_query(expression, k, filters))]


def or_query(expression: str, k: int, filters: SearchFilters | None) -> tuple[str, list[object]]:
    """FTS5's OR query for a match expression: the k best rows by bm25(), restricted to the filtered chunks.

    The filter is `+rowid IN (...)`: the unary plus keeps the rowid test out of FTS5's plan. Handed to FTS5, every
    filtered chunk id became a lookup that ran the whole match again (a language filter on 100,000 chunks took
    15-80 s, against 65 ms for one match pass checked against the filtered ids; docs/benchmarks.md)."""
    sql = "SELECT rowid, bm25(chunk_terms) AS rank FROM chunk_terms WHERE chunk_terms MATCH ?"
    params: list[object] = [expression]
    if filters is not None and not filters.is_empty():
        where, extra = filter_clause(filters, chunk_level=True)
        sql += (" AND +rowid IN (SELECT c.chunk_id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id "
                f"WHERE {where})")
        params.extend(extra)
    sql += " ORDER BY rank, rowid LIMIT ?"
    params.append(int(k))
    return sql, params


def among(ids: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Which of `ids` are in `allowed` (sorted chunk ids), as a mask."""
    if allowed.size == 0:
        return np.zeros(ids.shape, dtype=bool)
    at = np.minimum(np.searchsorted(allowed, ids), allowed.size - 1)
    return np.asarray(allowed[at] == ids)
