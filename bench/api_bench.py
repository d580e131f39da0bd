"""API benchmark: latency and throughput of GET /api/v1/search over HTTP, server and load client in separate processes.

Scenarios: the seed documents (real model) and a 100k-chunk store blended from them, each at 1 and 8 concurrent
clients, with the 8 bench queries repeated (their embeddings cached) and with queries never asked before (each one
embedded), and new queries with a language filter (`lang` kk, ru, ky in turn) at 1 client; plus the first search
after /health/ready answers 200. The blended store's chunks join the sentences of
two seed passages of one language, their vectors the normalised mean of the two plus noise: real words for the
lexical leg and real score distributions for the dense one (random vectors match nothing and every query would
end in "no close match"). The server is `pedkb serve` in a subprocess on a free loopback port (`--workers N`
processes); the load client is another process: a thread per client, each with one keep-alive `http.client`
connection, reading and ungzipping every answer (`--load-client httpx`: the asyncio httpx client used until
session 15, which adds about 0.5-0.9 ms of its own to each request on 2 cores). Prints a table with the machine it
ran on and the client. Usage:
    .venv/bin/python bench/api_bench.py [--seeds DIR | --store DIR] [--synthetic 100000] [--requests 200]
                                        [--workers 1] [--model NAME] [--load-client stdlib|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from pipeline_bench import QUERIES, cpu_model  # noqa: E402

# words that turn the bench queries into queries never asked before (a new embedding each, as from real users)
VARIANTS = ["мектепте", "сабақта", "на уроке", "в школе", "мугалимдер", "оқушылар", "для учителей", "бастауыш",
            "в начальной школе", "жаңа", "современные", "тарых", "математика", "ата-аналар", "родители", "ауылдық",
            "онлайн", "эффективно", "тиімді", "натыйжалуу", "жолдары", "методы", "формы", "примеры", "тәсілдері"]


LANG_FILTERS = ("kk", "ru", "ky")  # the filtered scenario's `lang`, in turn
# (new queries, language filter, concurrent clients) per measurement
SCENARIOS = ((False, False, 1), (False, False, 8), (True, False, 1), (True, False, 8), (True, True, 1))


def unique_query(i: int) -> str:
    """The i-th query never asked before in a run (len(QUERIES) * len(VARIANTS) * 3 of them)."""
    base = QUERIES[i % len(QUERIES)]
    a = VARIANTS[(i // len(QUERIES)) % len(VARIANTS)]
    b = VARIANTS[(i // (len(QUERIES) * len(VARIANTS)) + 1 + i) % len(VARIANTS)]
    return f"{base} {a}" if i < len(QUERIES) * len(VARIANTS) else f"{base} {a} {b}"


# --- the load client (run as its own process) --------------------------------------------------------------------
LOAD_CLIENTS = ("stdlib", "httpx")  # the client's own cost is in every latency (module docstring)


def _params(i: int, concurrency: int, fresh: bool, filtered: bool) -> dict[str, str | int]:
    """The i-th request's query parameters."""
    text = unique_query(i + len(QUERIES) * 1000 * concurrency) if fresh else QUERIES[i % len(QUERIES)]
    params: dict[str, str | int] = {"q": text, "k": 10}
    if filtered:
        params["lang"] = LANG_FILTERS[i % len(LANG_FILTERS)]
    return params


def _summary(latencies: list[float], errors: list[str], elapsed: float) -> dict[str, object]:
    latencies = sorted(latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p * (len(latencies) - 1))))]

    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "p50": statistics.median(latencies), "p95": pct(0.95), "p99": pct(0.99), "rps": len(latencies) / elapsed}


def _load_stdlib(url: str, concurrency: int, total: int, fresh: bool, filtered: bool = False) -> dict[str, object]:
    """`concurrency` threads, each with one keep-alive `http.client` connection; answers are read and ungzipped as
    a browser would."""
    import gzip
    import http.client
    import threading
    from urllib.parse import urlencode, urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))
    lock = threading.Lock()

    def get(conn: http.client.HTTPConnection, params: dict[str, str | int]) -> tuple[int, bytes]:
        conn.request("GET", "/api/v1/search?" + urlencode(params), headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return response.status, body

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def worker() -> None:
        conn = connect()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                status, body = get(conn, _params(i, concurrency, fresh, filtered))
                if status != 200:
                    errors.append(f"{status}: {body[:200].decode(errors='replace')}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                conn = connect()
            latencies.append((time.perf_counter() - started) * 1000)
        conn.close()

    warm = connect()
    for q in QUERIES:  # warm-up: model, caches, a connection
        get(warm, {"q": q})
    warm.close()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return _summary(latencies, errors, time.perf_counter() - started)


async def _load_httpx(url: str, concurrency: int, total: int, fresh: bool, filtered: bool = False) -> dict[str, object]:
    """`concurrency` asyncio tasks sharing one httpx.AsyncClient (the client of sessions 12-15)."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            started = time.perf_counter()
            try:
                response = await client.get("/api/v1/search", params=_params(i, concurrency, fresh, filtered))
                if response.status_code != 200:
                    errors.append(f"{response.status_code}: {response.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for q in QUERIES:  # warm-up: model, caches, connections
            await client.get("/api/v1/search", params={"q": q})
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return _summary(latencies, errors, elapsed)


def run_client(url: str, concurrency: int, total: int, fresh: bool, filtered: bool = False,
               kind: str = "stdlib") -> dict[str, object]:
    """Run the load client in a separate process and return its measurements."""
    out = subprocess.run([sys.executable, __file__, "--client", url, "--load-client", kind,
                          "--concurrency", str(concurrency),
                          "--requests", str(total), *(["--fresh"] if fresh else []),
                          *(["--filtered"] if filtered else [])],
                         capture_output=True, text=True, timeout=1800, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


# --- the server --------------------------------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


FIRST_QUERY = "первый вопрос после запуска сервера о работе в парах"  # asked once per server, never before


class Server:
    """`pedkb serve` on a data folder in a subprocess, with `workers` worker processes."""

    def __init__(self, data: Path, model: str, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        env = {**os.environ, "PEDKB_MAX_K": "100", "PEDKB_RATE_LIMIT_SEARCH": "100000/minute"}  # one client IP
        self.log = open(data.parent / f"server-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--data", str(data), "--model", model, "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 900) -> float:
        """Block until /api/v1/health/ready has answered 200 from every worker (told apart by their X-Pedkb-Worker
        tokens; each new connection may go to any of them); returns the seconds since the start."""
        import httpx

        deadline = time.monotonic() + timeout
        ready: set[str] = set()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log.name}")
            try:
                response = httpx.get(f"{self.url}/api/v1/health/ready", timeout=5)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                ready.add(response.headers.get("x-pedkb-worker", ""))
            if len(ready) >= self.workers:
                return time.monotonic() - self.started
            time.sleep(0.02 if response is not None and response.status_code == 200 else 0.2)
        raise TimeoutError("server did not become ready")

    def first_search_ms(self) -> float:
        """The latency of one search never asked before, right after readiness."""
        import httpx

        started = time.perf_counter()
        response = httpx.get(f"{self.url}/api/v1/search", params={"q": FIRST_QUERY}, timeout=60)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    def worker_memory(self) -> list[tuple[float, float]]:
        """(RSS MB, PSS MB) of each process serving: the workers, or the one server process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        serving = [pid for pid in pids if _is_python(pid)] if self.workers > 1 else [self.process.pid]
        return [_memory(pid) for pid in serving]

    def stop(self) -> None:
        """Terminate the server process (only this one; uvicorn stops its workers)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _is_python(pid: int) -> bool:
    try:
        return "python" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB (PSS shares each shared page among the processes mapping it)."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0]) / 1024
    return values.get("Rss", 0.0), values.get("Pss", 0.0)


def measure(name: str, data: Path, model: str, requests: int, workers: int, rows: list[list[str]],
            notes: list[str], client: str = "stdlib") -> None:
    """Serve a data folder; time the first search after ready, then load it at 1 and 8 concurrent clients with
    repeated and with new queries, and at 1 client with new filtered ones (SCENARIOS)."""
    server = Server(data, model, workers)
    try:
        ready = server.wait_ready()
        first = server.first_search_ms()
        notes.append(f"{name}, {workers} worker(s): ready after {ready:.1f} s; first search after ready "
                     f"{first:.0f} ms")
        for fresh, filtered, concurrency in SCENARIOS:
            result = run_client(server.url, concurrency, requests, fresh, filtered, client)
            label = ("new" if fresh else "repeated") + (", lang filter" if filtered else "")
            rows.append([name, str(workers), label, str(concurrency),
                         str(result["requests"]), str(result["errors"]), f"{result['p50']:.1f}",
                         f"{result['p95']:.1f}", f"{result['p99']:.1f}", f"{result['rps']:.1f}"])
            if result["errors"]:
                print(f"errors in {name} at {concurrency}: {result['first_errors']}", file=sys.stderr)
        memory = server.worker_memory()
        notes.append(f"{name}, {workers} worker(s): memory per serving process after the load (RSS / PSS MB): "
                     + ", ".join(f"{rss:.0f} / {pss:.0f}" for rss, pss in memory))
    finally:
        server.stop()


def blended_store(folder: Path, source: Path, n_chunks: int, per_doc: int = 100, seed: int = 0) -> None:
    """A store of n_chunks blended from the kk/ru/ky passages of the store in `source` (module docstring)."""
    from index.records import DocumentRecord, NewChunk
    from index.store.embedded.backend import FaissBackend

    src = FaissBackend(source)
    model, dim = src.get_meta("model") or "", int(src.get_meta("dim") or 0)
    chunks = [c for batch in src.iter_chunks() for c in batch if c.lang in ("kk", "ru", "ky")]
    ids, vectors = src.store.chunk_vectors([c.chunk_id for c in chunks], dim)
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    src.close()
    by_lang: dict[str, list[tuple[list[str], np.ndarray]]] = {}
    for c in chunks:
        if c.chunk_id in vector_of:
            sentences = [s for s in c.text.replace("\n", " ").split(". ") if s.strip()]
            by_lang.setdefault(c.lang, []).append((sentences, vector_of[c.chunk_id]))
    langs = sorted(by_lang)
    weights = np.array([len(by_lang[lang]) for lang in langs], dtype=float)
    rng = np.random.default_rng(seed)
    backend = FaissBackend(folder)
    backend.set_meta("model", model)
    backend.set_meta("dim", str(dim))
    with backend.bulk_loading():
        for d in range(n_chunks // per_doc):
            lang = langs[int(rng.choice(len(langs), p=weights / weights.sum()))]
            passages = by_lang[lang]
            doc = DocumentRecord(doc_id=f"blend{d:06d}", source=f"blended/{d}.txt", title=f"blended {d}", fmt="txt",
                                 sha256=f"{d:064d}", size=0, languages=[lang])
            new = []
            for i in range(per_doc):
                (a_text, a_vec), (b_text, b_vec) = (passages[j] for j in rng.integers(len(passages), size=2))
                text = ". ".join(a_text[: max(len(a_text) // 2, 1)] + b_text[len(b_text) // 2:])
                vec = (a_vec + b_vec) / 2 + rng.standard_normal(dim).astype(np.float32) * 0.01
                vec = (vec / np.linalg.norm(vec)).astype(np.float32)
                new.append(NewChunk(i, text, lang, None, 0, len(text), len(text.split()), f"blend-{d}-{i}", vec))
            backend.put_document(doc, new)
    backend.close()


def main() -> None:
    """Prepare the data folders, run the scenarios and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=Path, default=REPO.parent / "shared" / "seeds",
                        help="seed documents to ingest with the real model")
    parser.add_argument("--store", type=Path, default=None,
                        help="an existing data folder to use as the seed store instead (copied, not written)")
    parser.add_argument("--synthetic", type=int, default=100_000, help="chunks of the blended store (0: none)")
    parser.add_argument("--only-synthetic", action="store_true", help="measure the blended store only")
    parser.add_argument("--blended", type=Path, default=None,
                        help="a blended store built before (`blended_store`) to use instead of building one")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of `pedkb serve`")
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--model", default=None, help="embedding model (default: the seed store's)")
    parser.add_argument("--load-client", choices=LOAD_CLIENTS, default="stdlib",
                        help="stdlib: a thread per client with http.client (default); httpx: asyncio tasks sharing "
                             "an httpx.AsyncClient, about 0.5-0.9 ms more per request on its own")
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--filtered", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        load = (args.client, args.concurrency, args.requests, args.fresh, args.filtered)
        result = _load_stdlib(*load) if args.load_client == "stdlib" else asyncio.run(_load_httpx(*load))
        print(json.dumps(result))
        return

    from index.store.embedded.backend import FaissBackend
    from pedkb.settings import Settings

    rows: list[list[str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        if args.store is not None:
            shutil.copytree(args.store, seeds, ignore=shutil.ignore_patterns("write.lock"))
        else:  # ingest in its own process: this one must not keep the model's thread pools busy while measuring
            subprocess.run([sys.executable, "-m", "cli", "-q", "--data", str(seeds), "--model",
                            args.model or Settings().model, "ingest", str(args.seeds)],
                           cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        backend = FaissBackend(seeds)
        model = args.model or backend.get_meta("model") or Settings().model
        chunks = backend.stats()["chunks"]
        backend.close()
        if not args.only_synthetic:
            measure(f"seeds ({chunks} chunks)", seeds, model, args.requests, args.workers, rows, notes,
                    args.load_client)
        if args.synthetic:
            synthetic = Path(tmp) / "synthetic"
            started = time.monotonic()
            if args.blended is not None:
                shutil.copytree(args.blended, synthetic, ignore=shutil.ignore_patterns("write.lock"))
            else:
                blended_store(synthetic, seeds, args.synthetic)
                notes.append(f"blended store of {args.synthetic} chunks built in {time.monotonic() - started:.0f} s")
            measure(f"blended ({args.synthetic} chunks)", synthetic, model, args.requests, args.workers, rows, notes,
                    args.load_client)

    header = ["index", "workers", "queries", "clients", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()
    for note in notes:
        print(note)
    print(f"\nmodel {model}; server: `pedkb serve --workers {args.workers}`; client: {args.load_client} in a separate "
          f"process; "
          f"{cpu_model()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
