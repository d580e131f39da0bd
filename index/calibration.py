"""Calibrated scores: a raw ranking score mapped to the chance (0–1) that the item answers the query.

Raw scores do not mean the same across modes or queries: hybrid and dense rank by a language-corrected cosine
(e5 cosines crowd between 0.7 and 0.9), lexical by BM25, which grows with the number of query words. For each
mode a logistic curve, fitted on the graded evaluation set plus the nonsense and off-topic queries
(`bench/calibrate.py`), maps the raw score (BM25 per distinct query term in lexical mode) to a probability that
the result is relevant, and `floor` is the probability below which an answer is "no close match".

The curves hold for the model they were fitted with (`calibration.json`, keyed by model name). Any other
embedder (the test's hashing embedder, a model the file does not know) gets an uncalibrated map onto 0–1 that
keeps the order, and no floor: nothing is cut on a scale nobody measured.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


def _logistic(z: float) -> float:
    z = max(-60.0, min(60.0, z))
    return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class QueryModel:
    """The chance that a query has a close match at all, from its best item's score and its word matches.

    p = logistic(dense * x + lexical * w + bias), where x is the best dense score (the language-corrected cosine
    of the best passage, whatever the mode ranks by) and w the best BM25
    per distinct query term among the lexical matches (0 when no passage shares a word with the query): keyboard
    mash lands near *something* in embedding space but matches no word, a real query usually matches both.
    """

    dense: float
    lexical: float
    bias: float
    floor: float

    def __call__(self, x: float, words: float) -> float:
        return _logistic(self.dense * x + self.lexical * words + self.bias)


@dataclass(frozen=True)
class Curve:
    """A logistic map of one mode's raw score: p = 1 / (1 + exp(-slope * (x - midpoint)))."""

    slope: float
    midpoint: float
    floor: float | None

    def __call__(self, x: float) -> float:
        return _logistic(self.slope * (x - self.midpoint))


class Calibration:
    """Per-mode curves for one model, or the uncalibrated fallback when `curves` is empty."""

    def __init__(self, model: str | None, curves: dict[str, Curve], query: QueryModel | None = None,
                 source: str = "") -> None:
        self.model = model
        self.curves = curves
        self.query = query
        self.source = source

    @property
    def calibrated(self) -> bool:
        """True when scores are fitted probabilities for this model."""
        return bool(self.curves)

    @staticmethod
    def feature(raw: float, mode: str, n_terms: int) -> float:
        """The quantity a mode's curve reads: the raw score, per distinct query term for BM25."""
        return raw / max(n_terms, 1) if mode == "lexical" else raw

    def score(self, raw: float, mode: str, n_terms: int = 1) -> float:
        """The 0–1 score of a raw score in a mode (monotone in the raw score)."""
        x = self.feature(raw, mode, n_terms)
        curve = self.curves.get(mode)
        if curve is not None:
            return curve(x)
        if mode == "lexical":  # BM25 per term ≥ 0: saturating
            return 1.0 - math.exp(-max(x, 0.0))
        return min(1.0, max(0.0, (x + 1.0) / 2.0))  # cosine -1..1 onto 0..1

    def floor(self, mode: str) -> float | None:
        """The score below which the best item is no close match (None: uncalibrated, nothing is cut)."""
        curve = self.curves.get(mode)
        return None if curve is None else curve.floor

    def close_match(self, dense_top: float | None, words: float) -> float | None:
        """The chance that a query has a close match at all, from its best dense score (language-corrected
        cosine) and its best word match per term; the same in every mode. None when uncalibrated."""
        if self.query is None or dense_top is None:
            return None
        return self.query(dense_top, words)

    def query_floor(self) -> float | None:
        """The close-match chance below which a query is answered "no close match"."""
        return None if self.query is None else self.query.floor

    def describe(self, mode: str) -> dict[str, object]:
        """How scores of a mode are made (for `explain`)."""
        curve = self.curves.get(mode)
        if curve is None:
            return {"calibrated": False, "model": self.model}
        return {"calibrated": True, "model": self.model, "slope": curve.slope, "midpoint": curve.midpoint,
                "floor": curve.floor, "close_match_model": None if self.query is None else vars(self.query),
                "fitted_on": self.source}

    @classmethod
    def for_model(cls, model: str, path: Path = CALIBRATION_FILE) -> Calibration:
        """The curves fitted for `model` in the calibration file, or the uncalibrated fallback."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        entry = data.get(model)
        if not entry:
            log.info("no score calibration for %s: scores are uncalibrated and nothing is cut as no close match",
                     model)
            return cls(model, {})
        curves = {mode: Curve(float(c["slope"]), float(c["midpoint"]),
                              None if c.get("floor") is None else float(c["floor"]))
                  for mode, c in entry["modes"].items()}
        query = QueryModel(**{k: float(v) for k, v in entry["query"].items()}) if entry.get("query") else None
        return cls(model, curves, query, str(entry.get("fitted_on", "")))
