"""The embedded backend's approximate (ANN) segment against its exact flat index, on one synthetic store.

One SQLite store of N chunks (clustered unit vectors like e5's, 384 dims; documents of 100 chunks in three
languages) is bulk-loaded with the flat index, measured, then migrated to an ANN segment (the build) and measured
again. Searches run in a fresh process opening the folder (as a server worker would): p50/p99 of the vector search
alone, recall@10 against exact search with and without a language filter, at k=10 and at the depths the ranking
asks (CANDIDATES unfiltered, `--deep` per language), and the process's memory (RSS, of which file-backed: the
shared, memory-mapped segment pages; PSS with two such workers running at once). Then 1,000 chunks are added (one
write batch of 10 documents, the index files included), deleted again, and the delta merged. Usage:
    .venv/bin/python bench/ann_bench.py [--chunks 1000000] [--queries 200] [--deep 1200] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backend_bench import DIM, PER_DOC, corpus, exact_top  # noqa: E402
from bench.pipeline_bench import cpu_model  # noqa: E402
from index.ranking import CANDIDATES  # noqa: E402
from index.records import DocumentRecord, NewChunk, SearchFilters  # noqa: E402
from index.store.embedded import segments  # noqa: E402
from index.store.embedded.backend import ANN_THRESHOLD, FaissBackend  # noqa: E402

log = logging.getLogger("ann_bench")

LANGS = ("kk", "ru", "ky")
FILTER_LANG = "kk"
ADD = 1000
MB = 2**20


def doc_lang(d: int) -> str:
    """Documents take the languages in turn."""
    return LANGS[d % len(LANGS)]


def documents(vecs: np.ndarray, first: int = 0) -> Iterator[tuple[DocumentRecord, list[NewChunk]]]:
    """Documents of 100 chunks over consecutive rows, in the language `doc_lang`."""
    for n in range(len(vecs) // PER_DOC):
        d = first + n
        lang = doc_lang(d)
        doc = DocumentRecord(doc_id=f"s{d:07d}", source=f"synthetic/{d}", title=None, fmt="txt", sha256="0",
                             size=0, languages=[lang])
        part = vecs[n * PER_DOC:(n + 1) * PER_DOC]
        yield doc, [NewChunk(i, f"chunk {d}-{i}", lang, None, 0, 1, 1, f"s{d}-{i}", part[i]) for i in range(PER_DOC)]


def status(pid: str = "self") -> dict[str, int]:
    """Memory fields of /proc/PID/status and the PSS of smaps_rollup, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[name] = int(value.split()[0])
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            out["Pss"] = int(line.split()[1])
    return out


def timings(values: list[float]) -> tuple[float, float]:
    """(p50, p99) in ms."""
    values = sorted(values)
    return statistics.median(values) * 1000, values[int(0.99 * (len(values) - 1))] * 1000


def recall(found: list[tuple[int, float]], exact: np.ndarray) -> float:
    """Share of the exact top 10 (rows) among the first 10 results (chunk id = row + 1)."""
    got = {cid - 1 for cid, _ in found[:10]}
    return len(got & set(exact.tolist())) / 10


def probe(folder: Path, work: Path, deep: int, hold: float, limit: int) -> None:
    """The search process: open the folder, run every query set (the first `limit` queries), print JSON lines."""
    queries = np.load(work / "queries.npy")[:limit]
    truth, truth_lang = np.load(work / "truth.npy")[:limit], np.load(work / "truth_lang.npy")[:limit]
    backend = FaissBackend(folder, ann_threshold=0)
    opened = time.perf_counter()
    backend.search(queries[0], 10)
    first = time.perf_counter() - opened
    lang = SearchFilters(langs=(FILTER_LANG,))
    out: dict[str, object] = {"first_search_s": first, "index": backend.stats()["vector_index"]}
    for name, k, filters, exact in (("k10", 10, None, truth), ("k10_lang", 10, lang, truth_lang),
                                    (f"k{CANDIDATES}", CANDIDATES, None, truth), (f"k{deep}", deep, None, truth),
                                    (f"k{deep}_lang", deep, lang, truth_lang)):
        times, recalls = [], []
        for q, ex in zip(queries, exact, strict=True):
            started = time.perf_counter()
            found = backend.search(q, k, filters)
            times.append(time.perf_counter() - started)
            recalls.append(recall(found, ex))
        p50, p99 = timings(times)
        out[name] = {"p50": p50, "p99": p99, "recall": float(np.mean(recalls))}
    out["memory"] = status()
    print(json.dumps(out), flush=True)
    time.sleep(hold)  # a second worker measures its PSS while this one still maps the pages
    out["memory_shared"] = status()
    print(json.dumps(out), flush=True)
    backend.close()


def run_probes(folder: Path, work: Path, deep: int, workers: int, limit: int) -> list[dict]:
    """`workers` fresh search processes at once; each one's last JSON line."""
    cmd = [sys.executable, __file__, "--probe", str(folder), "--work", str(work), "--deep", str(deep),
           "--hold", "5" if workers > 1 else "0", "--limit", str(limit)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    results = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"search process failed ({proc.returncode})")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def add_and_delete(backend: FaissBackend, extra: np.ndarray, first: int) -> tuple[float, float]:
    """Seconds to add 1,000 chunks in one write batch (index files included), and to delete them again."""
    started = time.perf_counter()
    with backend.writing():
        for doc, chunks in documents(extra, first):
            backend.put_document(doc, chunks)
    added = time.perf_counter() - started
    started = time.perf_counter()
    with backend.writing():
        for n in range(len(extra) // PER_DOC):
            backend.delete_document(f"s{first + n:07d}")
    return added, time.perf_counter() - started


def sizes(folder: Path) -> dict[str, int]:
    """Bytes of the SQLite store, the flat file and the segment files."""
    out = {"sqlite": sum(p.stat().st_size for p in folder.glob("pedkb.sqlite3*")),
           "flat": sum(p.stat().st_size for p in folder.glob("vectors-*.faiss"))}
    for name in (segments.GRAPH, segments.VECTORS, segments.IDS):
        out[name] = sum(p.stat().st_size for p in folder.glob(f"ann-*/{name}"))
    return out


def main() -> None:
    """Build, measure both layouts, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--deep", type=int, default=1200, help="depth of the per-language deep search")
    parser.add_argument("--data", type=Path, help="folder for the store (default: a temporary one, removed)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--hold", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=10**9, help=argparse.SUPPRESS)
    parser.add_argument("--flat-queries", type=int, default=30,
                        help="queries searched on the flat index (a filtered flat search takes seconds at 1M)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.probe:
        probe(args.probe, args.work, args.deep, args.hold, args.limit)
        return
    n = args.chunks // PER_DOC * PER_DOC
    root = args.data or Path(tempfile.mkdtemp(prefix="pedkb-ann-"))
    folder, work = root / "store", root / "work"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    everything, queries = corpus(n + ADD, args.queries)
    vecs, extra = everything[:n], everything[n:]
    langs = np.asarray([doc_lang(r // PER_DOC) for r in range(n)])
    in_lang = np.flatnonzero(langs == FILTER_LANG)
    np.save(work / "queries.npy", queries)
    np.save(work / "truth.npy", exact_top(vecs, queries))
    np.save(work / "truth_lang.npy", in_lang[exact_top(vecs[in_lang], queries)])
    del langs
    log.info("corpus and exact top 10 took %.0f s", time.perf_counter() - started)

    backend = FaissBackend(folder, ann_threshold=0)  # the flat layout, as a store from before this change
    backend.set_meta("model", "synthetic")
    backend.set_meta("dim", str(DIM))
    started = time.perf_counter()
    with backend.bulk_loading():
        for d, (doc, chunks) in enumerate(documents(vecs), 1):
            backend.put_document(doc, chunks)
            if d * PER_DOC % 100_000 == 0:
                log.info("%d chunks written", d * PER_DOC)
    load_s = time.perf_counter() - started
    first = backend.get_chunks([1, n])
    assert first[1].text == "chunk 0-0" and first[n].text == f"chunk {n // PER_DOC - 1}-{PER_DOC - 1}"
    del vecs
    flat_sizes = sizes(folder)
    flat_probe = run_probes(folder, work, args.deep, 1, args.flat_queries)[0]
    flat_add, flat_delete = add_and_delete(backend, extra, n // PER_DOC)
    backend.close()
    log.info("flat: %s", flat_probe)

    backend = FaissBackend(folder, background_merge=False)
    started = time.perf_counter()
    backend.merge()  # what the first save above the threshold does: the migration to a segment
    build_s = time.perf_counter() - started
    ann_sizes = sizes(folder)
    ann_probe = run_probes(folder, work, args.deep, 1, args.queries)[0]
    two = run_probes(folder, work, args.deep, 2, args.queries)
    ann_add, ann_delete = add_and_delete(backend, extra, n // PER_DOC + 1000)
    with backend.writing():  # 1,000 chunks left in the delta, then merged into a new segment
        for doc, chunks in documents(extra, n // PER_DOC + 2000):
            backend.put_document(doc, chunks)
    started = time.perf_counter()
    backend.merge()
    merge_s = time.perf_counter() - started
    backend.close()
    log.info("ann: %s; two workers: %s", ann_probe, two)
    if args.data is None:
        shutil.rmtree(root, ignore_errors=True)

    def row(label: str, probe_out: dict, add_s: float, delete_s: float, size: dict[str, int], build: str) -> str:
        mem = probe_out["memory"]
        cells = [label, build]
        for key in ("k10", "k10_lang", f"k{CANDIDATES}", f"k{args.deep}", f"k{args.deep}_lang"):
            cells.append(f"{probe_out[key]['p50']:.1f} / {probe_out[key]['p99']:.1f}")
        for key in ("k10", "k10_lang", f"k{CANDIDATES}", f"k{args.deep}", f"k{args.deep}_lang"):
            cells.append(f"{probe_out[key]['recall']:.3f}")
        index_bytes = size["flat"] + size[segments.GRAPH] + size[segments.VECTORS] + size[segments.IDS]
        cells += [f"{mem['VmRSS'] / 1024:,.0f} ({mem['RssFile'] / 1024:,.0f} file)", f"{add_s:.2f}",
                  f"{delete_s:.2f}", f"{index_bytes / MB:,.0f}", f"{size['sqlite'] / MB:,.0f}"]
        return "| " + " | ".join(cells) + " |"

    print(f"\n{n:,} chunks x {DIM} dims in {len(LANGS)} languages, {args.queries} queries, vector search only (no "
          f"query embedding), in a fresh search process (flat: the first {min(args.flat_queries, args.queries)} "
          f"queries); language filter = {FILTER_LANG} (1/{len(LANGS)} of the "
          f"chunks); recall@10 against exact search; ANN threshold {ANN_THRESHOLD:,} chunks")
    print(f"| index | build s | p50 / p99 ms k=10 | k=10 {FILTER_LANG} | k={CANDIDATES} | k={args.deep} | "
          f"k={args.deep} {FILTER_LANG} | recall@10 k=10 | k=10 {FILTER_LANG} | at k={CANDIDATES} | at k={args.deep} "
          f"| at k={args.deep} {FILTER_LANG} | search RSS MB | add 1,000 s | delete 1,000 s | index files MB "
          "| SQLite MB |")
    print("|" + "---|" * 17)
    print(row("flat (exact)", flat_probe, flat_add, flat_delete, flat_sizes, f"{load_s:.0f} (bulk load)"))
    print(row("ANN segment + delta", ann_probe, ann_add, ann_delete, ann_sizes, f"{build_s:.0f}"))
    print(f"ANN segment files: graph {ann_sizes[segments.GRAPH] / MB:,.0f} MB, vectors "
          f"{ann_sizes[segments.VECTORS] / MB:,.0f} MB, ids {ann_sizes[segments.IDS] / MB:,.0f} MB; merging a "
          f"1,000-chunk delta into a new segment: {merge_s:.1f} s; first search after opening: flat "
          f"{flat_probe['first_search_s']:.1f} s, ANN {ann_probe['first_search_s']:.2f} s")
    print("two search workers at once (ANN): " + "; ".join(
        f"RSS {w['memory_shared']['VmRSS'] / 1024:,.0f} MB (file {w['memory_shared']['RssFile'] / 1024:,.0f}), "
        f"PSS {w['memory_shared']['Pss'] / 1024:,.0f} MB" for w in two))
    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} cores, load average at the end "
          f"{os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
