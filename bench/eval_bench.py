"""Compare lexical analyzers (and dense retrieval) on our evaluation queries with an in-memory BM25.

The corpus is the five seed documents (chunked as pedkb chunks them), the sample experiences (one item each) and
the technologies (one item per language), with the doc ids the knowledge base gives them, so every judgement of
corpus/eval/queries.jsonl can be found. Each analyzer indexes the corpus with `index.lexical.analyse` and ranks
by Okapi BM25 ("+fold": Kazakh/Kyrgyz letters folded, `lexical.fold_turkic`; "prefix4+fold" is what the
knowledge base's lexical index uses); "dense" ranks by the embedding model's cosine (query:/passage: prompts, no
language correction); "rrf" fuses dense with the best BM25 by reciprocal rank. Prints MRR@10 and Recall@5 per
language pair. The knowledge base's own modes are compared by `pedkb eval QRELS --mode all` (docs/retrieval.md).

    .venv/bin/python bench/eval_bench.py [--qrels corpus/eval/queries.jsonl] [--seeds DIR] [--no-dense]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.embedding.embedder import Embedder, load_embedder  # noqa: E402
from index.eval_queries import EvalQuery, SearchResult, file_name, load_queries  # noqa: E402
from index.evaluation import LEVELS, METRICS, EvaluationReport, available_judgements, evaluate  # noqa: E402
from index.lexical import analyse  # noqa: E402
from ingest import detect_language, prepare_document  # noqa: E402
from ingest.knowledge import (  # noqa: E402
    LANGUAGES,
    experience_text,
    load_corpus_experiences,
    load_vocabulary,
    technology_text,
)
from pedkb.settings import Settings  # noqa: E402

log = logging.getLogger("eval_bench")

K1, B = 1.2, 0.75
RRF_K = 60
ANALYZERS: dict[str, dict[str, Any]] = {  # name -> keyword arguments of analyse()
    "plain": {"scheme": "plain"},
    "stem": {"scheme": "stem"},
    "prefix4": {"scheme": "prefix", "prefix_len": 4},
    "prefix5": {"scheme": "prefix", "prefix_len": 5},
    "prefix6": {"scheme": "prefix", "prefix_len": 6},
    "stem+fold": {"scheme": "stem", "fold": True},
    "prefix4+fold": {"scheme": "prefix", "prefix_len": 4, "fold": True},
}
Search = Callable[[str, int], list[SearchResult]]


def seed_folder() -> Path | None:
    """The shared seed documents beside this checkout."""
    for candidate in (REPO.parent / "shared" / "seeds", REPO.parents[1] / "shared" / "seeds"):
        if candidate.is_dir():
            return candidate
    return None


def build_corpus(seeds: Path | None, count_tokens: Callable[[str], int], settings: Settings) -> list[SearchResult]:
    """Seed chunks, experiences and technologies as the knowledge base would return them."""
    corpus: list[SearchResult] = []
    for path in sorted(seeds.glob("*.txt")) if seeds else []:
        prepared = prepare_document(path, max_bytes=settings.max_file_bytes, count_tokens=count_tokens,
                                    max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)
        corpus += [SearchResult(path.name, str(path), c.text, c.lang) for c in prepared.chunks]
    vocabulary = load_vocabulary(REPO / "corpus")
    for exp in load_corpus_experiences(REPO / "corpus", vocabulary):
        corpus.append(SearchResult(exp.id, f"experience:{exp.id}", experience_text(exp), exp.language, "experience"))
    for tech in vocabulary.technologies.values():
        for lang in LANGUAGES:
            corpus.append(SearchResult(f"tech:{tech.id}", f"technology:{tech.id}", technology_text(tech, lang),
                                       lang, "technology"))
    return corpus


class BM25:
    """Okapi BM25 over pre-analysed documents."""

    def __init__(self, documents: Sequence[list[str]]) -> None:
        self.lengths = [len(terms) for terms in documents]
        self.mean_length = sum(self.lengths) / max(len(documents), 1)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for doc, terms in enumerate(documents):
            for term, tf in Counter(terms).items():
                self.postings[term].append((doc, tf))
        n = len(documents)
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def top(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The k best documents for the query terms (only those sharing a term with the query)."""
        scores: dict[int, float] = defaultdict(float)
        for term in set(terms):
            for doc, tf in self.postings.get(term, ()):
                norm = K1 * (1 - B + B * self.lengths[doc] / self.mean_length)
                scores[doc] += self.idf[term] * tf * (K1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def query_lang(text: str, declared: str) -> str:
    """The language a search service would analyse the query in: detected, else the declared one."""
    lang = detect_language(text)
    return lang if lang in LANGUAGES else declared


def lexical_search(corpus: list[SearchResult], options: dict[str, Any],
                   langs: dict[str, str]) -> Search:
    """A search function ranking `corpus` by BM25 under one analyzer."""
    index = BM25([analyse(doc.text, doc.lang, **options) for doc in corpus])

    def search(text: str, k: int) -> list[SearchResult]:
        terms = analyse(text, langs[text], **options)
        return [corpus[doc] for doc, _ in index.top(terms, k)]

    return search


def dense_search(corpus: list[SearchResult], queries: Sequence[EvalQuery], embedder: Embedder) -> Search:
    """A search function ranking `corpus` by cosine similarity of the model's vectors."""
    passages = embedder.embed_passages([doc.text for doc in corpus])
    vectors = dict(zip([q.text for q in queries], embedder.embed_queries([q.text for q in queries]), strict=True))

    def search(text: str, k: int) -> list[SearchResult]:
        scores = passages @ vectors[text]
        return [corpus[i] for i in np.argsort(-scores, kind="stable")[:k]]

    return search


def rrf(searches: Sequence[Search], depth: int = 100) -> Search:
    """Reciprocal-rank fusion of several search functions."""

    def search(text: str, k: int) -> list[SearchResult]:
        fused: dict[int, float] = defaultdict(float)
        seen: dict[int, SearchResult] = {}
        for run in searches:
            for rank, result in enumerate(run(text, depth), start=1):
                fused[id(result)] += 1.0 / (RRF_K + rank)
                seen[id(result)] = result
        return [seen[key] for key, _ in sorted(fused.items(), key=lambda item: -item[1])[:k]]

    return search


def print_tables(reports: dict[str, EvaluationReport]) -> None:
    """MRR@10 and R@5 per analyzer and row (overall, same language, cross-lingual, language pairs)."""
    names = [row.name for row in next(iter(reports.values())).rows]
    for metric in ("MRR@10", "R@5"):
        print(f"\n{metric}\n| analyzer | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
        for analyzer, report in reports.items():
            print(f"| {analyzer} | " + " | ".join(f"{row.metrics[metric]:.3f}" for row in report.rows) + " |")
    counts = next(iter(reports.values())).rows
    print("\nn per row: " + ", ".join(f"{row.name} {row.n}" for row in counts))


def main(argv: list[str] | None = None) -> int:
    """Build the in-memory corpus, run every analyzer over the queries and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qrels", type=Path, default=REPO / "corpus" / "eval" / "queries.jsonl")
    parser.add_argument("--seeds", type=Path, default=seed_folder())
    parser.add_argument("--no-dense", action="store_true", help="skip the embedding model")
    parser.add_argument("--seeds-only", action="store_true", help="only judgements on the seed documents")
    parser.add_argument("--level", choices=LEVELS, default=LEVELS[0], help="item (default) or passage counting")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    settings = Settings()
    embedder = load_embedder(settings)
    started = time.perf_counter()
    corpus = build_corpus(args.seeds, embedder.count_tokens, settings)
    doc_ids = {doc.doc_id for doc in corpus if doc.type != "document"}
    queries, dropped, emptied = available_judgements(
        load_queries(args.qrels), set() if args.seeds_only else doc_ids, {file_name(d.source) for d in corpus})
    langs = {q.text: query_lang(q.text, q.lang) for q in queries}
    misdetected = sum(1 for q in queries if langs[q.text] != q.lang)
    print(f"corpus: {len(corpus)} items ({Counter(d.type for d in corpus)}); {len(queries)} queries, "
          f"{dropped} judgements left out, {misdetected} queries analysed in another language than declared; "
          f"built in {time.perf_counter() - started:.1f} s")

    reports: dict[str, EvaluationReport] = {}
    searches: dict[str, Search] = {}
    for name, options in ANALYZERS.items():
        searches[name] = lexical_search(corpus, options, langs)
        reports[f"bm25-{name}"] = evaluate(queries, searches[name], k=10, level=args.level)
    if not args.no_dense:
        began = time.perf_counter()
        searches["dense"] = dense_search(corpus, queries, embedder)
        log.warning("dense vectors in %.1f s", time.perf_counter() - began)
        reports["dense"] = evaluate(queries, searches["dense"], k=10, level=args.level)
        best = max(ANALYZERS, key=lambda a: reports[f"bm25-{a}"].overall["MRR@10"])
        reports[f"rrf(dense, bm25-{best})"] = evaluate(queries, rrf([searches["dense"], searches[best]]), k=10,
                                                            level=args.level)
    print_tables(reports)
    print("\noverall: " + "; ".join(f"{name} " + " ".join(f"{m} {r.overall[m]:.3f}" for m in METRICS)
                                     for name, r in reports.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
