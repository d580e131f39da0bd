"""Concurrent writers and readers against a running pedkb server, with a ledger of what each write was answered,
and the comparison of that ledger with what the server holds afterwards (tests/test_concurrency.py).

Each writer thread owns its ids, so the expected state of an id follows from that thread's acknowledged writes in
order; a few ids are contested on purpose (every thread creates them at once: exactly one may win). A write the
server answered 2xx is acknowledged, 4xx rejected, anything else (5xx, a dropped connection) uncertain: then the
id may be in the state before or after it, never anywhere else.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
KEY = "concurrency-key"
HEADERS = {"X-API-Key": KEY}
CONTESTED = [f"exp-contested-{n}" for n in range(3)]
_BODY = {
    "language": "ru", "summary": "Ученики спорят в парах по тезису и меняются ролями.",
    "problem": "Ученики не умели доказывать позицию.", "goal": "Научить формулировать тезис.",
    "method": "Дебаты в парах раз в неделю.", "stages": ["Обучение", "Дебаты"],
    "results": "Доля аргументированных эссе выросла.", "dissemination": ["open-lesson"], "author": "Иванова А. П.",
    "organisation": "Школа № 8", "region": "kz-pavlodar", "subject": "history", "grades": [9],
    "technologies": ["debates"], "innovation": {"scale": "institutional", "significance": "isolated",
                                                "origin": "modified", "novelty": "relative"},
    "experience_kind": "advanced", "stage": "disseminated", "year": 2023,
}


def server_env(backend: str) -> dict[str, str]:
    """The environment of a test server (and CLI) on `backend` with the fast hashing embedder."""
    env = {**os.environ, "PEDKB_API_KEYS": KEY, "PEDKB_MODEL": "hashing:256", "PEDKB_CHUNK_TOKENS": "64",
           "PEDKB_CHUNK_OVERLAP": "8", "PEDKB_BACKEND": backend, "PYTHONPATH": str(REPO),
           "PEDKB_ISOLATE_PARSING": "false"}  # the parser process is tested elsewhere; it costs 1-6 s per file here
    return env


def experience(exp_id: str, title: str, **changes: Any) -> dict[str, Any]:
    """An experience record with a unique title (its words make its chunk unique too)."""
    return {**_BODY, "id": exp_id, "title": title, **changes}


@dataclass
class Outcome:
    """One write: what it tried, on which item, and how it was answered."""

    op: str  # create | update | delete | upload | delete_upload | invalid
    item: str  # an experience id or an upload's source
    status: int  # HTTP status, 0 when no answer came
    title: str | None = None  # an experience's title after a create or update
    at: float = 0.0  # monotonic time of the answer

    @property
    def acknowledged(self) -> bool:
        """Answered 2xx."""
        return 200 <= self.status < 300

    @property
    def rejected(self) -> bool:
        """Answered 4xx."""
        return 400 <= self.status < 500


@dataclass
class Ledger:
    """Every write's outcome and every read's status."""

    writes: list[Outcome] = field(default_factory=list)
    reads: Counter[int] = field(default_factory=Counter)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        """Record a write."""
        with self.guard:
            self.writes.append(outcome)

    def counts(self) -> dict[str, int]:
        """Acknowledged, rejected and uncertain writes; reads and server errors among them."""
        return {"writes": len(self.writes), "acknowledged": sum(w.acknowledged for w in self.writes),
                "rejected": sum(w.rejected for w in self.writes),
                "uncertain": sum(not w.acknowledged and not w.rejected for w in self.writes),
                "reads": sum(self.reads.values()),
                "read_errors": sum(n for status, n in self.reads.items() if status >= 500 or status == 0)}


class Load:
    """Writer and reader threads against one server for a bounded time."""

    def __init__(self, url: str, ledger: Ledger, *, writers: int = 8, readers: int = 8, tag: str = "w") -> None:
        self.url, self.ledger, self.tag = url, ledger, tag
        self.n_writers, self.n_readers = writers, readers
        self.stop = threading.Event()
        self._barrier = threading.Barrier(writers)

    def run(self, seconds: float) -> None:
        """One write first (the classifier's first use costs seconds), then every thread for `seconds` (writes in
        flight finish)."""
        with httpx.Client(base_url=self.url, timeout=120) as client:
            exp_id = f"exp-{self.tag}-first"
            self._write(client, "create", exp_id, "POST", "/api/v1/experiences", "Первый опыт",
                        json=experience(exp_id, "Первый опыт"))
        threads = [threading.Thread(target=self._writer, args=(i,), daemon=True) for i in range(self.n_writers)]
        threads += [threading.Thread(target=self._reader, args=(i,), daemon=True) for i in range(self.n_readers)]
        for thread in threads:
            thread.start()
        self.stop.wait(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(120)

    def _write(self, client: httpx.Client, op: str, item: str, method: str, path: str, title: str | None = None,
               **kwargs: Any) -> Outcome:
        try:
            status = client.request(method, path, headers=HEADERS, **kwargs).status_code
        except httpx.HTTPError:
            status = 0
        outcome = Outcome(op, item, status, title, time.monotonic())
        self.ledger.add(outcome)
        return outcome

    def _writer(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            try:
                self._barrier.wait(30)
                for exp_id in CONTESTED:  # every writer at once: exactly one create may win
                    self._write(client, "create", exp_id, "POST", "/api/v1/experiences", f"contested {n}",
                                json=experience(exp_id, f"Спорный опыт {exp_id} писатель{n}"))
            except threading.BrokenBarrierError:
                pass
            live: list[str] = []
            uploads: list[str] = []
            for j in itertools.count():
                if self.stop.is_set():
                    return
                exp_id = f"exp-{self.tag}{n}-{j}"
                step = j % 6
                if step in (0, 1, 3) or not live:
                    title = f"Опыт {self.tag}{n} номер{j} create"
                    done = self._write(client, "create", exp_id, "POST", "/api/v1/experiences", title,
                                       json=experience(exp_id, title))
                    if done.acknowledged:
                        live.append(exp_id)
                elif step == 2:
                    target = live[-1]
                    title = f"Опыт {self.tag}{n} номер{j} update {target}"
                    self._write(client, "update", target, "PUT", f"/api/v1/experiences/{target}", title,
                                json=experience(target, title))
                elif step == 4:
                    target = live.pop(0)
                    self._write(client, "delete", target, "DELETE", f"/api/v1/experiences/{target}")
                else:
                    name = f"{self.tag}{n}-{j}.txt"
                    body = f"Документ {self.tag}{n} файл{j}: уникальныйтермин{self.tag}{n}x{j} сабақ жоспары. " * 6
                    done = self._write(client, "upload", f"upload/{name}", "POST", "/api/v1/documents",
                                       files=[("files", (name, body.encode()))])
                    if done.acknowledged:
                        uploads.append(name)
                    if len(uploads) > 2:  # delete an earlier upload of this writer
                        old = uploads.pop(0)
                        doc_id = _upload_doc_id(client, old)
                        if doc_id is not None:
                            self._write(client, "delete_upload", f"upload/{old}", "DELETE",
                                        f"/api/v1/documents/{doc_id}")
                if j % 5 == 4:  # refused writes change nothing: an unknown technology, a missing experience
                    bad = f"exp-{self.tag}{n}-{j}-bad"
                    self._write(client, "invalid", bad, "POST", "/api/v1/experiences",
                                json=experience(bad, "Неверный", technologies=["no-such-technology"]))
                    self._write(client, "invalid", bad, "PUT", f"/api/v1/experiences/{bad}",
                                json=experience(bad, "Нет такого"))

    def _reader(self, n: int) -> None:
        queries = ["дебаты в парах", "сабақ жоспары", f"уникальныйтермин{self.tag}{n}x5", "опыт номер3"]
        with httpx.Client(base_url=self.url, timeout=60) as client:
            for j in itertools.count():
                if self.stop.is_set():
                    return
                try:
                    if j % 3 == 0:
                        response = client.get("/api/v1/experiences", params={"limit": 20, "offset": j % 40})
                    elif j % 3 == 1:
                        response = client.get("/api/v1/search", params={"q": queries[j % len(queries)], "k": 10})
                    else:
                        response = client.get(f"/api/v1/experiences/exp-{self.tag}{j % 8}-{j % 30}")
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                with self.ledger.guard:
                    self.ledger.reads[status] += 1


def _upload_doc_id(client: httpx.Client, name: str) -> str | None:
    page = client.get("/api/v1/documents", params={"limit": 500})
    for item in page.json()["items"] if page.status_code == 200 else []:
        if item["source"] == f"upload/{name}":
            return str(item["doc_id"])
    return None


def holdings(url: str) -> tuple[Counter[str], dict[str, str]]:
    """What the server lists: how often each experience id and document source occurs, and each one's title."""
    present: Counter[str] = Counter()
    titles: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for kind, key in (("experience", "doc_id"), ("document", "source")):
            offset = 0
            while True:
                page = client.get("/api/v1/documents", params={"type": kind, "limit": 500, "offset": offset})
                assert page.status_code == 200, page.text
                items = page.json()["items"]
                if not items:
                    break
                for item in items:
                    present[item[key]] += 1
                    titles[item[key]] = item["title"]
                offset += len(items)
    return present, titles


def expected_states(ledger: Ledger) -> dict[str, tuple[set[str | None], bool]]:
    """Per item: the titles it may have at the end (None: absent) and whether that was acknowledged for sure."""
    states: dict[str, list[Outcome]] = {}
    for write in sorted(ledger.writes, key=lambda w: w.at):
        states.setdefault(write.item, []).append(write)
    out: dict[str, tuple[set[str | None], bool]] = {}
    for item, writes in states.items():
        possible: set[str | None] = {None}
        certain = True
        for write in writes:
            after: str | None = None if write.op in ("delete", "delete_upload") else (write.title or item)
            if write.acknowledged:
                possible, certain = {after}, True
            elif not write.rejected:
                possible, certain = possible | {after}, False
        out[item] = (possible, certain)
    return out


def compare(url: str, ledger: Ledger) -> dict[str, int]:
    """Ledger vs what the server holds: items in an expected state (present or absent), missing, wrong, and
    duplicated; the contested creations' winners and copies."""
    present, titles = holdings(url)
    result: Counter[str] = Counter()
    for item, (possible, certain) in expected_states(ledger).items():
        count = present.get(item, 0)
        result["duplicates"] += max(0, count - 1)
        if item in CONTESTED:
            continue
        upload = item.startswith("upload/")  # an upload is known by its source; an experience by its title
        state = None if not count else (item if upload else titles[item])
        allowed = {None if t is None else (item if upload else t) for t in possible}
        if state in allowed:
            result["present" if count else "absent"] += 1
        else:
            result["missing" if not count else "wrong"] += 1
        result["uncertain_items"] += not certain
    result["contested_winners"] = sum(w.acknowledged for w in ledger.writes if w.item in CONTESTED)
    result["contested_present"] = sum(present.get(item, 0) for item in CONTESTED)
    return dict(result)


def run_check(data: Path, env: dict[str, str], *, repair: bool = False) -> tuple[int, dict[str, Any]]:
    """`pedkb check --json` in a process of its own; returns (exit code, report)."""
    cmd = [sys.executable, "-m", "cli", "--data", str(data), "check", "--json", *(["--repair"] if repair else [])]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)
