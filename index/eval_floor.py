"""The "no close match" floor, measured: nonsense and off-topic queries (corpus/eval/nonsense.jsonl) that a floor
should cut, real judged queries it should keep, and a sweep of top-1 score thresholds per search mode.

A query is *cut* when the floor says "no close match": with a threshold, when its best score is below it (or
nothing was returned); with a function, when the function says so for the (item, score) list. Cutting is a
binary classifier for "this query has no answer here": recall = the share of nonsense queries cut, and the
share of real queries wrongly cut is what it costs (issue 14: at least 90 % and at most 3 %).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.eval_queries import LANGUAGES
from pedkb.errors import ValidationError

ScoredSearch = Callable[[str], Sequence[tuple[str, float]]]  # text -> (item id, score), best first
CutRule = Callable[[Sequence[tuple[str, float]]], bool]  # True: answer "no close match"
NONSENSE_KINDS: tuple[str, ...] = ("random", "mash", "off-topic")
NONSENSE_LANGS: tuple[str, ...] = (*LANGUAGES, "mixed")
REAL_CUT_TARGETS: tuple[float, ...] = (0.0, 0.01, 0.03, 0.05, 0.10, 0.20, 0.50)


@dataclass(frozen=True)
class NonsenseQuery:
    """A query with no answer in the corpus: random letters, keyboard mash or a real but off-topic request."""

    id: str
    lang: str  # kk, ru, ky, or mixed
    kind: str  # random, mash or off-topic
    text: str


def load_nonsense(path: Path) -> list[NonsenseQuery]:
    """Read the nonsense set (one JSON object a line: id, lang, kind, text); a bad line raises ValidationError."""
    queries: list[NonsenseQuery] = []
    with Path(path).open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{lineno}", f"malformed JSON: {exc.msg}") from None
            fields = {key: raw.get(key) if isinstance(raw, dict) else None for key in ("id", "lang", "kind", "text")}
            bad = [key for key, value in fields.items() if not isinstance(value, str) or not value.strip()]
            if bad or fields["lang"] not in NONSENSE_LANGS or fields["kind"] not in NONSENSE_KINDS:
                raise ValidationError(f"{path}:{lineno}", "needs id, text, lang in "
                                      f"{'/'.join(NONSENSE_LANGS)} and kind in {'/'.join(NONSENSE_KINDS)}")
            queries.append(NonsenseQuery(**fields))  # type: ignore[arg-type]
    if len({q.id for q in queries}) != len(queries):
        raise ValidationError(str(path), "duplicate query id")
    return queries


@dataclass(frozen=True)
class FloorOutcome:
    """What one floor does to the nonsense and the real queries."""

    threshold: float | None  # None: a cut function was used
    nonsense_cut: float  # share of nonsense queries answered "no close match" (recall)
    real_cut: float  # share of real queries wrongly answered "no close match"
    n_nonsense: int
    n_real: int

    @property
    def precision(self) -> float:
        """Share of the cut queries that are nonsense (1.0 when nothing is cut)."""
        cut_nonsense, cut_real = self.nonsense_cut * self.n_nonsense, self.real_cut * self.n_real
        return cut_nonsense / (cut_nonsense + cut_real) if cut_nonsense + cut_real else 1.0

    def meets(self, min_nonsense_cut: float = 0.90, max_real_cut: float = 0.03) -> bool:
        """True when the floor reaches issue 14's targets."""
        return self.nonsense_cut >= min_nonsense_cut and self.real_cut <= max_real_cut


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def threshold_rule(threshold: float) -> CutRule:
    """The plain floor: cut when the best score is below `threshold` or nothing was returned."""
    return lambda results: not results or max(score for _, score in results) < threshold


def floor_outcome(search: ScoredSearch, nonsense: Iterable[str], real: Iterable[str],
                  cut: float | CutRule) -> FloorOutcome:
    """Share of nonsense queries cut and of real queries wrongly cut by a threshold or a cut function."""
    rule = threshold_rule(cut) if isinstance(cut, int | float) else cut
    nonsense_flags = [rule(search(text)) for text in nonsense]
    real_flags = [rule(search(text)) for text in real]
    return FloorOutcome(float(cut) if isinstance(cut, int | float) else None, _share(nonsense_flags),
                        _share(real_flags), len(nonsense_flags), len(real_flags))


def top_scores(search: ScoredSearch, texts: Iterable[str]) -> list[float]:
    """The top-1 raw score of each query (-inf when nothing is returned)."""
    return [max((score for _, score in search(text)), default=float("-inf")) for text in texts]


def sweep_floor(nonsense_scores: Sequence[float], real_scores: Sequence[float]) -> list[FloorOutcome]:
    """Every useful threshold over the top-1 scores (each distinct score, and one above them all), lowest first."""
    thresholds = sorted((set(nonsense_scores) | set(real_scores)) - {float("-inf")})
    thresholds.append(thresholds[-1] + 1e-6 if thresholds else 0.0)
    return [FloorOutcome(t, _share([s < t for s in nonsense_scores]), _share([s < t for s in real_scores]),
                         len(nonsense_scores), len(real_scores)) for t in thresholds]


def best_floor(sweep: Sequence[FloorOutcome], max_real_cut: float = 0.03) -> FloorOutcome | None:
    """The threshold cutting the most nonsense while cutting at most `max_real_cut` of the real queries."""
    allowed = [o for o in sweep if o.real_cut <= max_real_cut]
    return max(allowed, key=lambda o: (o.nonsense_cut, -(o.threshold or 0.0)), default=None)


def sweep_table(sweeps: dict[str, Sequence[FloorOutcome]]) -> str:
    """A markdown precision/recall table per mode: for each allowed share of real queries cut, the highest
    threshold within it, the nonsense it cuts (recall) and the precision of the cut."""
    lines = ["| mode | threshold | real cut | nonsense cut (recall) | precision | meets 90 % / 3 % |",
             "|---|---:|---:|---:|---:|---|"]
    for mode, sweep in sweeps.items():
        shown: set[float | None] = set()
        for target in REAL_CUT_TARGETS:
            row = best_floor(sweep, target)
            if row is None or row.threshold in shown:
                continue
            shown.add(row.threshold)
            lines.append(f"| {mode} | {row.threshold:.4f} | {row.real_cut:.1%} | {row.nonsense_cut:.1%} | "
                         f"{row.precision:.3f} | {'yes' if row.meets() else 'no'} |")
    return "\n".join(lines)
