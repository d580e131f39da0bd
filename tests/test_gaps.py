"""The search log and the gap report on both backends: planted unmet topics in kk, ru and ky come back as one
group each, met searches and noise stay out of them, retention prunes, purge empties, nothing of the client is kept.

The fast hashing embedder groups phrasings that share words; the real model's grouping of paraphrases is checked in
tests/test_gaps_real_model.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.embedding.hashing import HashingEmbedder
from index.gaps import gap_report, normalised, parse_since
from index.searchlog import DAY, LOG_FILE, LoggedSearch, SearchLog, SearchLogStore, open_log_store
from pedkb.errors import ValidationError
from pedkb.settings import Settings

HASHING_DISTANCE = 0.6  # bag-of-words vectors: phrasings sharing most words are within it, other topics at 1.0
NOW = 1_780_000_000.0  # a fixed "now" (2026-05-28)
DIM = 1 << 16  # wide enough that no two test words share a hash bucket

# topic -> (language, region filter, phrasings with how often each was searched), all answered "no close match"
PLANTED = {
    "robotics": ("ru", "almaty", [("робототехника в детском саду", 4), ("Робототехника  в ДЕТСКОМ саду", 1),
                                  ("робототехника в детском саду программа", 2),
                                  ("программа робототехника детском саду", 2)]),
    "inclusion": ("kk", "astana", [("инклюзивті білім беру бастауыш сынып", 3),
                                   ("бастауыш сынып инклюзивті білім беру әдістері", 2),
                                   ("инклюзивті білім беру бастауыш сыныпта", 2)]),
    "teacher-growth": ("ky", None, [("мугалимдердин кесиптик өнүгүүсү", 3),
                                    ("мугалимдердин кесиптик өнүгүүсү курстар", 2),
                                    ("кесиптик өнүгүүсү мугалимдердин семинар", 1)]),
}
MET = [("проектное обучение", "d1"), ("сындарлы оқыту", "d2"), ("проектное обучение", "d3")]  # opened an item
SHOWN_NOT_OPENED = [("кейс әдісі", 3)]  # items came back, none was opened: also unmet
NOISE = ["погода завтра", "qwerty zxcv", "футбол чемпионат", "купить ноутбук", "ай календары"]


class Clock:
    """A settable clock for the log."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def plant(search_log: SearchLog, clock: Clock) -> None:
    """Fill a log with the planted topics, met searches, shown-but-not-opened ones and noise over three days."""
    step = 0
    for _, region, phrasings in PLANTED.values():
        for text, times in phrasings:
            for _ in range(times):
                clock.now = NOW - DAY * (step % 3) - step
                step += 1
                filters = {"region": [region]} if region else {}
                search_log.record(text, mode="hybrid", filters=filters, n_items=0, top_score=None,
                                  no_close_match=True)
    for text, item in MET:
        clock.now = NOW - 10
        sid = search_log.record(text, mode="hybrid", filters={}, n_items=5, top_score=0.9, no_close_match=False)
        assert sid is not None
        search_log.opened(sid, item)
    for text, times in SHOWN_NOT_OPENED:
        for _ in range(times):
            search_log.record(text, mode="dense", filters={"type": ["experience"]}, n_items=4, top_score=0.7,
                              no_close_match=False)
    for text in NOISE:
        search_log.record(text, mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    clock.now = NOW


@pytest.fixture
def store(backend_url: str, tmp_path: Path) -> Iterator[SearchLogStore]:
    """The log store of every backend."""
    opened = open_log_store(Settings(data=tmp_path / "data", backend=backend_url))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def planted(store: SearchLogStore, clock: Clock) -> SearchLog:
    search_log = SearchLog(store, 90, clock=clock)
    plant(search_log, clock)
    assert search_log.flush() == sum(n for *_, ph in PLANTED.values() for _, n in ph) + len(MET) + 3 + len(NOISE)
    return search_log


def test_report_finds_each_planted_topic_as_one_group(planted: SearchLog) -> None:
    embedder = HashingEmbedder(DIM)
    report = gap_report(planted.searches(), embedder.embed_queries, None, distance=HASHING_DISTANCE)
    met = len(MET)
    assert report.searches == sum(n for *_, ph in PLANTED.values() for _, n in ph) + met + 3 + len(NOISE)
    assert report.unmet == report.searches - met
    top = report.groups[:3]
    found = {}
    for group in top:
        texts = {normalised(text) for text, _ in group.examples}
        topic = [name for name, (_, _, phr) in PLANTED.items() if texts <= {normalised(t) for t, _ in phr}]
        assert len(topic) == 1, f"group mixes topics or holds strangers: {texts}"
        found[topic[0]] = group
    assert set(found) == set(PLANTED)  # each topic once, none split over two of the top groups
    for name, (lang, region, phrasings) in PLANTED.items():
        group = found[name]
        assert group.searches == sum(n for _, n in phrasings)
        assert group.no_close_match == group.searches
        assert group.languages == {lang: group.searches}
        assert group.regions == {region or "": group.searches}
        assert {normalised(t) for t, _ in group.examples} == {normalised(t) for t, _ in phrasings}
    robotics = found["robotics"]
    assert robotics.examples[0] == ("робототехника в детском саду", 4)  # counted as typed, spaces collapsed
    # what was met never shows; shown-but-not-opened is a gap of its own; noise stays in groups of one
    every_text = [normalised(t) for g in report.groups for t, _ in g.examples]
    assert "проектное обучение" not in every_text and "сындарлы оқыту" not in every_text
    assert report.groups[3].examples == [("кейс әдісі", 3)] and report.groups[3].no_close_match == 0
    assert all(g.searches == 1 for g in report.groups[4:]) and len(report.groups) == 4 + len(NOISE)
    # three days of searches, every one counted once
    assert sum(d.searches for d in report.days) == report.searches and len(report.days) == 3
    assert sum(d.unmet for d in report.days) == report.unmet


def test_language_and_since_filters(planted: SearchLog) -> None:
    embedder = HashingEmbedder(DIM)
    kk = gap_report(planted.searches(lang="kk"), embedder.embed_queries, None, distance=HASHING_DISTANCE)
    assert kk.groups[0].languages == {"kk": 7} and all(set(g.languages) == {"kk"} for g in kk.groups)
    since = parse_since("2026-05-28")
    assert since is not None
    recent = planted.searches(since=since)
    assert recent and all(s.at >= since for s in recent) and len(recent) < len(planted.searches())
    with pytest.raises(ValidationError, match="since"):
        parse_since("last tuesday")


def test_csv_has_one_row_per_group(planted: SearchLog) -> None:
    import csv
    import io

    report = gap_report(planted.searches(), HashingEmbedder(DIM).embed_queries, None, distance=HASHING_DISTANCE)
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert len(rows) == len(report.groups)
    assert rows[0]["searches"] == str(report.groups[0].searches) and "ru:" in rows[0]["languages"]
    assert "робототехника в детском саду (4)" in rows[0]["examples"]


def test_open_beacon_marks_the_first_open_only(store: SearchLogStore, clock: Clock) -> None:
    search_log = SearchLog(store, 90, clock=clock)
    sid = search_log.record("проектное обучение", mode="hybrid", filters={}, n_items=3, top_score=0.8,
                            no_close_match=False)
    assert sid is not None
    search_log.opened(sid, "dfirst")
    search_log.opened(sid, "dsecond")
    search_log.opened("0" * 32, "dnowhere")  # an unknown search changes nothing
    search_log.flush()
    [logged] = search_log.searches()
    assert logged.opened == "dfirst" and not logged.unmet and logged.lang == "ru"
    assert logged.filters == {} and logged.top_score == pytest.approx(0.8)


def test_retention_prunes_old_searches(store: SearchLogStore, clock: Clock) -> None:
    search_log = SearchLog(store, 30, clock=clock)
    clock.now = NOW - 40 * DAY
    search_log.record("старый запрос", mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    clock.now = NOW - 5 * DAY
    search_log.record("свежий запрос", mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    clock.now = NOW
    search_log.flush()  # the first write of a process prunes
    assert [s.query for s in store.searches()] == ["свежий запрос"]  # gone from the table, not only hidden
    clock.now = NOW + 26 * DAY  # nothing written since: the report still hides what the retention expired
    assert search_log.searches() == []


def test_zero_days_records_nothing_and_purge_empties(store: SearchLogStore, clock: Clock) -> None:
    off = SearchLog(store, 0, clock=clock)
    assert off.record("что угодно", mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True) is None
    off.flush()
    assert store.searches() == []
    earlier = SearchLog(store, 90, clock=clock)
    earlier.record("записан до выключения", mode="hybrid", filters={}, n_items=0, top_score=None,
                   no_close_match=True)
    earlier.flush()
    assert [s.query for s in off.searches()] == ["записан до выключения"]  # turning it off deletes nothing
    search_log = SearchLog(store, 90, clock=clock)
    for text in ("один", "два", "три"):
        search_log.record(text, mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    search_log.flush()
    assert search_log.purge() == 4 and store.searches() == []


def test_a_failing_write_keeps_the_searches_for_the_next_flush(tmp_path: Path, clock: Clock) -> None:
    from index.searchlog import SqliteSearchLog

    class Flaky(SqliteSearchLog):
        fail = True

        def add(self, searches: list[LoggedSearch], opens: list[tuple[str, str, float]]) -> None:
            if self.fail:
                raise sqlite3.OperationalError("disk I/O error")
            super().add(searches, opens)

    store = Flaky(tmp_path / LOG_FILE)
    search_log = SearchLog(store, 90, clock=clock)
    sid = search_log.record("запрос", mode="hybrid", filters={}, n_items=1, top_score=0.5, no_close_match=False)
    assert sid is not None
    search_log.opened(sid, "d1")
    assert search_log.flush() == 0
    store.fail = False
    assert search_log.flush() == 1
    assert [(s.query, s.opened) for s in store.searches()] == [("запрос", "d1")]


def test_the_background_thread_writes_without_a_flush(tmp_path: Path) -> None:
    import time

    store = open_log_store(Settings(data=tmp_path / "data"))
    search_log = SearchLog(store, 90, flush_seconds=0.05)
    search_log.record("фоновая запись", mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    deadline = time.monotonic() + 10
    while not store.searches() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [s.query for s in store.searches()] == ["фоновая запись"]
    search_log.close()


def test_cli_reports_exports_and_purges(backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from cli.main import main

    data = tmp_path / "data"
    monkeypatch.setenv("PEDKB_MODEL", "hashing:1024")
    monkeypatch.setenv("PEDKB_BACKEND", backend_url)
    monkeypatch.setenv("PEDKB_GAP_DISTANCE", str(HASHING_DISTANCE))
    monkeypatch.setenv("PEDKB_SEARCH_LOG_DAYS", "3650")  # the planted searches are dated May 2026
    settings = Settings(data=data)
    clock = Clock(NOW)
    search_log = SearchLog(open_log_store(settings), 3650, clock=clock)
    plant(search_log, clock)
    search_log.close()

    assert main(["--data", str(data), "gaps", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unmet"] == report["searches"] - len(MET)
    top = {normalised(text) for text, _ in report["groups"][0]["examples"]}
    assert top == {normalised(t) for t, _ in PLANTED["robotics"][2]}
    assert report["groups"][0]["technologies"]  # the nearest technologies of the shipped classification
    assert main(["--data", str(data), "gaps", "--csv", "--lang", "ky"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("rank,searches") and len(rows) == 2 and "ky:6" in rows[1]
    assert main(["--data", str(data), "gaps"]) == 0
    assert "робототехника в детском саду" in capsys.readouterr().out
    assert main(["--data", str(data), "gaps", "--since", "28.05.2026"]) == 1
    assert "since" in capsys.readouterr().err
    assert main(["--data", str(data), "gaps", "purge"]) == 0
    assert capsys.readouterr().out.strip() == f"search log deleted: {report['searches']} searches"
    assert open_log_store(settings).searches() == []


def test_a_log_too_far_behind_drops_the_oldest_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    import index.searchlog

    monkeypatch.setattr(index.searchlog, "MAX_PENDING", 3)
    search_log = SearchLog(open_log_store(Settings(data=tmp_path / "data")), 90, flush_seconds=3600)
    for i in range(5):
        search_log.record(f"запрос {i}", mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    assert "dropped" in caplog.text
    assert search_log.flush() == 3
    assert [s.query for s in search_log.searches()] == ["запрос 2", "запрос 3", "запрос 4"]
    search_log.close()
