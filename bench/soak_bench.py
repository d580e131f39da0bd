"""Soak benchmark: searches and writes mixed for a bounded time against a real `pedkb` server on the embedded backend.

A uvicorn server runs in a subprocess over a fresh data folder seeded with the corpus's documents; reader threads
search (and list experiences), writer threads create, update and delete experiences and upload small documents.
Every `--sample` seconds the server's RSS and the window's throughput are recorded. At the end it prints the
machine, throughput, p50/p99 per kind of request, errors by status, RSS over time, and the final `pedkb check`
(run after the server stopped). Usage:
    .venv/bin/python bench/soak_bench.py [--minutes 30] [--readers 4] [--writers 2] [--model NAME] [--data DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from pipeline_bench import QUERIES, cpu_model  # noqa: E402

from search_api.server import PROTOCOL  # noqa: E402

KEY = "soak-key"
HEADERS = {"X-API-Key": KEY}
EXPERIENCE = {
    "language": "ru", "summary": "Ученики спорят в парах по тезису и меняются ролями.",
    "problem": "Ученики не умели доказывать позицию.", "goal": "Научить формулировать тезис.",
    "method": "Дебаты в парах раз в неделю.", "stages": ["Обучение", "Дебаты"],
    "results": "Доля аргументированных эссе выросла.", "dissemination": ["open-lesson"], "author": "Иванова А. П.",
    "organisation": "Школа № 8", "region": "kz-pavlodar", "subject": "history", "grades": [9],
    "technologies": ["debates"], "innovation": {"scale": "institutional", "significance": "isolated",
                                                "origin": "modified", "novelty": "relative"},
    "experience_kind": "advanced", "stage": "disseminated", "year": 2023,
}


class Recorder:
    """Latencies and statuses per kind of request, thread-safe."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.guard = threading.Lock()

    def timed(self, kind: str, send: object) -> int:
        """Send a request (a callable returning a response), record its latency and status; returns the status."""
        started = time.perf_counter()
        try:
            status = send().status_code  # type: ignore[operator]
        except httpx.HTTPError:
            status = 0
        with self.guard:
            self.latencies[kind].append((time.perf_counter() - started) * 1000)
            self.statuses[kind][status] += 1
        return int(status)

    def total(self) -> int:
        """Requests answered so far."""
        with self.guard:
            return sum(len(v) for v in self.latencies.values())


def reader(url: str, rec: Recorder, stop: threading.Event, n: int) -> None:
    """Searches in every mode, and a listing now and then."""
    modes = ["hybrid", "dense", "lexical"]
    with httpx.Client(base_url=url, timeout=120, headers=HEADERS) as client:  # a portal with a key: the key's limit
        for i in itertools.count(n):
            if stop.is_set():
                return
            if i % 10 == 9:
                rec.timed("list", lambda: client.get("/api/v1/experiences", params={"limit": 50}))
            else:
                params = {"q": QUERIES[i % len(QUERIES)], "k": 10, "mode": modes[i % 3]}
                rec.timed("search", lambda p=params: client.get("/api/v1/search", params=p))  # type: ignore[misc]


def writer(url: str, rec: Recorder, stop: threading.Event, n: int) -> None:
    """Create, update and delete experiences; upload a small document every fifth step."""
    live: list[str] = []
    with httpx.Client(base_url=url, timeout=300) as client:
        for j in itertools.count():
            if stop.is_set():
                return
            exp_id = f"exp-soak{n}-{j}"
            if j % 5 == 4:
                body = f"Документ soak{n} номер{j}: тәлімгерлік және сабақ жоспары, жұптық жұмыс. " * 15
                rec.timed("upload", lambda b=body, k=j: client.post(  # type: ignore[misc]
                    "/api/v1/documents", headers=HEADERS, files=[("files", (f"soak{n}-{k % 20}.txt", b.encode()))]))
            elif j % 5 == 2 and live:
                target = live[-1]
                record = {**EXPERIENCE, "id": target, "title": f"Изменённый опыт {n} {j}"}
                rec.timed("update", lambda t=target, r=record: client.put(  # type: ignore[misc]
                    f"/api/v1/experiences/{t}", headers=HEADERS, json=r))
            elif j % 5 == 3 and len(live) > 10:
                target = live.pop(0)
                rec.timed("delete", lambda t=target: client.delete(  # type: ignore[misc]
                    f"/api/v1/experiences/{t}", headers=HEADERS))
            else:
                record = {**EXPERIENCE, "id": exp_id, "title": f"Опыт soak {n} номер {j}"}
                if rec.timed("create", lambda r=record: client.post(  # type: ignore[misc]
                        "/api/v1/experiences", headers=HEADERS, json=r)) == 201:
                    live.append(exp_id)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_server(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn over `data`; returns the process and base URL once /health/ready answers."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(data.parent / "soak-server.log", "a")  # noqa: SIM115 - the server writes it until it stops
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "search_api.app:create_app", "--factory",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                "--http", PROTOCOL],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server died at start: see {data.parent / 'soak-server.log'}")
        try:
            if httpx.get(f"{url}/api/v1/health/ready", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not become ready in 10 minutes")


def pct(values: list[float], p: float) -> float:
    """The p-quantile of some latencies (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    """Run the soak and print its report; exit 1 when a request failed with 5xx or the final check is not clean."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--sample", type=float, default=15.0, help="seconds between RSS samples")
    parser.add_argument("--model", default=None, help="PEDKB_MODEL for the server (default: the configured one)")
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: a fresh temporary one)")
    args = parser.parse_args()

    data = args.data or Path(tempfile.mkdtemp(prefix="pedkb-soak-")) / "data"
    # the readers search with the key (PEDKB_RATE_LIMIT_SEARCH_KEY, 3000/min); a 429 would show in the statuses
    env = {**os.environ, "PEDKB_DATA": str(data), "PEDKB_API_KEYS": KEY, "PEDKB_BACKEND": "faiss"}
    if args.model:
        env["PEDKB_MODEL"] = args.model
    data.parent.mkdir(parents=True, exist_ok=True)
    process, url = start_server(data, env)
    seeds = [("files", (p.name, p.read_bytes())) for p in sorted((REPO / "corpus" / "documents").glob("*.txt"))]
    seeded = httpx.post(f"{url}/api/v1/documents", files=seeds, headers=HEADERS, timeout=600)
    print(f"seeded {seeded.json().get('added')} documents; soak of {args.minutes:g} min, {args.readers} readers, "
          f"{args.writers} writers", flush=True)

    rec, stop = Recorder(), threading.Event()
    threads = [threading.Thread(target=reader, args=(url, rec, stop, i)) for i in range(args.readers)]
    threads += [threading.Thread(target=writer, args=(url, rec, stop, i)) for i in range(args.writers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    samples: list[tuple[float, float, float]] = []  # (minute, RSS MB, requests/s in the window)
    last_total, last_time = 0, started
    end = started + args.minutes * 60
    try:
        while (now := time.monotonic()) < end:
            time.sleep(min(args.sample, max(0.0, end - now)))
            now, total = time.monotonic(), rec.total()
            samples.append(((now - started) / 60, rss_mb(process.pid), (total - last_total) / (now - last_time)))
            last_total, last_time = total, now
            print(f"  {samples[-1][0]:5.1f} min  RSS {samples[-1][1]:7.1f} MB  {samples[-1][2]:6.1f} req/s",
                  flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(300)
        elapsed = time.monotonic() - started
        process.terminate()
        process.wait(60)

    check = subprocess.run([sys.executable, "-m", "cli", "--data", str(data), "check"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=1800)
    server_errors = sum(n for counts in rec.statuses.values() for status, n in counts.items()
                        if status >= 500 or status == 0)
    print(f"\nmachine: {cpu_model()}, {os.cpu_count()} logical cores; python {sys.version.split()[0]}; "
          f"model {env.get('PEDKB_MODEL', 'default')}")
    print(f"duration {elapsed / 60:.1f} min, {rec.total()} requests, {rec.total() / elapsed:.1f} req/s overall\n")
    print("| request | count | per s | p50 ms | p99 ms | statuses |\n|---|---:|---:|---:|---:|---|")
    for kind in sorted(rec.latencies):
        values = rec.latencies[kind]
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(rec.statuses[kind].items()))
        print(f"| {kind} | {len(values)} | {len(values) / elapsed:.2f} | {statistics.median(values):.0f} | "
              f"{pct(values, 0.99):.0f} | {statuses} |")
    print(f"\nserver errors (5xx or no answer): {server_errors}")
    print("\nRSS over time: " + ", ".join(f"{m:.1f} min {r:.0f} MB" for m, r, _ in samples))
    print(f"\n$ pedkb check  (exit {check.returncode})\n{check.stdout.strip()}{check.stderr.strip()}")
    return 1 if server_errors or check.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
