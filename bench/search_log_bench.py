"""Search log benchmark: what logging adds to a search (the `record` call on the request path), how fast the
background thread writes batches, and how long `pedkb gaps` clusters a large log (hashing embedder: the clustering,
not the model). Prints a table with the machine it ran on. Usage:
    .venv/bin/python bench/search_log_bench.py [--searches 20000] [--distinct 3000]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from pipeline_bench import cpu_model  # noqa: E402

from index.embedding.hashing import HashingEmbedder  # noqa: E402
from index.gaps import gap_report  # noqa: E402
from index.searchlog import SearchLog, SqliteSearchLog  # noqa: E402


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--searches", type=int, default=20_000)
    parser.add_argument("--distinct", type=int, default=3000, help="distinct unmet queries clustered")
    args = parser.parse_args()
    words = ["оқыту", "әдіс", "сабақ", "урок", "метод", "школа", "мектеп", "окуучу", "сынып", "проект", "игра",
             "ойын", "робот", "экология", "шахмат", "буллинг", "инклюзия", "финансы", "чтение", "математика"]
    queries = [f"{words[i % 20]} {words[(i // 20) % 20]} {words[(i // 400) % 20]} {i % 7}"
               for i in range(args.distinct)]
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteSearchLog(Path(folder) / "search-log.sqlite3")
        search_log = SearchLog(store, 90, flush_seconds=3600)  # flushed by hand below, to time it alone
        costs = []
        for i in range(args.searches):
            start = time.perf_counter_ns()
            search_log.record(queries[i % len(queries)], mode="hybrid", filters={"region": ["kz-astana"]},
                              n_items=0, top_score=None, no_close_match=True)
            costs.append(time.perf_counter_ns() - start)
        start = time.perf_counter()
        written = search_log.flush()
        flush_s = time.perf_counter() - start
        start = time.perf_counter()
        report = gap_report(search_log.searches(), HashingEmbedder(256).embed_queries, None, distance=0.6)
        report_s = time.perf_counter() - start
        search_log.close()
    costs.sort()
    print(f"machine: {cpu_model()} ({platform.machine()}), Python {platform.python_version()}")
    print("| measure | value |\n|---|---|")
    print(f"| record() on the search path, median | {statistics.median(costs) / 1000:.1f} µs |")
    print(f"| record() p99 | {costs[int(len(costs) * 0.99)] / 1000:.1f} µs |")
    print(f"| background write (language detection + SQLite batches) | {written / flush_s:,.0f} searches/s |")
    print(f"| gap report: {len(report.groups)} groups from {args.distinct} distinct queries "
          f"({report.unmet} searches) | {report_s:.2f} s |")


if __name__ == "__main__":
    main()
