"""What keeping the chunks' text keys between searches saves: in-process `find` on a blended store, new queries.

Exact copies are dropped from every ranking by a key of each passage's words (`ranking.text_key`), some 750
passages per search at 100k chunks. Three ways of getting the keys are compared in one process, on the same
queries, each after the same warm-up: found anew every time; an LRU cache on the text (20,000 texts, what sessions
8-11 did); the searcher's `TextKeys` by chunk id (now). Every query's vector is embedded before the runs, and the
rankings cache is emptied before each search, so the times are the search work alone. Usage:
    .venv/bin/python bench/text_keys_bench.py --store DIR [--source SEED_STORE] [--warm 300] [--measure 300]
`--store` is a blended store (`api_bench.blended_store`); it is built from `--source` (a store holding the seed
documents and the sample bank) when the folder does not exist.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from api_bench import blended_store, unique_query  # noqa: E402
from pipeline_bench import cpu_model  # noqa: E402

from index import ranking  # noqa: E402
from index.knowledge_base import KnowledgeBase  # noqa: E402
from index.records import ChunkRecord  # noqa: E402
from index.store.generation_cache import GenerationCache  # noqa: E402
from pedkb.settings import Settings  # noqa: E402


def arms() -> dict[str, Callable[[], Callable[[ChunkRecord], int] | None]]:
    """Each way of getting the keys, made afresh for its run."""
    def lru() -> Callable[[ChunkRecord], int]:
        cached = lru_cache(maxsize=20_000)(ranking.text_key)
        return lambda chunk: cached(chunk.text)

    return {"found anew": lambda: None, "LRU on the text (20,000)": lru, "TextKeys by chunk id": ranking.TextKeys}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, required=True, help="the blended store (built when missing)")
    parser.add_argument("--source", type=Path, default=None, help="the store to blend from, when building")
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks of a store built here")
    parser.add_argument("--warm", type=int, default=300, help="new queries searched before the measured ones")
    parser.add_argument("--measure", type=int, default=300, help="new queries measured")
    args = parser.parse_args()
    if not args.store.exists():
        if args.source is None:
            parser.error(f"--store {args.store} does not exist: give --source to build it")
        blended_store(args.store, args.source, args.chunks)
    kb = KnowledgeBase(Settings(data=args.store))
    searcher = kb.searcher
    queries = [unique_query(i) for i in range(args.warm + args.measure)]
    for query in queries:
        searcher._embed_query(query)  # cached: no run embeds

    def run(keys: Callable[[ChunkRecord], int] | None, batch: list[str]) -> list[float]:
        searcher.text_keys = keys
        times = []
        for query in batch:
            searcher.rankings = GenerationCache()  # ranked afresh
            started = time.perf_counter()
            kb.find(query, k=10)
            times.append((time.perf_counter() - started) * 1000)
        return times

    results: dict[str, list[float]] = {name: [] for name in arms()}
    for turn in range(2):  # the arms in one order, then in the other: drift of the machine falls on all alike
        for name, make in (arms().items() if turn == 0 else reversed(arms().items())):
            keys = make()
            run(keys, queries[:args.warm])
            results[name] += run(keys, queries[args.warm:])
    chunks = kb.backend.stats().get("chunks")
    print(f"\n{cpu_model()}, {args.store} ({chunks} chunks), {args.warm} new queries to warm up, "
          f"{args.measure} measured, twice per arm\n")
    print("| keys | find p50 ms | mean ms | p90 ms |\n|---|---:|---:|---:|")
    for name, times in results.items():
        times.sort()
        print(f"| {name} | {statistics.median(times):.1f} | {statistics.mean(times):.1f} | "
              f"{times[int(0.9 * len(times))]:.1f} |")


if __name__ == "__main__":
    main()
