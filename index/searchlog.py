"""The search log: what people searched for, how the answer looked and what they opened (docs/analytics.md).

A search is buffered in memory and written by a background thread in small batches, so searching never waits for
a disk or takes the store's writer lock. The embedded backend keeps the log in its own SQLite file
(`DATA/search-log.sqlite3`), PostgreSQL in the `search_log` table (migration in `store/postgres/schema.py`). No
client address and no API key is ever handed to this module, so none can be stored. Entries older than the
retention (`PEDKB_SEARCH_LOG_DAYS`) are deleted as the log is written; 0 days records nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from index.store.postgres.rows import safe_url
from index.store.postgres.schema import migrate
from ingest.language import detect_language
from pedkb.errors import StoreError
from pedkb.settings import Settings

log = logging.getLogger(__name__)

LOG_FILE = "search-log.sqlite3"
FLUSH_SECONDS = 1.0  # how long a search may wait in memory before it is written
BATCH = 200  # searches written in one transaction
MAX_PENDING = 20_000  # searches kept in memory when the store cannot be written; older ones are dropped
PRUNE_SECONDS = 3600.0  # how often the retention is applied while the log is being written
DAY = 86_400.0


@dataclass(frozen=True)
class LoggedSearch:
    """One search as the log keeps it: no address, no key, only the query and how it was answered."""

    search_id: str
    at: float  # seconds since the epoch (UTC)
    query: str
    lang: str  # the query's detected language
    mode: str
    filters: dict[str, Any] = field(default_factory=dict)
    n_items: int = 0
    top_score: float | None = None
    no_close_match: bool = False
    opened: str | None = None  # the item a user opened from this answer, if any
    opened_at: float | None = None

    @property
    def unmet(self) -> bool:
        """Nothing close came back, or nothing was opened from what came back."""
        return self.no_close_match or self.n_items == 0 or self.opened is None


class SearchLogStore(ABC):
    """Where the log is kept: one small contract, one class per backend."""

    @abstractmethod
    def add(self, searches: list[LoggedSearch], opens: list[tuple[str, str, float]]) -> None:
        """Write searches, then mark (search id, item id, when) as opened, in one transaction."""

    @abstractmethod
    def searches(self, since: float | None = None, lang: str | None = None) -> list[LoggedSearch]:
        """Logged searches from `since` on (all without it), of one query language or all, oldest first."""

    @abstractmethod
    def prune(self, before: float) -> int:
        """Delete the searches older than `before`; how many went."""

    @abstractmethod
    def purge(self) -> int:
        """Delete the whole log; how many searches went."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release connections."""


def _row(values: tuple[Any, ...]) -> LoggedSearch:
    sid, at, query, lang, mode, filters, n_items, top, no_match, opened, opened_at = values
    return LoggedSearch(sid, float(at), query, lang, mode, json.loads(filters), int(n_items),
                        None if top is None else float(top), bool(no_match), opened,
                        None if opened_at is None else float(opened_at))


COLUMNS = "search_id, at, query, lang, mode, filters, n_items, top_score, no_close_match, opened, opened_at"
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_log (
    search_id text PRIMARY KEY,
    at real NOT NULL,
    query text NOT NULL,
    lang text NOT NULL,
    mode text NOT NULL,
    filters text NOT NULL DEFAULT '{}',
    n_items integer NOT NULL,
    top_score real,
    no_close_match integer NOT NULL,
    opened text,
    opened_at real
);
CREATE INDEX IF NOT EXISTS search_log_at ON search_log (at);
"""


def _values(s: LoggedSearch) -> tuple[Any, ...]:
    return (s.search_id, s.at, s.query, s.lang, s.mode, json.dumps(s.filters, ensure_ascii=False, sort_keys=True),
            s.n_items, s.top_score, s.no_close_match, s.opened, s.opened_at)


class SqliteSearchLog(SearchLogStore):
    """The embedded backend's log: its own SQLite file beside the store (WAL), never the store's writer lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(SQLITE_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the search log ({exc})") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:  # one transaction, committed on success
                yield conn
        finally:
            conn.close()

    def add(self, searches: list[LoggedSearch], opens: list[tuple[str, str, float]]) -> None:
        """Write searches, then the opened items (the first open of a search counts)."""
        with self._connect() as conn:
            conn.executemany(f"INSERT OR IGNORE INTO search_log ({COLUMNS}) VALUES ({', '.join('?' * 11)})",
                             [_values(s) for s in searches])
            conn.executemany("UPDATE search_log SET opened = ?, opened_at = ? WHERE search_id = ? AND opened IS NULL",
                             [(item, at, sid) for sid, item, at in opens])

    def searches(self, since: float | None = None, lang: str | None = None) -> list[LoggedSearch]:
        """Logged searches, oldest first."""
        sql, args = f"SELECT {COLUMNS} FROM search_log WHERE at >= ?", list[object]([since or 0.0])
        if lang:
            sql, args = sql + " AND lang = ?", [*args, lang]
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(sql + " ORDER BY at, search_id", args)]

    def prune(self, before: float) -> int:
        """Delete searches older than `before`."""
        with self._connect() as conn:
            return conn.execute("DELETE FROM search_log WHERE at < ?", (before,)).rowcount

    def purge(self) -> int:
        """Delete every search, then give the file's space back."""
        with self._connect() as conn:
            count = conn.execute("DELETE FROM search_log").rowcount
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            conn.execute("VACUUM")  # deleted queries must not linger in free pages
        finally:
            conn.close()
        return count


class PgSearchLog(SearchLogStore):
    """The PostgreSQL backend's log: the `search_log` table, written on its own short connection."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise StoreError("the PostgreSQL backend needs the `pg` extra: pip install 'pedkb[pg]'") from exc
        self.url = url
        self._psycopg = psycopg
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(f"{safe_url(url)}: cannot open the search log ({exc})") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        with self._psycopg.connect(self.url) as conn:  # one transaction, committed on leaving
            yield conn

    def add(self, searches: list[LoggedSearch], opens: list[tuple[str, str, float]]) -> None:
        """Write searches, then the opened items (the first open of a search counts)."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.executemany(f"INSERT INTO search_log ({COLUMNS}) VALUES ({', '.join(['%s'] * 11)}) "
                            "ON CONFLICT (search_id) DO NOTHING", [_values(s) for s in searches])
            cur.executemany("UPDATE search_log SET opened = %s, opened_at = %s WHERE search_id = %s "
                            "AND opened IS NULL", [(item, at, sid) for sid, item, at in opens])

    def searches(self, since: float | None = None, lang: str | None = None) -> list[LoggedSearch]:
        """Logged searches, oldest first."""
        sql, args = f"SELECT {COLUMNS} FROM search_log WHERE at >= %s", list[object]([since or 0.0])
        if lang:
            sql, args = sql + " AND lang = %s", [*args, lang]
        with self._connect() as conn:
            return [_row(r) for r in conn.execute(sql + " ORDER BY at, search_id", args)]

    def prune(self, before: float) -> int:
        """Delete searches older than `before`."""
        with self._connect() as conn:
            return int(conn.execute("DELETE FROM search_log WHERE at < %s", (before,)).rowcount)

    def purge(self) -> int:
        """Delete every search."""
        with self._connect() as conn:
            return int(conn.execute("DELETE FROM search_log").rowcount)


def open_log_store(settings: Settings) -> SearchLogStore:
    """The log store of the configured backend."""
    if settings.backend.startswith(("postgresql://", "postgres://")):
        return PgSearchLog(settings.backend)
    return SqliteSearchLog(settings.data / LOG_FILE)


class SearchLog:
    """Searches buffered in memory and written in batches by a background thread, pruned to the retention."""

    def __init__(self, store: SearchLogStore, days: int, *, detect: Callable[[str], str] = detect_language,
                 flush_seconds: float = FLUSH_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.days = days
        self._detect = detect  # the query's language, found in the background, not while the user waits
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._pending: deque[LoggedSearch] = deque(maxlen=MAX_PENDING)
        self._opens: deque[tuple[str, str, float]] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._pruned_at = 0.0
        self._dropping = False  # warned that unwritten searches are being dropped
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """False when the retention is 0 days: nothing is recorded."""
        return self.days > 0

    def record(self, query: str, *, mode: str, filters: dict[str, Any], n_items: int, top_score: float | None,
               no_close_match: bool) -> str | None:
        """Queue one search; its id (for the open beacon), or None when logging is off."""
        if not self.enabled:
            return None
        search = LoggedSearch(uuid.uuid4().hex, self._clock(), query, "", mode, dict(filters), n_items,
                              top_score, no_close_match)
        with self._lock:
            if len(self._pending) == MAX_PENDING and not self._dropping:
                log.warning("the search log is %d searches behind: the oldest unwritten ones are dropped",
                            MAX_PENDING)
                self._dropping = True
            self._pending.append(search)
        self._start()
        return search.search_id

    def opened(self, search_id: str, item_id: str) -> None:
        """Queue that a user opened `item_id` from the answer `search_id`."""
        if not self.enabled:
            return
        with self._lock:
            self._opens.append((search_id, item_id, self._clock()))
        self._start()

    def flush(self) -> int:
        """Write what is queued now, in batches; how many searches were written."""
        written = 0
        with self._flush_lock:
            while True:
                with self._lock:
                    batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
                    opens = [] if self._pending else list(self._opens)
                    if not self._pending:
                        self._opens.clear()
                if not batch and not opens:
                    break
                batch = [replace(s, lang=self._detect(s.query)) for s in batch]
                try:
                    self.store.add(batch, opens)
                except Exception:
                    log.exception("the search log could not be written; %d searches are kept for the next try",
                                  len(batch))
                    with self._lock:
                        self._pending.extendleft(reversed(batch))
                        self._opens.extendleft(reversed(opens))
                    break
                written += len(batch)
                self._dropping = False
            self._prune_if_due()
        return written

    def searches(self, since: float | None = None, lang: str | None = None) -> list[LoggedSearch]:
        """The logged searches within the retention (what is queued written first), oldest first."""
        self.flush()
        cutoff = self._clock() - self.days * DAY if self.enabled else None
        start = max(x for x in (since, cutoff) if x is not None) if since or cutoff else None
        return self.store.searches(start, lang)

    def purge(self) -> int:
        """Delete the whole log, what is queued included; how many searches went."""
        with self._flush_lock:  # no batch is being written meanwhile
            with self._lock:
                self._pending.clear()
                self._opens.clear()
            return self.store.purge()

    def _prune_if_due(self) -> None:
        now = self._clock()
        if not self.enabled or now - self._pruned_at < PRUNE_SECONDS:
            return
        self._pruned_at = now
        try:
            gone = self.store.prune(now - self.days * DAY)
        except Exception:
            log.exception("the search log could not be pruned")
            return
        if gone:
            log.info("search log: %d searches older than %d days deleted", gone, self.days)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(target=self._run, name="pedkb-search-log", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def close(self) -> None:
        """Stop the writer thread, write what is left and release the store."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
        self.store.close()


def open_search_log(settings: Settings) -> SearchLog:
    """The search log of the configured backend with the configured retention."""
    return SearchLog(open_log_store(settings), settings.search_log_days)
