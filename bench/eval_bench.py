"""Compare lexical analyzers (and dense retrieval) on our evaluation queries with an in-memory BM25.

The corpus is the five seed documents (chunked as pedkb chunks them), the sample experiences (one item each) and
the technologies (one item per language), with the doc ids the knowledge base gives them, so every judgement of
corpus/eval/queries.jsonl can be found. Each analyzer indexes the corpus with `index.lexical.analyse` and ranks
by Okapi BM25 ("+fold": Kazakh/Kyrgyz letters folded, `lexical.fold_turkic`; "prefix4+fold" is what the
knowledge base's lexical index uses); "dense" ranks by the embedding model's cosine (query:/passage: prompts, no
language correction); "rrf" fuses dense with the best BM25 by reciprocal rank. Prints MRR@10 and Recall@5 per
language pair. The knowledge base's own modes are compared by `pedkb eval QRELS --mode all` (docs/retrieval.md).

Morphology: "hunspell-kk+fold" stems Kazakh words with the Hunspell dictionary of Debian's hunspell-kk (through
the pure-Python `spylls`, the shortest stem Hunspell accepts; a word it does not know stays whole) and
"hunspell-kk/strip+fold" falls back to pedkb's suffix stripper for those words; both run only when spylls and
/usr/share/hunspell/kk_KZ.dic are present (neither is a pedkb dependency: see docs/retrieval.md). `--stems`
prints, per language, how many seed words each stemmer conflates with their dictionary form
(tests/data/seed_stems.tsv) and how many distinct dictionary forms it merges.

    .venv/bin/python bench/eval_bench.py [--qrels corpus/eval/queries.jsonl] [--seeds DIR] [--no-dense] [--stems]
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
from index.lexical import analyse, fold_turkic, stem, words  # noqa: E402
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
Analyzer = Callable[[str, str], list[str]]  # (text, language) -> terms
HUNSPELL_KK = Path("/usr/share/hunspell/kk_KZ")
SEED_STEMS = REPO / "tests" / "data" / "seed_stems.tsv"


def hunspell_kk_stemmer() -> Callable[[str], str | None] | None:
    """word -> the shortest stem Hunspell's Kazakh dictionary accepts (None: unknown word), when available."""
    try:
        from spylls.hunspell import Dictionary  # optional, bench only
    except ImportError:
        log.warning("spylls is not installed: the hunspell-kk analyzers are skipped")
        return None
    if not HUNSPELL_KK.with_suffix(".dic").exists():
        log.warning("%s.dic is absent (Debian package hunspell-kk): the hunspell-kk analyzers are skipped",
                    HUNSPELL_KK)
        return None
    dictionary = Dictionary.from_files(str(HUNSPELL_KK))
    cache: dict[str, str | None] = {}

    def stem_kk(word: str) -> str | None:
        if word not in cache:
            stems = {form.stem for form in dictionary.lookuper.good_forms(word)}
            cache[word] = min(stems, key=lambda s: (len(s), s)) if stems else None
        return cache[word]

    return stem_kk


def hunspell_analyzer(stem_kk: Callable[[str], str | None], fallback: bool) -> Analyzer:
    """Kazakh words stemmed by Hunspell (unknown words whole, or by the suffix stripper), others as "stem"."""

    def analyse_text(text: str, lang: str) -> list[str]:
        out = []
        for word in words(text):
            found = stem_kk(word) if lang == "kk" else None
            out.append(fold_turkic(found if found is not None else stem(word, lang) if fallback or lang != "kk"
                                   else word))
        return out

    return analyse_text


def scheme_analyzer(options: dict[str, Any]) -> Analyzer:
    """`lexical.analyse` under fixed options."""

    def run(text: str, lang: str) -> list[str]:
        return analyse(text, lang, **options)

    return run


def analyzers(stem_kk: Callable[[str], str | None] | None) -> dict[str, Analyzer]:
    """Every analyzer compared: the schemes of `lexical.analyse`, and Hunspell's when it is available."""
    out = {name: scheme_analyzer(options) for name, options in ANALYZERS.items()}
    if stem_kk is not None:
        out["hunspell-kk+fold"] = hunspell_analyzer(stem_kk, fallback=False)
        out["hunspell-kk/strip+fold"] = hunspell_analyzer(stem_kk, fallback=True)
    return out


def stem_table(stem_kk: Callable[[str], str | None] | None) -> None:
    """Per language and stemmer: seed words conflated with their dictionary form, and distinct forms merged."""
    rows = [line.rstrip("\n").split("\t") for line in SEED_STEMS.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    stemmers: dict[str, Callable[[str, str], str]] = {
        "suffix stripper / Snowball": stem,
        "prefix4": lambda word, lang: word[:4],
    }
    if stem_kk is not None:
        stemmers["hunspell-kk (kk only)"] = lambda word, lang: (stem_kk(word) or word) if lang == "kk" else stem(
            word, lang)
        stemmers["hunspell-kk, else stripper"] = lambda word, lang: (stem_kk(word) if lang == "kk" else None) or stem(
            word, lang)
    print("\n| stemmer | " + " | ".join(f"{lang}: conflated" for lang in LANGUAGES) + " | distinct forms merged |")
    print("|---|" + "---:|" * (len(LANGUAGES) + 1))
    for name, stem_word in stemmers.items():
        cells = []
        for lang in LANGUAGES:
            pairs = [(w, lemma) for code, w, lemma in rows if code == lang]
            hits = sum(fold_turkic(stem_word(w, lang)) == fold_turkic(stem_word(lemma, lang)) for w, lemma in pairs)
            cells.append(f"{hits}/{len(pairs)}")
        lemmas = {(code, lemma) for code, _, lemma in rows}
        keys = Counter((code, fold_turkic(stem_word(lemma, code))) for code, lemma in lemmas)
        merged = sum(n for n in keys.values() if n > 1)
        print(f"| {name} | " + " | ".join(cells) + f" | {merged}/{len(lemmas)} |")


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


def lexical_search(corpus: list[SearchResult], analyzer: Analyzer, langs: dict[str, str]) -> Search:
    """A search function ranking `corpus` by BM25 under one analyzer."""
    index = BM25([analyzer(doc.text, doc.lang) for doc in corpus])

    def search(text: str, k: int) -> list[SearchResult]:
        terms = analyzer(text, langs[text])
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
    parser.add_argument("--stems", action="store_true", help="also the stemmers on tests/data/seed_stems.tsv")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    stem_kk = hunspell_kk_stemmer()
    if args.stems:
        stem_table(stem_kk)

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
    for name, analyzer in analyzers(stem_kk).items():
        searches[name] = lexical_search(corpus, analyzer, langs)
        reports[f"bm25-{name}"] = evaluate(queries, searches[name], k=10, level=args.level)
    if not args.no_dense:
        began = time.perf_counter()
        searches["dense"] = dense_search(corpus, queries, embedder)
        log.warning("dense vectors in %.1f s", time.perf_counter() - began)
        reports["dense"] = evaluate(queries, searches["dense"], k=10, level=args.level)
        best = max((a for a in searches if a != "dense"), key=lambda a: reports[f"bm25-{a}"].overall["MRR@10"])
        reports[f"rrf(dense, bm25-{best})"] = evaluate(queries, rrf([searches["dense"], searches[best]]), k=10,
                                                            level=args.level)
    print_tables(reports)
    print("\noverall: " + "; ".join(f"{name} " + " ".join(f"{m} {r.overall[m]:.3f}" for m in METRICS)
                                     for name, r in reports.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
