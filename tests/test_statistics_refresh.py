"""The statistics cache: a large store's old estimate is served at once while one background refresh replaces it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pytest

from index.records import DocumentRecord, NewChunk
from index.store import statistics as base
from index.store.base import Backend
from index.store.embedded import sqlite as sqlite_store
from index.store.postgres import search as pg_search
from index.store.statistics import LanguageStatistics, StatisticsCache, StatisticsResult

DIM = 8


def _stats(count: int) -> dict[str, LanguageStatistics]:
    return {"ru": LanguageStatistics(count, np.zeros(DIM, np.float32), np.eye(DIM, dtype=np.float32))}


def _on_request() -> StatisticsResult:
    raise AssertionError("computed on the request")


class Refresh:
    """A refresh that waits to be released, then returns `result` or raises `error`; counts its calls."""

    def __init__(self, result: StatisticsResult | None = None, error: Exception | None = None,
                 released: bool = False) -> None:
        self.result, self.error = result, error
        self.started, self.release = threading.Event(), threading.Event()
        if released:
            self.release.set()
        self.calls = self.running = self.most_running = 0
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self) -> StatisticsResult:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.threads.append(threading.current_thread())
        self.started.set()
        try:
            assert self.release.wait(5)
            if self.error is not None:
                raise self.error
            assert self.result is not None
            return self.result
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def old(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatisticsCache]:
    """A cache holding a sampled estimate (count 100) of store state 1 that is already past STATS_MAX_AGE."""
    monkeypatch.setattr(base, "STATS_MAX_AGE", 0.0)
    cache = StatisticsCache()
    cache.get(1, lambda: (_stats(100), True))
    yield cache
    cache.close(timeout=1)


def _count(cache: StatisticsCache, state: int, refresh: Callable[[], StatisticsResult]) -> int:
    return cache.get(state, _on_request, refresh)["ru"].count


def test_the_first_computation_is_made_on_the_request() -> None:
    threads: list[threading.Thread] = []

    def compute() -> StatisticsResult:
        threads.append(threading.current_thread())
        return _stats(100), True

    cache = StatisticsCache()
    assert cache.get(1, compute, Refresh(released=True))["ru"].count == 100
    assert threads == [threading.current_thread()]


def test_an_old_estimate_is_served_at_once_while_a_refresh_replaces_it(old: StatisticsCache) -> None:
    refresh = Refresh((_stats(200), True))
    started = time.perf_counter()
    assert _count(old, 2, refresh) == 100  # the refresh is still blocked: the old estimate came back without it
    assert time.perf_counter() - started < 0.5
    assert refresh.started.wait(5)
    assert refresh.threads[0] is not threading.current_thread() and refresh.threads[0].daemon
    assert _count(old, 2, refresh) == 100
    refresh.release.set()
    assert old.wait(5)
    assert _count(old, 2, refresh) == 200  # the refreshed estimate, for the state that asked for it
    assert refresh.calls == 1


def test_one_refresh_runs_at_a_time(old: StatisticsCache) -> None:
    refresh = Refresh((_stats(200), True))
    assert _count(old, 2, refresh) == 100
    assert refresh.started.wait(5)
    served: list[int] = []
    callers = [threading.Thread(target=lambda s=state: served.append(_count(old, s, refresh)))
               for state in range(3, 9)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert served == [100] * 6 and refresh.calls == 1
    refresh.release.set()
    assert old.wait(5)
    assert refresh.most_running == 1
    assert _count(old, 9, refresh) == 200  # the store moved on again: the next refresh may start
    assert old.wait(5) and refresh.calls == 2


def test_a_failed_refresh_keeps_the_old_estimate_logs_why_and_is_retried(old: StatisticsCache,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    failing = Refresh(error=RuntimeError("the server went away"), released=True)
    with caplog.at_level(logging.WARNING, logger="index.store.statistics"):
        assert _count(old, 2, failing) == 100
        assert old.wait(5)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "the server went away" in caplog.text and "RuntimeError" in caplog.text
    assert _count(old, 2, failing) == 100  # still the old estimate, and the next request tries again
    assert old.wait(5) and failing.calls == 2
    working = Refresh((_stats(300), True), released=True)
    assert _count(old, 2, working) == 100
    assert old.wait(5)
    assert _count(old, 2, working) == 300


def test_a_young_estimate_is_kept_without_a_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_MAX_AGE", 1e9)
    cache = StatisticsCache()
    cache.get(1, lambda: (_stats(100), True))
    refresh = Refresh((_stats(200), True), released=True)
    assert _count(cache, 2, refresh) == 100
    assert cache.wait(5) and refresh.calls == 0


@pytest.mark.parametrize("max_age", [0.0, 1e9])
def test_a_small_store_is_exact_after_every_write_on_the_request(max_age: float,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_MAX_AGE", max_age)
    cache = StatisticsCache()
    computed: list[int] = []

    def compute(state: int) -> StatisticsResult:
        computed.append(state)
        return _stats(state), False

    refresh = Refresh(released=True)
    for state in (1, 2, 3):
        assert cache.get(state, lambda s=state: compute(s), refresh)["ru"].count == state  # type: ignore[misc]
        assert cache.get(state, _on_request, refresh)["ru"].count == state  # unchanged store: cached
    assert computed == [1, 2, 3] and refresh.calls == 0


def test_closing_waits_a_bounded_time_drops_the_refresh_and_starts_no_more(old: StatisticsCache) -> None:
    refresh = Refresh((_stats(200), True))
    assert _count(old, 2, refresh) == 100
    assert refresh.started.wait(5)
    started = time.perf_counter()
    old.close(timeout=0.05)  # the refresh is stuck: close gives up waiting for it
    assert time.perf_counter() - started < 1
    assert refresh.threads[0].is_alive() and refresh.threads[0].daemon  # it cannot hold up the process's exit
    refresh.release.set()
    assert old.wait(5)
    later = Refresh((_stats(300), True), released=True)
    assert _count(old, 2, later) == 100  # its result was dropped, and no refresh starts after close
    assert later.calls == 0


# --- real stores ---------------------------------------------------------------------------------------------------

def _vec(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _put(backend: Backend, doc_id: str, lang: str, n: int, rng: np.random.Generator) -> None:
    doc = DocumentRecord(doc_id=doc_id, source=f"/src/{doc_id}", title=None, fmt="txt", sha256="0", size=1,
                         languages=[lang])
    backend.put_document(doc, [NewChunk(i, f"{doc_id} {i}", lang, None, 0, 1, 1, f"{doc_id}-{i}", _vec(rng))
                               for i in range(n)])


@pytest.fixture
def paused(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """(started, release): a statistics pass off the main thread stops after its first vector until released."""
    started, release = threading.Event(), threading.Event()
    real = base.estimate_statistics

    def estimate(counts: dict[str, int], read: base.VectorReader, sample: int | None = None) -> StatisticsResult:
        def pausing(langs: Sequence[str], fraction: float) -> Iterable[tuple[str, np.ndarray]]:
            for i, row in enumerate(read(langs, fraction)):
                if i == 1 and threading.current_thread() is not threading.main_thread():
                    started.set()
                    assert release.wait(5)
                yield row

        return real(counts, pausing, sample)

    monkeypatch.setattr(sqlite_store, "estimate_statistics", estimate)
    monkeypatch.setattr(pg_search, "estimate_statistics", estimate)
    return started, release


@pytest.fixture
def large(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """A store of 100 Russian chunks, above a STATS_SAMPLE of 40, with its sampled estimate computed."""
    monkeypatch.setattr(base, "STATS_SAMPLE", 40)
    monkeypatch.setattr(base, "STATS_MIN_PER_LANGUAGE", 15)
    backend.set_meta("model", "test")
    backend.set_meta("dim", str(DIM))
    rng = np.random.default_rng(3)
    for d in range(4):
        _put(backend, f"ru{d}", "ru", 25, rng)
    assert backend.language_statistics()["ru"].count == 100
    return backend


def _refresh_under_way(large: Backend, paused: tuple[threading.Event, threading.Event],
                       monkeypatch: pytest.MonkeyPatch) -> dict[str, LanguageStatistics]:
    """Make the estimate old and the store changed, ask for it, and wait until the refresh is reading."""
    stats = large.language_statistics()
    assert large.delete_document("ru0")
    monkeypatch.setattr(base, "STATS_MAX_AGE", 0.0)
    assert large.language_statistics() is stats  # served at once; the refresh reads the vectors meanwhile
    assert paused[0].wait(5)
    return stats


def test_a_refresh_on_a_real_store_holds_up_no_search_or_write(large: Backend, paused: tuple[threading.Event,
                                                               threading.Event], monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    release = paused[1]
    with caplog.at_level(logging.WARNING):
        stats = _refresh_under_way(large, paused, monkeypatch)
        # mid-pass, with its read open: searches, writes and statistics calls go on without it
        assert len(large.search(_vec(np.random.default_rng(9)), 5)) == 5
        _put(large, "kk0", "kk", 25, np.random.default_rng(4))
        assert large.language_statistics() is stats
        release.set()
        assert large._statistics.wait(5)  # type: ignore[attr-defined]
        refreshed = large.language_statistics()  # the store moved on since this refresh began: one more starts
        assert {lang: s.count for lang, s in refreshed.items()} == {"ru": 75}
        assert large._statistics.wait(5)  # type: ignore[attr-defined]
        assert {lang: s.count for lang, s in large.language_statistics().items()} == {"ru": 75, "kk": 25}
    assert not caplog.records


def test_closing_a_real_store_while_a_refresh_runs_is_safe(large: Backend, paused: tuple[threading.Event,
                                                           threading.Event], monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    release = paused[1]
    with caplog.at_level(logging.WARNING):
        _refresh_under_way(large, paused, monkeypatch)
        threading.Timer(0.1, release.set).start()
        large.close()  # waits for the refresh to end, then closes what it read
        assert large._statistics.wait(0)  # type: ignore[attr-defined]
    assert not caplog.records


@pytest.mark.parametrize("max_age", [0.0, 60.0])
def test_a_new_model_never_gets_the_old_models_estimate(large: Backend, max_age: float,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_MAX_AGE", max_age)
    ids = [c.chunk_id for batch in large.iter_chunks() for c in batch]
    new = _vec(np.random.default_rng(11))
    large.store_vectors([("new", new)])
    large.switch_model("other", DIM, [(cid, "new") for cid in ids])
    stats = large.language_statistics()  # in the new space at once, computed on the request
    assert stats["ru"].count == 100 and np.allclose(stats["ru"].mean, new, atol=1e-6)


def test_statistics_of_another_space_are_never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "STATS_MAX_AGE", 1e9)
    cache = StatisticsCache()
    refresh = Refresh(released=True)
    cache.get(1, lambda: (_stats(100), True), refresh, space=("model", 8))
    assert cache.get(2, lambda: (_stats(200), True), refresh, space=("other", 8))["ru"].count == 200
    monkeypatch.setattr(base, "STATS_MAX_AGE", 0.0)
    assert cache.get(3, lambda: (_stats(300), True), refresh, space=("model", 8))["ru"].count == 300
    assert cache.wait(5) and refresh.calls == 0


def test_a_refresh_begun_in_the_old_space_is_dropped(old: StatisticsCache) -> None:
    refresh = Refresh((_stats(200), True))
    assert _count(old, 2, refresh) == 100
    assert refresh.started.wait(5)
    assert old.get(3, lambda: (_stats(300), True), refresh, space="other")["ru"].count == 300
    refresh.release.set()
    assert old.wait(5)
    assert old.get(3, _on_request, refresh, space="other")["ru"].count == 300
