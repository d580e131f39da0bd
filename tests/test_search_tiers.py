"""Ranking depth in tiers: shallow first pages, deep later ones, and paging that stays one list to the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import searcher
from index.knowledge_base import KnowledgeBase

QUERY = "дебаты учеников в парах"
TOPICS = ["дебаты в парах", "работа учеников в группах", "оценивание по критериям", "проектное обучение",
          "жұпта дебат өткізу", "сыни тұрғыдан ойлау", "окуучулардын топтук иши"]


@pytest.fixture
def many(kb: KnowledgeBase, tmp_path: Path) -> KnowledgeBase:
    """About 120 passages in 40 documents of three languages, so a shallow tier's pool is full."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for d in range(40):
        parts = [f"{TOPICS[(d + i) % len(TOPICS)]}: часть {i} документа {d}, ученики {d * 7 + i} раз спорят."
                 for i in range(3)]
        (folder / f"doc{d:02d}.txt").write_text("\n\n".join(parts), encoding="utf-8")
    kb.settings.chunk_tokens = 16
    kb.settings.chunk_overlap = 0
    assert kb.ingest([folder]).count("failed") == 0
    return kb


@pytest.fixture
def shallow(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Tiers small enough for a test store: 12 passages per leg serve the first 8 results. Records the depths."""
    monkeypatch.setattr(searcher, "TIERS", ((12, 8), (searcher.POOL, searcher.POOL)))
    depths: list[int] = []
    rank = searcher.Searcher.rank

    def counting(self: searcher.Searcher, *args: object, **kwargs: object) -> searcher.Ranking:
        found = rank(self, *args, **kwargs)  # type: ignore[arg-type]
        depths.append(int(args[3]) if len(args) > 3 else int(kwargs.get("depth", searcher.POOL)))  # type: ignore[call-overload]
        return found

    monkeypatch.setattr(searcher.Searcher, "rank", counting)
    return depths


def test_first_pages_rank_only_the_shallow_tier(many: KnowledgeBase, shallow: list[int]) -> None:
    page = many.find(QUERY, k=4, offset=4, min_score=0.0)
    assert len(page.items) == 4 and shallow == [12]
    assert page.total_is_estimate  # counted on a full shallow pool: at least that many
    shallow.clear()
    many.search(QUERY, k=4, offset=0)
    assert shallow == [12]
    shallow.clear()
    many.find(QUERY, k=4, offset=6, min_score=0.0)  # crosses the shallow reach
    assert shallow == [12, searcher.POOL]


@pytest.mark.parametrize("k", [1, 3, 5])
def test_item_pages_across_tiers_are_slices_of_one_list(many: KnowledgeBase, shallow: list[int], k: int) -> None:
    whole = many.find(QUERY, k=200, min_score=0.0)
    order = [item.document.doc_id for item in whole.items]
    assert len(order) == len(set(order)) == whole.total > 8 and not whole.total_is_estimate
    paged: list[str] = []
    offset = 0
    while True:
        page = many.find(QUERY, k=k, offset=offset, min_score=0.0)
        if not page.items:
            break
        paged += [item.document.doc_id for item in page.items]
        offset += k
    assert paged == order  # page n + 1 continues page n; no item twice, every item once, to the end
    assert page.total == whole.total


def test_the_shallow_tier_serves_the_deep_rankings_top_where_they_agree(many: KnowledgeBase,
                                                                       shallow: list[int]) -> None:
    tiered = [item.document.doc_id for item in many.find(QUERY, k=8, min_score=0.0).items]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(searcher, "TIERS", ((searcher.POOL, searcher.POOL),))
        deep = [item.document.doc_id for item in many.find(QUERY, k=8, min_score=0.0).items]
    assert tiered[:3] == deep[:3]  # the head of the list is the same whatever the depth


@pytest.mark.parametrize("k", [2, 5])
def test_passage_pages_across_tiers_are_slices_of_one_list(many: KnowledgeBase, shallow: list[int], k: int) -> None:
    whole = [hit.chunk.chunk_id for hit in many.search(QUERY, k=100)]
    assert len(whole) == len(set(whole)) > 8
    paged: list[int] = []
    for offset in range(0, len(whole) + k, k):
        paged += [hit.chunk.chunk_id for hit in many.search(QUERY, k=k, offset=offset)]
    assert paged == whole


def test_the_default_tiers_end_at_the_deepest_page() -> None:
    depths = [depth for depth, _ in searcher.TIERS]
    reaches = [reach for _, reach in searcher.TIERS]
    assert depths == sorted(depths) and reaches == sorted(reaches)
    assert searcher.TIERS[-1] == (searcher.POOL, searcher.POOL)
