"""Every kind of search answer for a fixed set of queries, written as JSON: two commits that should rank alike
(a refactor, a speed-up) write the same file. Usage:
    .venv/bin/python bench/result_pages.py --data DIR --out FILE [--queries corpus/eval/queries.jsonl]
then `cmp` the files of the two commits (each run in its own checkout, on the same data folder).

The pages: the evaluation queries and 200 synthetic ones (`api_bench.unique_query`) unfiltered; a third of the
evaluation queries and 40 synthetic ones filtered to each language; a fifth of them and 20 synthetic ones past the
shallow tier (offset 100), in dense and lexical mode, with `explain`, and as passages (first page and offset 150).
Items are compared by id, calibrated score, matched passages and their scores, totals, facets and the close-match
verdict (scores rounded to 9 decimals).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from api_bench import unique_query  # noqa: E402

from index.knowledge_base import KnowledgeBase  # noqa: E402
from index.records import SearchFilters  # noqa: E402
from index.searcher import ItemPage  # noqa: E402
from pedkb.settings import Settings  # noqa: E402

log = logging.getLogger("result_pages")


def _page(page: ItemPage) -> dict[str, Any]:
    return {"items": [(item.document.doc_id, round(item.score, 9),
                       [(p.chunk_id, round(p.raw, 9)) for p in item.group.passages],
                       [round(s, 9) for s in item.passage_scores], item.explanation) for item in page.items],
            "total": page.total, "estimate": page.total_is_estimate, "facets": page.facets,
            "no_close_match": page.no_close_match, "close_match": page.close_match, "floor": page.floor}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="the data folder searched (not changed)")
    parser.add_argument("--out", type=Path, required=True, help="the JSON file written")
    parser.add_argument("--queries", type=Path, default=REPO / "corpus" / "eval" / "queries.jsonl")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("index").setLevel(logging.WARNING)
    kb = KnowledgeBase(Settings(data=args.data))
    evaluation = [json.loads(line)["text"] for line in args.queries.read_text(encoding="utf-8").splitlines() if line]
    synthetic = [unique_query(i) for i in range(600)]
    pages: list[Any] = []
    started = time.perf_counter()
    for query in evaluation + synthetic[::3]:
        pages.append(_page(kb.find(query, k=10)))
    for query in evaluation[::3] + synthetic[:40]:
        for lang in ("kk", "ru", "ky"):
            pages.append(_page(kb.find(query, k=10, filters=SearchFilters(langs=(lang,)))))
    for query in evaluation[::5] + synthetic[:20]:
        pages.append(_page(kb.find(query, k=10, offset=100)))
        pages.append(_page(kb.find(query, k=10, mode="dense")))
        pages.append(_page(kb.find(query, k=10, mode="lexical")))
        pages.append(_page(kb.find(query, k=5, explain=True)))
        pages.append([(h.chunk.chunk_id, round(h.score, 9)) for h in kb.search(query, k=20)])
        pages.append([(h.chunk.chunk_id, round(h.score, 9)) for h in kb.search(query, k=10, offset=150)])
    args.out.write_text(json.dumps(pages, ensure_ascii=False, default=str), encoding="utf-8")
    log.info("%d pages from %s written to %s in %.0f s", len(pages), args.data, args.out,
             time.perf_counter() - started)


if __name__ == "__main__":
    main()
