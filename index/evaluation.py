"""Retrieval evaluation: graded judgements that survive re-chunking, IR metrics overall and per language pair.

Two levels. **Item level** (the default) ranks what a teacher sees: the search's passages collapsed to items
(`collapse_to_items`: the first passage of each document id), and grades each item once: its grade is the best
grade of the judgements naming it (a seed judgement names the seed file starting with its prefix, whatever the
phrase; `item` judgements name the item). An item answers in every language it is judged in (the bilingual
guide judged in kk and ru answers in both; a technology answers in the query's language), and the item-level
pair rows are filtered (see below) so that an ideal ranking scores 1 in every row. **Passage level**
(`level="passage"`) scores the judgements themselves, as described next.

In the spirit of sentence-transformers' InformationRetrievalEvaluator: queries, graded relevance judgements and a
search function go in, named metrics come out. A judgement names what a relevant answer *says*, not where it sits:
either an item id (an experience `exp-ru-001`, a technology `tech:critical-thinking`) or a seed file prefix plus a
short phrase that occurs in the relevant passage. A returned chunk is relevant when it comes from that item or
file and its normalised text contains the normalised phrase, so a change of chunk size keeps the judgements valid.

Counting rules: a judgement is found at the best (first) rank of any chunk matching it; later chunks matching
the same judgement are duplicates and earn nothing. Recall@k is the share of a query's judgements found in the
top k. MRR@10 is 1 / the rank of the first relevant chunk. nDCG@10 uses the grade as gain and log2(rank + 1) as
discount; a chunk matching several judgements earns the highest grade once, and the ideal ranking puts each
judgement on its own rank, highest grade first, so nDCG stays within [0, 1].

Language pairs: the answer language is the language of the relevant item (a seed passage's language, an
experience's language; a technology exists in every language, so it answers in the query's language). The row
"kk→ru" averages, over the Kazakh queries that have Russian judgements, the metrics computed on those Russian
judgements alone: it tells how well the Russian answers surface, whatever else is ranked above them. When a query
has equally good answers in two languages, one of them ranks second at best, so these rows cannot all reach 1.
The "filtered" rows (`EvaluationReport.filtered`, no extra search) rank the same answers after removing the
results that are relevant answers in *another* language, as link-prediction evaluation filters other true
answers: a Kazakh answer ranked above the Russian one neither helps nor hurts the kk→ru row, an irrelevant
passage of any language still does, and a perfect ranking scores 1 in every pair. The "within the answer
language" rows (`within_language`) search again restricted to the answer language (the `langs` filter) and
measure the same judgements there: how well the Russian answer is found among Russian passages.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from index.eval_queries import (
    LANGUAGES,
    EvalQuery,
    Judgement,
    Result,
    SearchResult,
    file_name,
    load_queries,
    normalise_passage,
    result_from_hit,
)
from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from pedkb import limits
from pedkb.errors import ValidationError

log = logging.getLogger(__name__)

SearchFunction = Callable[[str, int], Sequence[Result]]
LanguageSearchFunction = Callable[[str, int, str], Sequence[Result]]  # (text, k, only this passage language)

RECALL_CUTOFFS: tuple[int, ...] = (1, 5, 10)
RANK_CUTOFF = 10
METRICS: tuple[str, ...] = ("MRR@10", "nDCG@10", "R@1", "R@5", "R@10")
LEVELS: tuple[str, ...] = ("item", "passage")  # the first is the default
PASSAGES_PER_ITEM = 5  # item level asks the search for k × this many passages before collapsing them
SEED_KEY = "seed:"


class Answer(Protocol):
    """What a ranking is scored against: a passage judgement or an item judgement."""

    @property
    def grade(self) -> int: ...
    @property
    def label(self) -> str: ...
    def matches(self, doc_id: str, name: str, normalised_text: str) -> bool: ...


def collapse_to_items(results: Sequence[Result]) -> list[Result]:
    """Passages collapsed to items: the first passage of each doc_id, in rank order (a no-op on `kb.find`'s
    results, which are one per item already; kept for search functions that return passages)."""
    seen: set[str] = set()
    items = []
    for result in results:
        if result.doc_id not in seen:
            seen.add(result.doc_id)
            items.append(result)
    return items


@dataclass(frozen=True)
class ItemJudgement:
    """A relevant item of a query: an item id or a seed prefix, its best grade and the languages it answers in."""

    key: str  # `exp-ru-001`, `tech:debates` or `seed:002`
    grade: int
    langs: frozenset[str]

    @property
    def label(self) -> str:
        """The item id, or `seed:<prefix>`."""
        return self.key

    def matches(self, doc_id: str, name: str, normalised_text: str) -> bool:
        """True when a result (its document id and file name) is this item; the text does not matter."""
        if self.key.startswith(SEED_KEY):
            return name.startswith(self.key[len(SEED_KEY):])
        return doc_id == self.key


def item_judgements(query: EvalQuery) -> list[ItemJudgement]:
    """A query's judgements grouped by the item they name: best grade, every judged answer language."""
    grades: dict[str, int] = {}
    langs: dict[str, set[str]] = {}
    for judgement in query.judgements:
        key = judgement.item if judgement.item is not None else f"{SEED_KEY}{judgement.seed}"
        grades[key] = max(grades.get(key, 0), judgement.grade)
        langs.setdefault(key, set()).add(query.answer_lang(judgement))
    return [ItemJudgement(key, grade, frozenset(langs[key])) for key, grade in grades.items()]


def _answer_langs(query: EvalQuery, answer: Answer) -> frozenset[str]:
    if isinstance(answer, ItemJudgement):
        return answer.langs
    assert isinstance(answer, Judgement)
    return frozenset({query.answer_lang(answer)})


def best_ranks(judgements: Sequence[Answer], results: Sequence[Result]) -> list[int | None]:
    """For each judgement, the 1-based rank of the first result matching it (None when none does)."""
    chunks = [(r.doc_id, file_name(r.source), normalise_passage(r.text)) for r in results]
    ranks: list[int | None] = []
    for judgement in judgements:
        ranks.append(next((i for i, chunk in enumerate(chunks, start=1) if judgement.matches(*chunk)), None))
    return ranks


def metrics_from_ranks(grades: Sequence[int], ranks: Sequence[int | None]) -> dict[str, float]:
    """MRR@10, nDCG@10 and Recall@1/5/10 of one query from its judgements' grades and best ranks."""
    found = [(rank, grade) for rank, grade in zip(ranks, grades, strict=True) if rank is not None]
    first = min((rank for rank, _ in found), default=None)
    out = {"MRR@10": 1.0 / first if first is not None and first <= RANK_CUTOFF else 0.0}
    gain_at: dict[int, int] = {}
    for rank, grade in found:
        if rank <= RANK_CUTOFF:
            gain_at[rank] = max(grade, gain_at.get(rank, 0))
    dcg = sum(gain / math.log2(rank + 1) for rank, gain in gain_at.items())
    ideal = sorted(grades, reverse=True)[:RANK_CUTOFF]
    idcg = sum(gain / math.log2(i + 1) for i, gain in enumerate(ideal, start=1))
    out["nDCG@10"] = dcg / idcg if idcg else 0.0
    for cutoff in RECALL_CUTOFFS:
        out[f"R@{cutoff}"] = sum(1 for rank, _ in found if rank <= cutoff) / len(grades) if grades else 0.0
    return out


@dataclass
class QueryOutcome:
    """One query's judgements with the rank each was found at, and its metrics."""

    query: EvalQuery
    ranks: list[int | None]
    metrics: dict[str, float]
    answers: Sequence[Answer] = ()  # what the ranks are of (the query's judgements, or its items); () = judgements

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: id, language, metrics and each judgement's (or item's) rank."""
        answers = self.answers or self.query.judgements
        return {
            "id": self.query.id, "lang": self.query.lang, "text": self.query.text,
            "metrics": {name: round(value, 4) for name, value in self.metrics.items()},
            "judgements": [{"judgement": a.label, "grade": a.grade,
                            "lang": ",".join(sorted(_answer_langs(self.query, a))), "rank": r}
                           for a, r in zip(answers, self.ranks, strict=True)],
        }


@dataclass
class MetricRow:
    """Mean metrics over n units (queries, or query × answer language for a pair)."""

    name: str
    n: int
    metrics: dict[str, float]


def _mean_row(name: str, units: Sequence[dict[str, float]]) -> MetricRow:
    return MetricRow(name, len(units), {m: sum(u[m] for u in units) / len(units) if units else 0.0
                                       for m in METRICS})


@dataclass
class EvaluationReport:
    """The outcome of one evaluation: metric rows (overall, per language pair) and every query's ranks."""

    rows: list[MetricRow]
    queries: list[QueryOutcome]
    k: int
    mode: str | None = None
    level: str = LEVELS[0]
    seconds: float = 0.0
    skipped_judgements: int = 0
    skipped_queries: list[str] = field(default_factory=list)
    within_language: list[MetricRow] = field(default_factory=list)  # pairs, searched within the answer language
    filtered: list[MetricRow] = field(default_factory=list)  # pairs, other-language answers removed from the list

    def row(self, name: str) -> MetricRow:
        """The row called `name` ("overall", "same language", "cross-lingual", "kk→ru"...)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def overall(self) -> dict[str, float]:
        """The overall metrics."""
        return self.rows[0].metrics

    def table(self, rows: Sequence[MetricRow] | None = None) -> str:
        """A markdown table: one row per group, columns MRR@10 nDCG@10 R@1 R@5 R@10 and n."""
        lines = ["| queries | " + " | ".join(METRICS) + " | n |",
                 "|---|" + "---:|" * (len(METRICS) + 1)]
        for row in self.rows if rows is None else rows:
            cells = " | ".join(f"{row.metrics[m]:.3f}" for m in METRICS)
            lines.append(f"| {row.name} | {cells} | {row.n} |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form of the whole report."""
        return {
            "k": self.k, "mode": self.mode, "level": self.level, "seconds": round(self.seconds, 3),
            "skipped_judgements": self.skipped_judgements, "skipped_queries": self.skipped_queries,
            "rows": [_row_dict(r) for r in self.rows],
            "filtered": [_row_dict(r) for r in self.filtered],
            "within_language": [_row_dict(r) for r in self.within_language],
            "queries": [q.to_dict() for q in self.queries],
        }


def _row_dict(row: MetricRow) -> dict[str, object]:
    return {"name": row.name, "n": row.n, **{m: round(v, 4) for m, v in row.metrics.items()}}


def _pair_rows(pairs: dict[tuple[str, str], list[dict[str, float]]], summaries: bool) -> list[MetricRow]:
    rows = []
    if summaries:
        rows.append(_mean_row("same language", [u for (q, a), us in pairs.items() if q == a for u in us]))
        rows.append(_mean_row("cross-lingual", [u for (q, a), us in pairs.items() if q != a for u in us]))
    order = {lang: i for i, lang in enumerate(LANGUAGES)}
    for q_lang, a_lang in sorted(pairs, key=lambda p: (order.get(p[0], 9), order.get(p[1], 9), p)):
        rows.append(_mean_row(f"{q_lang}→{a_lang}", pairs[(q_lang, a_lang)]))
    return rows


def evaluate(queries: Sequence[EvalQuery], search: SearchFunction, *, k: int = 10,
             within_language: LanguageSearchFunction | None = None, level: str = LEVELS[0]) -> EvaluationReport:
    """Run every query through `search(text, k)` and score the results against the judgements, at item level
    (passages collapsed to items, `search` asked for more passages) or passage level; with
    `within_language(text, k, lang)` also per pair with the search restricted to the answer language."""
    if k < 1:
        raise ValidationError("k", "must be at least 1")
    if level not in LEVELS:
        raise ValidationError("level", f"must be one of {', '.join(LEVELS)}")
    started = time.perf_counter()
    by_item = level == "item"
    depth = min(limits.MAX_K, k * PASSAGES_PER_ITEM) if by_item else k

    def ranked(found: Sequence[Result]) -> list[Result]:
        return (collapse_to_items(found) if by_item else list(found))[:k]

    outcomes: list[QueryOutcome] = []
    pairs: dict[tuple[str, str], list[dict[str, float]]] = {}
    filtered: dict[tuple[str, str], list[dict[str, float]]] = {}
    within: dict[tuple[str, str], list[dict[str, float]]] = {}
    for query in queries:
        answers: Sequence[Answer] = item_judgements(query) if by_item else query.judgements
        results = ranked(search(query.text, depth))
        ranks = best_ranks(answers, results)
        outcomes.append(QueryOutcome(query, ranks, metrics_from_ranks([a.grade for a in answers], ranks),
                                     answers if by_item else ()))
        langs = [_answer_langs(query, a) for a in answers]
        for answer_lang in sorted(set().union(*langs)):
            mine = [a for a, ls in zip(answers, langs, strict=True) if answer_lang in ls]
            others = [a for a, ls in zip(answers, langs, strict=True) if answer_lang not in ls]
            grades = [a.grade for a in mine]
            kept = [r for r in results if _relevant(mine, r) or not _relevant(others, r)]
            unit = (query.lang, answer_lang)
            filtered.setdefault(unit, []).append(metrics_from_ranks(grades, best_ranks(mine, kept)))
            if not by_item:
                pairs.setdefault(unit, []).append(metrics_from_ranks(grades, best_ranks(mine, results)))
            if within_language is not None:
                only = ranked(within_language(query.text, depth, answer_lang))
                within.setdefault(unit, []).append(metrics_from_ranks(grades, best_ranks(mine, only)))
    pair_rows = _pair_rows(filtered if by_item else pairs, summaries=True)
    return EvaluationReport([_mean_row("overall", [o.metrics for o in outcomes]), *pair_rows], outcomes, k,
                            level=level, seconds=time.perf_counter() - started,
                            within_language=_pair_rows(within, summaries=True) if within else [],
                            filtered=[] if by_item else _pair_rows(filtered, summaries=True))


def _relevant(judgements: Sequence[Answer], result: Result) -> bool:
    """True when the result matches one of the judgements."""
    return any(rank is not None for rank in best_ranks(judgements, [result]))


# ---- against a knowledge base --------------------------------------------------------------------------------


def available_judgements(queries: Iterable[EvalQuery], doc_ids: set[str],
                         file_names: Iterable[str]) -> tuple[list[EvalQuery], int, list[str]]:
    """Keep the judgements whose item or seed file is indexed; returns (queries left, judgements dropped,
    ids of queries left without any judgement)."""
    names = list(file_names)
    kept: list[EvalQuery] = []
    dropped, emptied = 0, []
    for query in queries:
        present = tuple(j for j in query.judgements if (j.item in doc_ids if j.item is not None
                                                        else any(n.startswith(j.seed or "") for n in names)))
        dropped += len(query.judgements) - len(present)
        if present:
            kept.append(EvalQuery(query.id, query.text, query.lang, present, query.names))
        else:
            emptied.append(query.id)
    return kept, dropped, emptied


def run_evaluation(kb: KnowledgeBase, qrels_path: Path, *, k: int = 10, mode: str | None = None,
                   within_language: bool = False, level: str = LEVELS[0]) -> EvaluationReport:
    """Evaluate `kb.find` (item level) or `kb.search` (passage level) on a qrels file; judgements naming items
    or seeds absent from the index are left out (and counted in the report), so a partial knowledge base can still
    be measured. `within_language` adds the pair rows searched within the answer language."""
    queries = load_queries(qrels_path)
    documents = kb.documents()
    kept, dropped, emptied = available_judgements(
        queries, {d.doc_id for d in documents}, {file_name(d.source) for d in documents})
    if dropped:
        log.warning("%d judgement(s) name items or files that are not indexed; %d query(ies) left out",
                    dropped, len(emptied))
    if not kept:
        raise ValidationError(str(qrels_path), "no judgement names an item or a file of this knowledge base")
    options: dict[str, Any] = {} if mode is None else {"mode": mode}

    def search(text: str, limit: int, filters: SearchFilters | None = None) -> list[SearchResult]:
        if level == "item":  # what a reader gets: one result per item, the floor applied, "no close match" empty
            return [result_from_hit(item.hit()) for item in kb.find(text, k=limit, filters=filters, **options).items]
        return [result_from_hit(hit) for hit in kb.search(text, k=limit, filters=filters, **options)]

    def search_within(text: str, limit: int, lang: str) -> list[SearchResult]:
        return search(text, limit, SearchFilters(langs=(lang,)))

    report = evaluate(kept, search, k=k, within_language=search_within if within_language else None, level=level)
    report.mode, report.skipped_judgements, report.skipped_queries = mode, dropped, emptied
    return report
