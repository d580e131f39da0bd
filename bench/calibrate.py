"""Fit the score calibration: per mode, a logistic curve from a raw score to the chance an item is relevant.

Runs every evaluation query (corpus/eval/queries.jsonl) and every nonsense or off-topic query
(corpus/eval/nonsense.jsonl) through each mode of a real knowledge base (seeds + bank), labels the top items
(relevant: named by a judgement of the query; nonsense queries have none), fits the curve with scikit-learn and
picks the floor: the highest probability that cuts at most MAX_REAL_CUT of the real queries' best items. Prints
the fit, the floor's cut shares and, with --write, stores the curves in index/calibration.json under the model name.

    python bench/calibrate.py --data /tmp/e [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_bench import cpu_model  # noqa: E402

from index.calibration import CALIBRATION_FILE, Calibration, Curve, QueryModel  # noqa: E402
from index.eval_queries import file_name, load_queries  # noqa: E402
from index.knowledge_base import KnowledgeBase  # noqa: E402
from index.ranking import drop_duplicates  # noqa: E402
from index.results import Passage, group  # noqa: E402
from pedkb.limits import SEARCH_MODES  # noqa: E402
from pedkb.settings import Settings  # noqa: E402

TOP = 10  # items per query labelled for the fit
MAX_REAL_CUT = 0.02  # the issue allows 3 %; 2 % keeps a margin for queries unlike ours


def nonsense_texts(path: Path) -> list[str]:
    """The query texts of the nonsense set (one JSON object with "text" per line)."""
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ranked_items(kb: KnowledgeBase, text: str, mode: str) -> tuple[list[tuple[str, float]], int, tuple[float, float]]:
    """(doc_id, raw score of its best passage) for the items of a query, best first; the distinct terms; the
    best word match per term."""
    found = kb.searcher.rank(" ".join(text.split()), mode, None)
    groups = group(Passage(r.chunk, r.score) for r in drop_duplicates(found.ranked))
    return [(g.doc_id, g.best.raw) for g in groups], len(set(found.terms)), (found.dense_top or 0.0, found.words)


def floor_for(real: list[float], junk: list[float]) -> tuple[float, float, float]:
    """The highest threshold cutting at most MAX_REAL_CUT of `real`; (floor, real share cut, junk share cut)."""
    ordered = sorted(real)
    cut = int(MAX_REAL_CUT * len(ordered))  # this many real queries may fall below the floor
    floor = (ordered[cut] + ordered[cut - 1]) / 2 if cut else ordered[0] * 0.999
    return floor, sum(p < floor for p in real) / len(real), sum(p < floor for p in junk) / max(len(junk), 1)


def fit_close_match(features: np.ndarray, labels: np.ndarray) -> QueryModel:
    """The close-match model on (best dense score, words per term) per query, its floor cutting ≤ 3 % of the real."""
    fit = LogisticRegression(C=1e4).fit(features, labels)
    query = QueryModel(float(fit.coef_[0][0]), float(fit.coef_[0][1]), float(fit.intercept_[0]), 0.0)
    real = [query(x, w) for (x, w), label in zip(features, labels, strict=True) if label]
    floor, _, _ = floor_for(real, [])
    return QueryModel(query.dense, query.lexical, query.bias, floor)


def held_out_cuts(features: np.ndarray, labels: np.ndarray, folds: int = 5) -> tuple[float, float]:
    """Cross-validated (real cut, nonsense cut): each query judged by a model and floor fitted without it."""
    real_cut = junk_cut = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(features, labels):
        model = fit_close_match(features[train], labels[train])
        for (x, w), label in zip(features[test], labels[test], strict=True):
            cut = model(x, w) < model.floor
            real_cut += int(cut and label == 1)
            junk_cut += int(cut and label == 0)
    return real_cut / int(labels.sum()), junk_cut / int((labels == 0).sum())


def main() -> int:
    """Fit, print, and optionally write the calibration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=Path("corpus/eval/queries.jsonl"))
    parser.add_argument("--nonsense", type=Path, default=Path("corpus/eval/nonsense.jsonl"))
    parser.add_argument("--write", action="store_true", help="store the curves in index/calibration.json")
    args = parser.parse_args()
    kb = KnowledgeBase(Settings(data=args.data))
    model = kb.embedder.name
    kb.__dict__["calibration"] = Calibration(model, {})  # raw scores while fitting
    documents = kb.documents()
    names = {d.doc_id: file_name(d.source) for d in documents}
    queries = load_queries(args.queries)
    junk = nonsense_texts(args.nonsense)
    print(f"CPU: {cpu_model()}; model {model}; {len(queries)} queries, {len(junk)} nonsense/off-topic")
    out: dict[str, dict[str, float]] = {}
    evidence: list[tuple[float, float]] = []  # per query (real first, then nonsense): best dense, words per term
    labels: list[int] = []
    for mode in SEARCH_MODES:
        xs, ys, relevant = [], [], []
        for texts, label in (([q.text for q in queries], 1), (junk, 0)):
            for n, text in enumerate(texts):
                items, n_terms, query_evidence = ranked_items(kb, text, mode)
                judgements = queries[n].judgements if label else ()
                for rank, (doc_id, raw) in enumerate(items):
                    hit = any(j.item == doc_id if j.item is not None
                              else names.get(doc_id, "").startswith(j.seed or "\0") for j in judgements)
                    x = Calibration.feature(raw, mode, n_terms)
                    if hit:
                        relevant.append(x)  # at any rank: the floor must not hide what a teacher would want
                    if rank < TOP:
                        xs.append(x)
                        ys.append(int(hit))
                if mode == SEARCH_MODES[0]:
                    evidence.append(query_evidence)
                    labels.append(label)
        fit = LogisticRegression(C=1e4).fit(np.array(xs).reshape(-1, 1), np.array(ys))
        slope = float(fit.coef_[0][0])
        midpoint = -float(fit.intercept_[0]) / slope
        curve = Curve(slope, midpoint, None)
        floor, _, _ = floor_for([curve(x) for x in relevant], [])
        print(f"{mode:>8}: item curve slope {slope:.2f} midpoint {midpoint:.4f}; item floor {floor:.3f} "
              f"(at most {MAX_REAL_CUT:.0%} of the {len(relevant)} relevant items found, at any rank, below it)")
        out[mode] = {"slope": round(slope, 4), "midpoint": round(midpoint, 6), "floor": round(floor, 4)}
    features, targets = np.array(evidence), np.array(labels)
    query = fit_close_match(features, targets)
    real = [query(x, w) for (x, w), label in zip(features, labels, strict=True) if label]
    nonsense = [query(x, w) for (x, w), label in zip(features, labels, strict=True) if not label]
    query_floor, real_cut, junk_cut = floor_for(real, nonsense)
    print(f"close match: dense {query.dense:.2f} words {query.lexical:.2f} bias {query.bias:.2f}, floor "
          f"{query_floor:.3f}: real queries cut {real_cut:.1%} ({round(real_cut * len(real))}/{len(real)}), "
          f"nonsense cut {junk_cut:.1%} ({round(junk_cut * len(nonsense))}/{len(nonsense)})")
    cv_real, cv_junk = held_out_cuts(features, targets)
    print(f"close match, 5-fold cross-validated (each query judged by a fit without it): real queries cut "
          f"{cv_real:.1%}, nonsense cut {cv_junk:.1%}")
    close = {"dense": round(query.dense, 4), "lexical": round(query.lexical, 4), "bias": round(query.bias, 4),
             "floor": round(query_floor, 4)}
    if args.write:
        data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")) if CALIBRATION_FILE.exists() else {}
        data[model] = {"fitted_on": f"{args.queries.name} ({len(queries)}) + {args.nonsense.name} ({len(junk)})",
                       "modes": out, "query": close}
        CALIBRATION_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"written to {CALIBRATION_FILE}")
    kb.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
