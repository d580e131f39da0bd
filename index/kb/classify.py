"""Suggest teaching technologies for a text: nearest technology descriptions in the three languages.

Each technology is represented by its label, aliases and description in kk, ru and ky, embedded as queries
(they describe what to look for); a text is embedded as passages. A technology's score is its best cosine over
the three languages, less half its similarity to a typical pedagogical text (the mean of the sample experiences),
because some descriptions ("debates", "case method") are close to everything and would otherwise win by default.
Measured on the sample experiences this beat averaging over languages, no hubness correction, and any mix with
the nearest labelled experiences (see docs/knowledge_base.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.records import TechnologySuggestion
from ingest.knowledge import LANGUAGES, Experience, Vocabulary, technology_text

EmbedFn = Callable[[Sequence[str]], np.ndarray]
HUBNESS = 0.5  # share of a technology's similarity to a typical text taken off its score


class TechnologyClassifier:
    """Nearest-description classifier over the technology vocabulary."""

    def __init__(self, vocabulary: Vocabulary, embed_queries: EmbedFn, background: np.ndarray | None = None) -> None:
        self.vocabulary = vocabulary
        self.ids = list(vocabulary.technologies)
        texts = [technology_text(vocabulary.technologies[tid], lang) for lang in LANGUAGES for tid in self.ids]
        vectors = embed_queries(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        # shape (languages, technologies, dim)
        self.prototypes = vectors.reshape(len(LANGUAGES), len(self.ids), -1) if texts else vectors
        # how close each prototype is to a typical text, whatever it says (languages, technologies)
        self.hubness = (HUBNESS * (self.prototypes @ background) if background is not None and texts
                        else np.zeros(self.prototypes.shape[:2], dtype=np.float32))

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """One score per technology (in `self.ids` order) for a normalised text vector."""
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        return (self.prototypes @ np.asarray(vector, dtype=np.float32) - self.hubness).max(axis=0)

    def suggest(self, vector: np.ndarray, k: int = 5) -> list[TechnologySuggestion]:
        """The k best technologies for a normalised text vector."""
        scores = self.scores(vector)
        order = np.argsort(-scores, kind="stable")[:k]
        out = []
        for i in order:
            tech = self.vocabulary.technologies[self.ids[int(i)]]
            out.append(TechnologySuggestion(tech.id, tech.group, float(scores[i]), tech.labels.model_dump()))
        return out


@dataclass
class ClassificationReport:
    """Accuracy of the classifier on labelled experiences."""

    n: int
    top1: float
    top3: float
    top1_any_label: float
    group_top1: float
    by_language: dict[str, tuple[int, float, float]]

    def table(self) -> str:
        """A markdown table of the accuracies."""
        lines = ["| set | n | top-1 | top-3 | top-1 any label | group top-1 |", "|---|---|---|---|---|---|",
                 f"| all | {self.n} | {self.top1:.3f} | {self.top3:.3f} | {self.top1_any_label:.3f} | "
                 f"{self.group_top1:.3f} |"]
        for lang, (n, top1, top3) in sorted(self.by_language.items()):
            lines.append(f"| {lang} | {n} | {top1:.3f} | {top3:.3f} | | |")
        return "\n".join(lines)


def evaluate_classifier(classifier: TechnologyClassifier, experiences: Sequence[Experience],
                        vectors: np.ndarray) -> ClassificationReport:
    """Top-1/top-3 accuracy against each experience's primary technology (the first one it lists).

    The classifier learns nothing from the experiences, so this is already a leave-one-out measure.
    """
    top1 = top3 = any1 = group1 = 0
    per_lang: dict[str, list[int]] = {}
    for exp, vector in zip(experiences, vectors, strict=True):
        best = [s.technology_id for s in classifier.suggest(vector, 3)]
        primary = exp.technologies[0]
        hit1, hit3 = best[0] == primary, primary in best
        top1 += hit1
        top3 += hit3
        any1 += best[0] in exp.technologies
        group1 += classifier.vocabulary.technologies[best[0]].group == classifier.vocabulary.group_of(primary).id
        stats = per_lang.setdefault(exp.language, [0, 0, 0])
        stats[0] += 1
        stats[1] += hit1
        stats[2] += hit3
    n = max(len(experiences), 1)
    return ClassificationReport(
        n=len(experiences), top1=top1 / n, top3=top3 / n, top1_any_label=any1 / n, group_top1=group1 / n,
        by_language={lang: (c, h1 / c, h3 / c) for lang, (c, h1, h3) in per_lang.items()},
    )
