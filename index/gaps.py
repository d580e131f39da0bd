"""The gap report: what people search for and do not find, grouped by meaning (`pedkb gaps`, docs/analytics.md).

An unmet search is one with no close match, no items, or no item opened from its answer. The distinct unmet
queries are embedded as queries, moved away from a typical query (the mean of the judged queries of
corpus/eval/queries.jsonl: every query shares that direction, and the small model's kk and ky queries about school
sit close together along it) and clustered with scikit-learn's agglomerative clustering (cosine distance, complete
linkage, so every two queries of a group are within the distance threshold; no number of groups is fixed). Each
group then gets its searches counted per language and per region filter, example queries, and the technologies
nearest to its mean vector. The measurements behind these choices are in docs/analytics.md.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from index.eval_queries import load_queries
from index.knowledge_base import KnowledgeBase
from index.records import TechnologySuggestion
from index.searchlog import LoggedSearch, SearchLog
from pedkb.errors import ValidationError

EmbedFn = Callable[[Sequence[str]], np.ndarray]
NearestFn = Callable[[np.ndarray, int], list[TechnologySuggestion]]
EXAMPLES = 5  # example queries shown per group
NEAREST = 3  # technologies shown per group
MAX_GROUPS = 50
MAX_QUERIES = 5000  # most distinct unmet queries clustered (the most frequent); clustering is quadratic


@dataclass
class GapGroup:
    """Unmet searches of one meaning."""

    searches: int  # unmet searches in the group
    no_close_match: int  # of which answered "no close match" (or nothing)
    examples: list[tuple[str, int]]  # the most frequent phrasings and how often each was searched
    languages: dict[str, int]
    regions: dict[str, int]  # region filter -> searches ("" when none was set)
    technologies: list[dict[str, object]]  # nearest: id, group, score, labels
    first_seen: str
    last_seen: str


@dataclass
class DayCount:
    """Searches and unmet searches on one UTC day."""

    day: str
    searches: int
    unmet: int


@dataclass
class GapReport:
    """The groups of unmet searches, most frequent first, and the searches per day."""

    since: str | None
    lang: str | None
    searches: int
    unmet: int
    groups: list[GapGroup] = field(default_factory=list)
    days: list[DayCount] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return asdict(self)

    def to_csv(self) -> str:
        """One row per group, for a spreadsheet."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["rank", "searches", "no_close_match", "examples", "languages", "regions", "technologies",
                         "first_seen", "last_seen"])
        for rank, group in enumerate(self.groups, 1):
            writer.writerow([
                rank, group.searches, group.no_close_match,
                " | ".join(f"{text} ({n})" for text, n in group.examples),
                " ".join(f"{lang}:{n}" for lang, n in group.languages.items()),
                " ".join(f"{region or '-'}:{n}" for region, n in group.regions.items()),
                " ".join(str(t["id"]) for t in group.technologies),
                group.first_seen, group.last_seen,
            ])
        return out.getvalue()


def parse_since(text: str | None) -> float | None:
    """`--since` / `since=`: a date (YYYY-MM-DD, UTC midnight) or a date and time, as seconds since the epoch."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError("since", f"{text!r} is not a date (YYYY-MM-DD)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def report_for(kb: KnowledgeBase, search_log: SearchLog, *, since: str | None = None,
               lang: str | None = None) -> GapReport:
    """The gap report of a knowledge base's search log: its model embeds the queries, its classifier names the
    nearest technologies."""
    searches = search_log.searches(parse_since(since), lang or None)
    nearest = kb.classifier.suggest if kb.vocabulary.technologies else None
    return gap_report(searches, kb.embedder.embed_queries, nearest, distance=kb.settings.gap_distance,
                      background=typical_query(kb.embedder.embed_queries, kb.settings.corpus, searches),
                      since=since, lang=lang)


def typical_query(embed_queries: EmbedFn, corpus: Path, searches: Sequence[LoggedSearch]) -> np.ndarray | None:
    """The mean vector of the judged queries of the corpus (kk, ru, ky); without them, of the logged queries."""
    path = corpus / "eval" / "queries.jsonl"
    texts = [q.text for q in load_queries(path)] if path.is_file() else sorted({s.query for s in searches})
    if not texts:
        return None
    return np.asarray(embed_queries(texts), dtype=np.float32).mean(axis=0)


def normalised(query: str) -> str:
    """A query as it is counted: case-folded, spaces collapsed."""
    return " ".join(query.casefold().split())


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def centred(vectors: np.ndarray, background: np.ndarray | None) -> np.ndarray:
    """Vectors less the typical query, normalised again (unchanged without a background)."""
    if background is None:
        return vectors
    moved = vectors - background[None, :]
    norms = np.linalg.norm(moved, axis=1, keepdims=True)
    return np.asarray(moved / np.where(norms > 1e-12, norms, 1.0), dtype=np.float32)


def cluster_queries(vectors: np.ndarray, distance: float) -> np.ndarray:
    """A group label per row: complete-linkage agglomerative clustering on cosine distance, cut at `distance`."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="complete", distance_threshold=distance)
    return np.asarray(model.fit_predict(vectors), dtype=np.int64)


def gap_report(searches: Sequence[LoggedSearch], embed_queries: EmbedFn, nearest: NearestFn | None, *,
               distance: float, background: np.ndarray | None = None, since: str | None = None,
               lang: str | None = None, max_groups: int = MAX_GROUPS) -> GapReport:
    """Group the unmet searches by meaning, most frequent group first (`background`: the typical query vector)."""
    unmet = [s for s in searches if s.unmet]
    report = GapReport(since=since, lang=lang, searches=len(searches), unmet=len(unmet), days=_days(searches))
    by_text: dict[str, list[LoggedSearch]] = {}
    for search in unmet:
        by_text.setdefault(normalised(search.query), []).append(search)
    texts = sorted(by_text, key=lambda t: (-len(by_text[t]), t))[:MAX_QUERIES]
    if not texts:
        return report
    vectors = np.asarray(embed_queries(texts), dtype=np.float32)
    labels = cluster_queries(centred(vectors, background), distance)
    members: dict[int, list[int]] = {}
    for row, label in enumerate(labels):
        members.setdefault(int(label), []).append(row)
    groups = []
    for rows in members.values():
        group_searches = [s for row in rows for s in by_text[texts[row]]]
        weights = np.array([len(by_text[texts[row]]) for row in rows], dtype=np.float32)
        centre = (vectors[rows] * weights[:, None]).sum(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        groups.append(_group(group_searches, centre, nearest))
    groups.sort(key=lambda g: (-g.searches, g.examples[0][0]))
    report.groups = groups[:max_groups]
    return report


def _group(searches: list[LoggedSearch], centre: np.ndarray, nearest: NearestFn | None) -> GapGroup:
    phrasing = Counter(" ".join(s.query.split()) for s in searches)
    regions: Counter[str] = Counter()
    for search in searches:
        for region in search.filters.get("region") or [""]:
            regions[str(region)] += 1
    technologies = [] if nearest is None else [
        {"id": t.technology_id, "group": t.group_id, "score": round(t.score, 4), "labels": t.labels}
        for t in nearest(centre, NEAREST)
    ]
    times = [s.at for s in searches]
    return GapGroup(
        searches=len(searches),
        no_close_match=sum(s.no_close_match or s.n_items == 0 for s in searches),
        examples=sorted(phrasing.items(), key=lambda kv: (-kv[1], kv[0]))[:EXAMPLES],
        languages=dict(Counter(s.lang for s in searches).most_common()),
        regions=dict(regions.most_common()),
        technologies=technologies,
        first_seen=_day(min(times)),
        last_seen=_day(max(times)),
    )


def _days(searches: Sequence[LoggedSearch]) -> list[DayCount]:
    counts: dict[str, list[int]] = {}
    for search in searches:
        day = counts.setdefault(_day(search.at), [0, 0])
        day[0] += 1
        day[1] += search.unmet
    return [DayCount(day, n, unmet) for day, (n, unmet) in sorted(counts.items())]
