"""A new query's search in-process, as a warm server runs it: wall time per search and CPU time per search.

Over HTTP (`bench/api_bench.py`) the client shares the two cores and each run starts a new server, so two runs of
the same code differ by 20-30 % on a busy machine; this loop times `run_search` (the route's work: ranking,
items, snippets, titles, JSON) on one process, with the collector as a warm server sets it (`gc.freeze()` and
`warmup.GC_THRESHOLDS`; `--default-gc` keeps Python's). Compare two commits by running each in its own checkout,
alternately, on the same data folder. Usage:
    .venv/bin/python bench/find_speed.py --data DIR [--warm 300] [--measure 1000] [--default-gc]
Every query is new to the process (`api_bench.unique_query` and variants of it): each one is embedded.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from api_bench import unique_query  # noqa: E402
from pipeline_bench import cpu_model  # noqa: E402

from index.knowledge_base import KnowledgeBase  # noqa: E402
from pedkb.settings import Settings  # noqa: E402
from search_api import warmup  # noqa: E402
from search_api.routes.search import run_search  # noqa: E402
from search_api.schemas import SearchPageQuery  # noqa: E402
from search_api.titles import localise_results, title_order  # noqa: E402


def queries(count: int) -> list[str]:
    """`count` distinct queries (the bench's 600, then each with one more word)."""
    base = [unique_query(i) for i in range(600)]
    out = base + [f"{q} {word}" for q in base for word in ("урок", "сабақ", "сабак", "метод", "класс")]
    if count > len(out):
        raise SystemExit(f"at most {len(out)} queries")
    return out[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="the data folder searched")
    parser.add_argument("--warm", type=int, default=300, help="new queries searched before the measured ones")
    parser.add_argument("--measure", type=int, default=1000, help="new queries measured")
    parser.add_argument("--default-gc", action="store_true", help="keep Python's collector settings")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    settings = Settings(data=args.data)
    kb = KnowledgeBase(settings)

    def search(text: str) -> None:
        page = run_search(kb, settings, SearchPageQuery(q=text, k=10))
        localise_results(page, kb.vocabulary, title_order("ru")).model_dump_json()

    batch = queries(args.warm + args.measure)
    for text in batch[:args.warm]:
        search(text)
    if not args.default_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*getattr(warmup, "GC_THRESHOLDS", gc.get_threshold()))
    times = []
    cpu_started = time.process_time()
    for text in batch[args.warm:]:
        started = time.perf_counter()
        search(text)
        times.append((time.perf_counter() - started) * 1000)
    cpu = (time.process_time() - cpu_started) * 1000 / len(times)
    times.sort()
    chunks = kb.backend.stats().get("chunks")
    print(f"{cpu_model()}, {args.data} ({chunks} chunks), gc {gc.get_threshold()}, {args.warm} new queries to warm up")
    print("| new queries | p50 ms | mean ms | p90 ms | p99 ms | CPU ms per query |\n|---|---:|---:|---:|---:|---:|")
    print(f"| {len(times)} | {statistics.median(times):.1f} | {statistics.mean(times):.1f} | "
          f"{times[int(0.9 * len(times))]:.1f} | {times[int(0.99 * len(times))]:.1f} | {cpu:.1f} |")


if __name__ == "__main__":
    main()
