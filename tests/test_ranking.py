"""Ranking rules on hand-made inputs: the per-language scale, fusion by language, duplicates and the page cap."""

from __future__ import annotations

import numpy as np
import pytest

from index import ranking
from index.ranking import Ranked, drop_duplicates, fuse_by_language, language_scale, present
from index.records import ChunkRecord
from index.store.statistics import LanguageStatistics


def chunk(cid: int, lang: str = "kk", doc: str = "d1", text: str | None = None) -> ChunkRecord:
    return ChunkRecord(chunk_id=cid, doc_id=doc, ordinal=cid, lang=lang, page=None, start=0, end=10, n_tokens=5,
                       text=text if text is not None else f"passage number {cid} says {cid * 7}")


def ranked(*items: tuple[int, str, str, float]) -> list[Ranked]:
    """(chunk id, language, document, score) in rank order."""
    return [Ranked(chunk(cid, lang, doc), score) for cid, lang, doc, score in items]


class StatsBackend:
    """Just what `language_scale` reads from a backend."""

    def __init__(self, stats: dict[str, LanguageStatistics]) -> None:
        self.stats = stats

    def language_statistics(self) -> dict[str, LanguageStatistics]:
        return self.stats

    def language_centroids(self) -> dict[str, tuple[np.ndarray, int]]:
        return {lang: (s.mean, s.count) for lang, s in self.stats.items()}


def stats_for(mean_score: float, spread: float, count: int = 1000) -> LanguageStatistics:
    """Statistics under which the query (1, 0) has this mean score and standard deviation over the language."""
    return LanguageStatistics(count, np.array([mean_score, 0.0], dtype=np.float32),
                              np.array([[spread**2, 0.0], [0.0, 0.0]], dtype=np.float32))


# ---- the per-language scale ------------------------------------------------------------------------------------


def test_an_exceptional_passage_in_a_low_scoring_language_beats_an_ordinary_one_in_the_query_language() -> None:
    backend = StatsBackend({"ru": stats_for(0.80, 0.02), "kk": stats_for(0.70, 0.02)})
    scale = language_scale(backend, np.array([1.0, 0.0]), alpha=1.0)  # type: ignore[arg-type]
    ordinary_ru, best_kk = scale(0.82, "ru"), scale(0.78, "kk")  # 1 and 4 deviations above their means
    assert best_kk > ordinary_ru
    assert scale(0.80, "ru") == pytest.approx(scale(0.70, "kk"), abs=0.005)  # the means meet (shrunk a little)
    assert 0.7 < scale(0.80, "ru") < 0.8  # on the corpus-wide cosine scale


def test_spread_is_corrected_partly() -> None:
    backend = StatsBackend({"ru": stats_for(0.5, 0.01), "kk": stats_for(0.5, 0.04)})
    scale = language_scale(backend, np.array([1.0, 0.0]), alpha=1.0)  # type: ignore[arg-type]
    slope_ru = scale(0.6, "ru") - scale(0.5, "ru")
    slope_kk = scale(0.6, "kk") - scale(0.5, "kk")
    assert slope_ru / slope_kk == pytest.approx((0.04 / 0.01) ** ranking.SPREAD_POWER, rel=0.05)


def test_alpha_zero_and_single_language_leave_scores_alone() -> None:
    two = StatsBackend({"ru": stats_for(0.8, 0.02), "kk": stats_for(0.7, 0.02)})
    assert language_scale(two, np.array([1.0, 0.0]), alpha=0.0)(0.75, "kk") == 0.75  # type: ignore[arg-type]
    one = StatsBackend({"ru": stats_for(0.8, 0.02)})
    one.language_centroids = lambda: pytest.fail("one language needs no means pass")  # type: ignore[method-assign]
    assert language_scale(one, np.array([1.0, 0.0]), alpha=1.0)(0.75, "ru") == 0.75  # type: ignore[arg-type]


def test_without_covariances_the_means_alone_are_corrected() -> None:
    class MeansOnly(StatsBackend):
        def language_statistics(self) -> dict[str, LanguageStatistics]:
            return {}

    backend = MeansOnly({"ru": stats_for(0.8, 0.02, 500), "kk": stats_for(0.7, 0.05, 500)})
    scale = language_scale(backend, np.array([1.0, 0.0]), alpha=1.0)  # type: ignore[arg-type]
    assert scale(0.9, "ru") - scale(0.8, "ru") == pytest.approx(0.1)  # no rescaling
    assert scale(0.8, "ru") - scale(0.7, "kk") == pytest.approx(0.0, abs=0.01)  # means (shrunk a little) meet


# ---- fusion ----------------------------------------------------------------------------------------------------


def test_lexical_evidence_reorders_within_a_language_and_dense_decides_the_language_mix() -> None:
    dense = ranked((1, "ru", "a", 0.9), (2, "kk", "b", 0.8), (3, "ru", "a", 0.7), (4, "kk", "b", 0.6))
    lexical = ranked((4, "kk", "b", 12.0), (3, "ru", "a", 9.0))
    fused = fuse_by_language(dense, lexical)
    assert [r.chunk.lang for r in fused] == ["ru", "kk", "ru", "kk"]  # the dense language sequence
    assert [r.chunk_id for r in fused] == [3, 4, 1, 2]  # lexical matches first within each language
    assert [r.score for r in fused] == [0.9, 0.8, 0.7, 0.6]


def test_lexical_only_passages_follow_their_language() -> None:
    dense = ranked((1, "ru", "a", 0.9), (2, "kk", "b", 0.8))
    lexical = ranked((5, "ky", "c", 3.0), (6, "ru", "a", 2.0))
    fused = fuse_by_language(dense, lexical)
    assert [r.chunk_id for r in fused][:2] == [1, 6] or [r.chunk_id for r in fused][:2] == [6, 1]
    assert {r.chunk_id for r in fused} == {1, 2, 5, 6}
    assert fused[-1].chunk_id == 5 and fused[-1].score == pytest.approx(0.8)  # no dense slot: the floor


def test_lexical_matches_outside_the_query_language_family_count_less() -> None:
    dense = ranked(*[(i, "kk", "guide", 0.9 - i / 100) for i in range(1, 31)])  # chunk 30 is 30th in Kazakh
    lexical = ranked((30, "kk", "guide", 5.0))  # ... but the only lexical match
    first = {lang: fuse_by_language(dense, lexical, query_lang=lang)[0].chunk_id for lang in ("kk", "ky", "ru")}
    assert first == {"kk": 30, "ky": 30, "ru": 1}  # a Russian query's cognate match in Kazakh is weak evidence
    assert fuse_by_language(dense, lexical)[0].chunk_id == 30  # language unknown: full weight
    assert fuse_by_language(dense, lexical, query_lang="en")[0].chunk_id == 30


# ---- duplicates and the per-source cap -------------------------------------------------------------------------


def test_copies_in_the_same_language_appear_once_and_translations_stay() -> None:
    text = "Заявка направляется в методический кабинет не позднее 1 мая предшествующего учебного года."
    items = [Ranked(chunk(1, "ru", "a", text), 0.9),
             Ranked(chunk(2, "ru", "b", "  ЗАЯВКА направляется в методический кабинет не позднее 1 мая "
                                        "предшествующего учебного года!"), 0.8),
             Ranked(chunk(3, "kk", "a", "Өтінім әдістемелік кабинетке 1 мамырдан кешіктірмей жіберіледі."), 0.7),
             Ranked(chunk(4, "ru", "a", text.replace("кабинет", "кабинет области")), 0.6),
             Ranked(chunk(5, "ru", "c", "Совсем другой абзац о методическом совете школы и его задачах."), 0.5)]
    assert [r.chunk_id for r in drop_duplicates(items)] == [1, 3, 5]


def reference_drop_duplicates(items: list[Ranked]) -> list[int]:
    """The rule written out plainly: exact copies by their words anywhere, near copies by word trigram sets among
    the first NEAR_DUPLICATE_WINDOW kept, compared with every earlier one of the same language."""
    def words(text: str) -> list[str]:
        return ranking._WORD.findall(text.casefold())

    seen: set[tuple[str, tuple[str, ...]]] = set()
    window: list[tuple[str, set[tuple[str, ...]]]] = []
    out = []
    for r in items:
        tokens = words(r.chunk.text)
        if (r.chunk.lang, tuple(tokens)) in seen:
            continue
        if len(seen) < ranking.NEAR_DUPLICATE_WINDOW:
            grams = {tuple(tokens[i:i + 3]) for i in range(len(tokens) - 2)}
            if any(lang == r.chunk.lang and min(len(grams), len(other)) > 0 and
                   len(grams & other) >= ranking.NEAR_DUPLICATE * min(len(grams), len(other))
                   for lang, other in window):
                continue
            window.append((r.chunk.lang, grams))
        seen.add((r.chunk.lang, tuple(tokens)))
        out.append(r.chunk_id)
    return out


@pytest.mark.parametrize("kept_keys", [None, 1_000, 7], ids=["found-anew", "kept", "kept-and-cleared"])
def test_duplicates_are_dropped_as_the_plain_rule_says_on_many_near_copies(kept_keys: int | None) -> None:
    """Edited, cut and re-cased copies around the 80 % line, in two languages, against the rule written plainly
    (the fast path hashes trigrams and checks a probe of them first; it must drop exactly the same passages).
    With a searcher's `TextKeys` (asked twice: the second time every key comes from it; or too small to keep them
    all, so it is cleared as it goes) the same passages are dropped."""
    rng = np.random.default_rng(7)
    vocabulary = [f"сөз{i}" for i in range(60)]
    dropped = 0
    for _ in range(40):
        bases = [list(rng.choice(vocabulary, size=int(rng.integers(3, 40)))) for _ in range(6)]
        items = []
        for cid in range(90):
            words = list(bases[int(rng.integers(len(bases)))])
            edit = int(rng.integers(5))
            if edit == 1:  # a few words changed: near the NEAR_DUPLICATE line
                for _ in range(int(rng.integers(1, 5))):
                    words[int(rng.integers(len(words)))] = str(rng.choice(vocabulary))
            elif edit == 2:  # a cut: contained in the whole
                start = int(rng.integers(len(words)))
                words = words[start:start + int(rng.integers(1, len(words) + 1))]
            elif edit == 3:  # the same words, other case and punctuation
                words = [w.upper() + "," for w in words]
            lang = "ru" if rng.random() < 0.3 else "kk"
            items.append(Ranked(chunk(cid, lang, f"d{cid}", " ".join(words)), 1.0 - cid / 100))
        reference = reference_drop_duplicates(items)
        keys = None if kept_keys is None else ranking.TextKeys(kept_keys)  # a store's: one text per chunk id
        for _ in range(1 if keys is None else 2):
            kept = [r.chunk_id for r in drop_duplicates(items, keys)]
            assert kept == reference
        assert keys is None or 0 < len(keys) <= kept_keys
        dropped += len(items) - len(kept)
    assert dropped > 1000  # the copies were there to drop


def test_at_most_three_passages_of_one_document_and_language_per_page() -> None:
    items = ranked(*[(i, "kk", "guide", 1 - i / 100) for i in range(1, 7)],
                   *[(i, "ru", "guide", 0.5 - i / 100) for i in range(7, 9)],
                   *[(i, "kk", f"other{i}", 0.4 - i / 100) for i in range(9, 14)])
    page = present(items, 10, page=10, per_source=3)
    counts: dict[tuple[str, str], int] = {}
    for r in page:
        counts[(r.chunk.doc_id, r.chunk.lang)] = counts.get((r.chunk.doc_id, r.chunk.lang), 0) + 1
    assert counts[("guide", "kk")] == 3 and counts[("guide", "ru")] == 2
    assert [r.chunk_id for r in page][:3] == [1, 2, 3]  # rank order kept for the passages that stay
    assert [r.chunk_id for r in present(items, 13)][10:13] == [4, 5, 6]  # deferred to the next page


def test_a_page_is_filled_in_rank_order_when_nothing_else_is_left() -> None:
    items = ranked(*[(i, "kk", "guide", 1 - i / 100) for i in range(1, 13)], (13, "ru", "x", 0.1))
    assert [r.chunk_id for r in present(items, 20)] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 10, 11, 12]


def test_pages_do_not_depend_on_how_many_results_are_asked_for() -> None:
    items = ranked(*[(i, "kk" if i % 3 else "ru", f"doc{i % 4}", 1 - i / 100) for i in range(1, 60)])
    full = present(items, 40)
    assert present(items, 10) == full[:10]
    assert present(items, 25)[20:] == full[20:25]
    assert len(present(items, 1000)) == len(items)
