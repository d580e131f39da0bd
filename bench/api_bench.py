"""API benchmark: latency and throughput of GET /api/v1/search over HTTP, server and load client in separate processes.

Scenarios: the seed documents (real model) and a synthetic 100k-chunk index, each at 1 and 8 concurrent clients.
The server is uvicorn in a subprocess on a free loopback port; the load client is another process (httpx, asyncio)
sending a bounded number of requests. Prints a table with the machine it ran on. Usage:
    .venv/bin/python bench/api_bench.py [--seeds DIR] [--synthetic 100000] [--requests 200] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from pipeline_bench import QUERIES, cpu_model, synthetic_backend  # noqa: E402


# --- the load client (run as its own process) --------------------------------------------------------------------
async def _load(url: str, concurrency: int, total: int) -> dict[str, object]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            params: dict[str, str | int] = {"q": QUERIES[i % len(QUERIES)], "k": 10}
            started = time.perf_counter()
            try:
                response = await client.get("/api/v1/search", params=params)
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
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p * (len(latencies) - 1))))]

    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
            "p50": statistics.median(latencies), "p95": pct(0.95), "p99": pct(0.99), "rps": len(latencies) / elapsed}


def run_client(url: str, concurrency: int, total: int) -> dict[str, object]:
    """Run the load client in a separate process and return its measurements."""
    out = subprocess.run([sys.executable, __file__, "--client", url, "--concurrency", str(concurrency),
                          "--requests", str(total)], capture_output=True, text=True, timeout=1800, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


# --- the server --------------------------------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """uvicorn serving the app on a data folder, in a subprocess."""

    def __init__(self, data: Path, model: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PEDKB_DATA": str(data), "PEDKB_MODEL": model, "PEDKB_MAX_K": "100"}
        self.log = open(data.parent / f"server-{self.port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "search_api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 180) -> None:
        """Block until /api/v1/health answers."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError("server did not start")

    def stop(self) -> None:
        """Terminate the server process (only this one)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def measure(name: str, data: Path, model: str, requests: int, rows: list[list[str]]) -> None:
    """Serve a data folder and load it at 1 and 8 concurrent clients."""
    server = Server(data, model)
    try:
        server.wait()
        for concurrency in (1, 8):
            result = run_client(server.url, concurrency, requests)
            rows.append([name, str(concurrency), str(result["requests"]), str(result["errors"]),
                         f"{result['p50']:.1f}", f"{result['p95']:.1f}", f"{result['p99']:.1f}",
                         f"{result['rps']:.1f}"])
            if result["errors"]:
                print(f"errors in {name} at {concurrency}: {result['first_errors']}", file=sys.stderr)
    finally:
        server.stop()


def main() -> None:
    """Prepare the data folders, run the scenarios and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=Path, default=REPO.parent / "shared" / "seeds")
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--model", default=None, help="embedding model (default: the configured one)")
    parser.add_argument("--client", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(_load(args.client, args.concurrency, args.requests))))
        return

    from index.store.embedded.backend import FaissBackend
    from pedkb.settings import Settings

    model = args.model or Settings().model
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        # ingest in its own process: this one must not keep the model's thread pools busy while measuring
        subprocess.run([sys.executable, "-m", "cli", "-q", "--data", str(seeds), "--model", model, "ingest",
                        str(args.seeds)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        backend = FaissBackend(seeds)
        name, dim = backend.get_meta("model") or model, int(backend.get_meta("dim") or 0)
        chunks = backend.stats()["chunks"]
        backend.close()
        measure(f"seeds ({chunks} chunks)", seeds, model, args.requests, rows)
        if args.synthetic:
            synthetic = Path(tmp) / "synthetic"
            synthetic_backend(synthetic, args.synthetic, dim, name).close()
            measure(f"synthetic ({args.synthetic} chunks)", synthetic, model, args.requests, rows)

    header = ["index", "clients", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(f"\nmodel {model}; server: 1 uvicorn process; client: httpx in a separate process; "
          f"{cpu_model()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
