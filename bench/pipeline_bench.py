"""Pipeline benchmark: ingest throughput on the seeds, query latency on the seeds and on a synthetic 100k index.

Prints a table with the machine it ran on. Usage:
    .venv/bin/python bench/pipeline_bench.py [--seeds DIR] [--synthetic 100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.knowledge_base import KnowledgeBase  # noqa: E402
from index.records import DocumentRecord, NewChunk  # noqa: E402
from index.store.embedded.backend import FaissBackend  # noqa: E402
from pedkb.settings import Settings  # noqa: E402

QUERIES = [
    "как организовать работу учеников в парах",
    "инновациялық педагогикалық тәжірибені тарату",
    "мугалимдин инновациялык ишмердүүлүгү",
    "критерии передового педагогического опыта",
    "мұғалімдердің кәсіби дамуы және тәлімгерлік",
    "источники инновационных идей в образовании",
    "қашықтан оқыту және электрондық оқыту",
    "педагогикалык инновациялардын классификациясы",
]


def cpu_model() -> str:
    """The CPU name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latencies(kb: KnowledgeBase, n: int) -> tuple[float, float]:
    """p50 and p95 of in-process search latency in ms."""
    times = []
    for i in range(n):
        q = QUERIES[i % len(QUERIES)]
        started = time.perf_counter()
        kb.search(q, k=10)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def synthetic_backend(folder: Path, n_chunks: int, dim: int, model: str) -> FaissBackend:
    """A backend holding n_chunks random unit vectors in documents of 100 chunks."""
    backend = FaissBackend(folder)
    backend.set_meta("model", model)
    backend.set_meta("dim", str(dim))
    rng = np.random.default_rng(0)
    per_doc = 100
    with backend.writing():
        for d in range(n_chunks // per_doc):
            vecs = rng.standard_normal((per_doc, dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            doc = DocumentRecord(doc_id=f"syn{d:06d}", source=f"synthetic/{d}.txt", title=None, fmt="txt",
                                 sha256="0" * 64, size=0, languages=["ru"])
            chunks = [NewChunk(i, f"синтетический фрагмент {d}-{i}", "ru", None, 0, 10, 5, f"syn-{d}-{i}", vecs[i])
                      for i in range(per_doc)]
            backend.store.put_document(doc, chunks)
    return backend


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "seeds")
    parser.add_argument("--synthetic", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data=Path(tmp) / "seeds")
        with KnowledgeBase(settings) as kb:
            emb = kb.embedder
            emb.embed_queries(["warm up"])
            report = kb.ingest([args.seeds])
            rows.append(("model / precision", f"{emb.name} / {emb.precision}"))
            rows.append(("seed files ingested", f"{report.count('added')} ({report.count('failed')} failed)"))
            rows.append(("chunks / tokens", f"{report.embedded_chunks} / {report.embedded_tokens}"))
            rows.append(("ingest time (s)", f"{report.seconds:.1f}"))
            rows.append(("ingest chunks/s", f"{report.embedded_chunks / report.seconds:.1f}"))
            rows.append(("ingest tokens/s", f"{report.embedded_tokens / report.seconds:.0f}"))
            p50, p95 = latencies(kb, args.queries)
            rows.append(("seed search p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}"))
            if args.synthetic:
                started = time.perf_counter()
                backend = synthetic_backend(Path(tmp) / "synthetic", args.synthetic, emb.dim, emb.name)
                build = time.perf_counter() - started
                syn = KnowledgeBase(Settings(data=Path(tmp) / "synthetic"), embedder=emb, backend=backend)
                syn.search("прогрев", k=10)
                p50, p95 = latencies(syn, args.queries)
                rows.append((f"synthetic {args.synthetic} chunks: build (s)", f"{build:.1f}"))
                rows.append((f"synthetic {args.synthetic} search p50 / p95 (ms)", f"{p50:.1f} / {p95:.1f}"))
                syn.close()
    rows.append(("peak RSS (MB)", f"{peak_rss_mb():.0f}"))
    rows.append(("machine", f"{cpu_model()}, {len(__import__('os').sched_getaffinity(0))} cores, "
                            f"Python {platform.python_version()}"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")


if __name__ == "__main__":
    main()
