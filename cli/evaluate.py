"""The `pedkb eval` command: search quality on judged queries (item or passage level) and the nonsense floor."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pedkb.limits import SEARCH_MODES

DEFAULT_NONSENSE = Path(__file__).resolve().parents[1] / "corpus" / "eval" / "nonsense.jsonl"
FLOOR_RESULTS = 10  # results per query the floor looks at


def add_parser(sub: Any, open_kb: Callable[[argparse.Namespace], Any]) -> None:
    """Declare `pedkb eval` on the command's subparsers; `open_kb(args)` opens the knowledge base."""
    from index.evaluation import LEVELS

    p = sub.add_parser("eval", help="score search on graded queries (corpus/eval/queries.jsonl)")
    p.add_argument("qrels", help="JSON Lines of queries with graded judgements (corpus/eval/README.md)")
    p.add_argument("--mode", choices=[*SEARCH_MODES, "all"], default="all",
                   help="search mode to evaluate (default all: every mode, the search default first)")
    p.add_argument("--level", choices=LEVELS, default=LEVELS[0],
                   help="item (default): passages collapsed to items; passage: every judged passage")
    p.add_argument("--k", type=int, default=10, help="results per query (default 10)")
    p.add_argument("--within-language", action="store_true",
                   help="also score each language pair with the search restricted to the answer language")
    p.add_argument("--nonsense", nargs="?", const=str(DEFAULT_NONSENSE), default=None, metavar="JSONL",
                   help="also sweep a 'no close match' floor over the top-1 scores of these nonsense queries "
                        "against the judged ones (default file: corpus/eval/nonsense.jsonl)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: cmd_eval(args, open_kb))


def cmd_eval(args: argparse.Namespace, open_kb: Callable[[argparse.Namespace], Any]) -> int:
    """Score search on graded queries: MRR@10, nDCG@10 and Recall@1/5/10, overall and per language pair."""
    from index.evaluation import run_evaluation

    modes = list(SEARCH_MODES) if args.mode == "all" else [args.mode]
    with open_kb(args) as kb:
        reports = [run_evaluation(kb, Path(args.qrels), k=args.k, mode=mode, within_language=args.within_language,
                                  level=args.level) for mode in modes]
        sweeps = _floor_sweeps(kb, args, modes) if args.nonsense else {}
        kb_cuts = _no_close_match(kb, args, modes) if args.nonsense else {}
    if args.json:
        out: Any = [r.to_dict() for r in reports]
        if sweeps:
            out = {"reports": out, "floor": {mode: [vars(o) for o in sweep] for mode, sweep in sweeps.items()},
                   "no_close_match": {mode: {"nonsense_cut": j, "real_cut": r}
                                      for mode, (j, r) in _calibrated_cuts(kb_cuts).items()}}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    for report in reports:
        print(f"\nmode {report.mode}, {report.level} level: {len(report.queries)} queries, "
              f"{report.skipped_judgements} judgements on items not in this knowledge base left out "
              f"({len(report.skipped_queries)} queries), {report.seconds:.1f} s\n")
        print(report.table())
        if report.filtered:
            print("\nlanguage pairs, relevant answers in other languages removed from the list (filtered):\n")
            print(report.table(report.filtered))
        if report.within_language:
            print("\nsearched within the answer language (--lang):\n")
            print(report.table(report.within_language))
    if len(reports) > 1:
        names = [row.name for row in reports[0].rows]
        print("\nMRR@10 by mode\n\n| mode | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
        for report in reports:
            print(f"| {report.mode} | " + " | ".join(f"{report.row(n).metrics['MRR@10']:.3f}" for n in names) + " |")
    if sweeps:
        print("\n'no close match' floor on the top-1 raw score (nonsense cut = recall; real cut must stay <= 3 %):\n")
        from index.eval_floor import sweep_table

        print(sweep_table(sweeps))
        print("\nthe calibrated 'no close match' answer (index/calibration.json), as a reader gets it:\n")
        print("| mode | nonsense answered no close match | real queries wrongly cut |\n|---|---:|---:|")
        for mode, (junk_cut, real_cut) in _calibrated_cuts(kb_cuts).items():
            print(f"| {mode} | {junk_cut:.1%} | {real_cut:.1%} |")
    return 0


def _no_close_match(kb: Any, args: argparse.Namespace, modes: list[str]) -> dict[str, tuple[list[bool], list[bool]]]:
    """Per mode: for each nonsense query and each judged query, whether the search showed nothing."""
    from index.eval_floor import load_nonsense
    from index.eval_queries import load_queries

    nonsense = [q.text for q in load_nonsense(Path(args.nonsense))]
    real = [q.text for q in load_queries(Path(args.qrels))]
    def cut(text: str, mode: str) -> bool:
        page = kb.find(text, k=1, mode=mode)
        return bool(page.no_close_match or not page.items)  # nothing shown: "no close match", or nothing at all

    return {mode: ([cut(text, mode) for text in nonsense], [cut(text, mode) for text in real]) for mode in modes}


def _calibrated_cuts(cuts: dict[str, tuple[list[bool], list[bool]]]) -> dict[str, tuple[float, float]]:
    """Per mode: the share of nonsense answered "no close match" and the share of real queries wrongly cut."""
    return {mode: (sum(junk) / max(len(junk), 1), sum(real) / max(len(real), 1)) for mode, (junk, real) in cuts.items()}


def _floor_sweeps(kb: Any, args: argparse.Namespace, modes: list[str]) -> dict[str, Any]:
    """Per mode, the threshold sweep over the top-1 scores of the nonsense and the judged queries."""
    from index.eval_floor import load_nonsense, sweep_floor, top_scores
    from index.eval_queries import load_queries, result_from_hit
    from index.evaluation import collapse_to_items

    nonsense = [q.text for q in load_nonsense(Path(args.nonsense))]
    real = [q.text for q in load_queries(Path(args.qrels))]
    sweeps = {}
    for mode in modes:
        def search(text: str, mode: str = mode) -> list[tuple[str, float]]:
            hits = kb.search(text, k=FLOOR_RESULTS, mode=mode)
            results = [(result_from_hit(h), h.score) for h in hits]
            kept = {id(r) for r in collapse_to_items([r for r, _ in results])}
            return [(r.doc_id, score) for r, score in results if id(r) in kept]

        sweeps[mode] = sweep_floor(top_scores(search, nonsense), top_scores(search, real))
    return sweeps
