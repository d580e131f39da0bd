"""The gap report with the real embedding model: unmet topics planted in kk, ru and ky, each typed in several
phrasings that share few words, come back as one group each, apart from each other, from met searches and from
noise, and each group's nearest technologies fit it. Groups are made by `report_for`, exactly as the CLI and the API
make them (the typical query of corpus/eval, the configured distance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.gaps import normalised, report_for
from index.knowledge_base import KnowledgeBase
from index.searchlog import SearchLog, SqliteSearchLog

pytestmark = pytest.mark.slow

# topic -> (language, phrasings); each phrasing searched twice, always without a close match
PLANTED = {
    "robotics-ru": ("ru", ["робототехника в детском саду", "как научить дошкольников робототехнике",
                           "конструирование роботов с детьми 5-6 лет", "лего-роботы для дошкольников"]),
    "finance-kk": ("kk", ["финансылық сауаттылық бастауыш сыныпта",
                          "бастауыш сынып оқушыларына қаржылық сауаттылықты үйрету",
                          "балаларға ақшаны басқаруды үйрету сабағы"]),
    "bullying-ky": ("ky", ["мектепте буллингдин алдын алуу", "окуучулар арасындагы зордук-зомбулукка каршы иш",
                           "класста буллингге кантип каршы туруу керек"]),
}
NOISE = ["погода в Бишкеке завтра", "футбол чемпионат мира", "рецепт плова", "купить ноутбук недорого",
         "ай календары 2026", "asdf qwerty", "жаңалықтар бүгін"]
MET = ["проектное обучение", "сындарлы оқыту әдістері", "критикалык ой жүгүртүүнү өнүктүрүү"]


def test_real_model_groups_each_planted_topic_once(bank_kb: KnowledgeBase, tmp_path: Path) -> None:
    search_log = SearchLog(SqliteSearchLog(tmp_path / "search-log.sqlite3"), 90)
    for _, phrasings in PLANTED.values():
        for text in phrasings * 2:
            search_log.record(text, mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    for text in NOISE:
        search_log.record(text, mode="hybrid", filters={}, n_items=0, top_score=None, no_close_match=True)
    for i, text in enumerate(MET):
        sid = search_log.record(text, mode="hybrid", filters={}, n_items=5, top_score=0.9, no_close_match=False)
        assert sid is not None
        search_log.opened(sid, f"d{i}")
    report = report_for(bank_kb, search_log)
    search_log.close()

    planted_sizes = sorted((2 * len(p) for _, p in PLANTED.values()), reverse=True)
    assert [g.searches for g in report.groups[:3]] == planted_sizes
    for name, (lang, phrasings) in PLANTED.items():
        holding = [g for g in report.groups if {normalised(t) for t, _ in g.examples} & set(map(normalised, phrasings))]
        assert len(holding) == 1, f"{name} is split over {len(holding)} groups"
        group = holding[0]
        assert {normalised(t) for t, _ in group.examples} == set(map(normalised, phrasings)), name
        assert group.languages == {lang: 2 * len(phrasings)}
    noise = set(map(normalised, NOISE))
    assert all({normalised(t) for t, _ in g.examples} <= noise for g in report.groups[3:])  # noise stays apart
    assert not {normalised(t) for g in report.groups for t, _ in g.examples} & set(map(normalised, MET))
    nearest = {name: [t["id"] for t in g.technologies] for name, (_, phrasings) in PLANTED.items()
               for g in report.groups if g.examples[0][0] in phrasings}
    assert "stem" in nearest["robotics-ru"] or "computer-technologies" in nearest["robotics-ru"], nearest
