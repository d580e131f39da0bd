"""How often "no close match" answers a search filtered to one language, with and without an answer there.

Every evaluation query is searched once per language (kk, ru, ky) with that language as the filter. A search whose
filter language holds a judged answer of the query should be answered; one whose filter language holds none may
rightly say "no close match" (the judgements are not exhaustive, so this side is a count, not an error rate).
Prints, per side and in all, how many searches are cut and how many of the cut ones had a judged answer in their
top 10 before (read from the ranking without the cut). Usage (a store with the seeds and the sample bank):
    .venv/bin/python bench/filtered_close_match.py --data DIR [--qrels corpus/eval/queries.jsonl]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.calibration import Calibration  # noqa: E402
from index.evaluation import (  # noqa: E402
    available_judgements,
    best_ranks,
    file_name,
    item_judgements,
    load_queries,
    result_from_hit,
)
from index.knowledge_base import KnowledgeBase  # noqa: E402
from index.records import SearchFilters  # noqa: E402
from pedkb.settings import Settings  # noqa: E402

LANGS = ("kk", "ru", "ky")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="a store with the seeds and the sample bank")
    parser.add_argument("--qrels", type=Path, default=REPO / "corpus" / "eval" / "queries.jsonl")
    parser.add_argument("--mode", default="hybrid")
    args = parser.parse_args()
    kb = KnowledgeBase(Settings(data=args.data))
    documents = kb.documents()
    queries, _, _ = available_judgements(load_queries(args.qrels), {d.doc_id for d in documents},
                                         {file_name(d.source) for d in documents})
    calibration = kb.calibration
    if calibration.query is None:
        parser.error(f"the model of {args.data} is not calibrated: no search is ever cut")
    uncut = Calibration(calibration.model, calibration.curves, replace(calibration.query, floor=0.0),
                        calibration.source)
    rows: dict[bool, list[tuple[str, str, bool, int | None]]] = {True: [], False: []}
    for query in queries:
        answers = item_judgements(query)
        for lang in LANGS:
            mine = [a for a in answers if lang in a.langs]
            filters = SearchFilters(langs=(lang,))
            page = kb.find(query.text, k=10, filters=filters, mode=args.mode)
            shown = page
            if page.no_close_match:  # what the reader would have seen without the cut: the same search, no floor
                kb.__dict__["calibration"] = uncut
                shown = kb.find(query.text, k=10, filters=filters, mode=args.mode)
                kb.__dict__["calibration"] = calibration
            found = [result_from_hit(item.hit()) for item in shown.items]
            rank = min((r for r in best_ranks(mine, found) if r is not None), default=None) if mine else None
            rows[bool(mine)].append((query.id, lang, page.no_close_match, rank))
    print(f"\n{len(queries)} queries x {len(LANGS)} languages, mode {args.mode}, store {args.data}\n")
    print("| filter language | searches | cut (no close match) | cut with an answer in the top 10 |")
    print("|---|---:|---:|---:|")
    for holds, label in ((True, "holds a judged answer"), (False, "holds none")):
        cut = [r for r in rows[holds] if r[2]]
        lost = [r for r in cut if r[3] is not None]
        print(f"| {label} | {len(rows[holds])} | {len(cut)} ({100 * len(cut) / max(len(rows[holds]), 1):.1f} %) "
              f"| {len(lost)} |")
    lost = [f"{q} → {lang} (rank {rank})" for q, lang, cut, rank in rows[True] if cut and rank is not None]
    print("\nanswered before the cut:", ", ".join(lost) or "none")


if __name__ == "__main__":
    main()
