"""One result per item: grouping, stable item paging, totals and facets, calibrated scores, the floor, explain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import searcher
from index.calibration import Calibration, QueryModel
from index.knowledge_base import KnowledgeBase
from index.records import ChunkRecord, DocumentRecord, SearchFilters
from index.results import Passage, facet_counts, group
from tests.test_api import make_client, search

MODEL = "intfloat/multilingual-e5-small"


def chunk(chunk_id: int, doc_id: str, lang: str = "ru", text: str = "текст") -> ChunkRecord:
    return ChunkRecord(text=text, lang=lang, page=None, ordinal=chunk_id, start=0, end=len(text), n_tokens=1,
                       chunk_id=chunk_id, doc_id=doc_id)


def test_group_keeps_each_item_once_at_its_best_passage() -> None:
    ranked = [Passage(chunk(1, "a"), 0.9), Passage(chunk(2, "b", "kk"), 0.8), Passage(chunk(3, "a", "kk"), 0.7),
              Passage(chunk(4, "c"), 0.8), Passage(chunk(5, "b"), 0.6)]
    items = group(ranked)
    assert [i.doc_id for i in items] == ["a", "b", "c"]  # b and c tie at 0.8: by id
    assert [p.chunk_id for p in items[0].passages] == [1, 3]
    assert items[1].langs == ["kk", "ru"]


def test_facet_counts_count_items_not_passages() -> None:
    items = group([Passage(chunk(1, "e1"), 0.9), Passage(chunk(2, "e1", "kk"), 0.8), Passage(chunk(3, "e2"), 0.7),
                   Passage(chunk(4, "d1", "kk"), 0.6)])
    docs = {"e1": DocumentRecord("e1", "s", "t", "json", "x", 1, kind="experience",
                                 facets={"technology": ["debate", "case-study"], "grade": ["7"]}),
            "e2": DocumentRecord("e2", "s", "t", "json", "x", 1, kind="experience", facets={"technology": ["debate"]}),
            "d1": DocumentRecord("d1", "s", "t", "txt", "x", 1)}
    facets = facet_counts(items, docs)
    assert facets["type"] == {"experience": 2, "document": 1}
    assert facets["lang"] == {"ru": 2, "kk": 2}
    assert facets["technology"] == {"debate": 2, "case-study": 1}
    assert facets["grade"] == {"7": 1}
    docs["e2"].facets["grade"] = [7, "7", 8]  # a value twice (as a number and as text) counts the item once
    more = group([*(p for item in items for p in item.passages), Passage(chunk(5, "gone"), 0.5)])  # no document
    assert facet_counts(more, docs)["grade"] == {"7": 2, "8": 1}
    assert facet_counts(more, docs)["type"] == {"experience": 2, "document": 1}


def write_calibration(path: Path) -> Path:
    curves = {mode: {"slope": 50.0, "midpoint": 0.5, "floor": 0.2} for mode in ("hybrid", "dense")}
    curves["lexical"] = {"slope": 2.0, "midpoint": 1.0, "floor": 0.2}
    path.write_text(json.dumps({MODEL: {"fitted_on": "test", "modes": curves,
                                        "query": {"dense": 40.0, "lexical": 2.0, "bias": -22.0, "floor": 0.5}}}))
    return path


def test_calibration_is_monotone_bounded_and_has_floors(tmp_path: Path) -> None:
    calibration = Calibration.for_model(MODEL, write_calibration(tmp_path / "c.json"))
    assert calibration.calibrated
    scores = [calibration.score(raw, "hybrid") for raw in (0.3, 0.45, 0.5, 0.55, 0.9)]
    assert scores == sorted(scores) and 0.0 < scores[0] < 0.01 and scores[2] == pytest.approx(0.5)
    assert scores[-1] < 1.0
    assert calibration.score(4.0, "lexical", n_terms=4) == pytest.approx(0.5)  # BM25 per distinct term
    assert calibration.floor("dense") == 0.2 and calibration.query_floor() == 0.5
    nonsense = calibration.close_match(0.4, 0.0)
    real = calibration.close_match(0.6, 1.0)
    assert nonsense is not None and real is not None and nonsense < 0.5 < real


def test_an_unknown_model_is_uncalibrated_and_cuts_nothing(tmp_path: Path) -> None:
    calibration = Calibration.for_model("hashing:256", write_calibration(tmp_path / "c.json"))
    assert not calibration.calibrated
    assert calibration.floor("hybrid") is None and calibration.close_match(0.1, 0.0) is None
    assert [calibration.score(x, "dense") for x in (-1.0, 0.0, 1.0)] == [0.0, 0.5, 1.0]
    assert 0.0 < calibration.score(2.0, "lexical", 2) < calibration.score(4.0, "lexical", 2) < 1.0


DOCS = {
    "debates.txt": "Дебаты в парах на уроке истории. Ученики спорят в парах и приводят аргументы.\n\n"
                   "Вторая часть: дебаты по правилам, аргументы и контраргументы учеников в парах.\n\n"
                   "Третья часть: как оценивать дебаты учеников в парах по критериям.",
    "kk_debates.txt": "Жұпта дебат өткізу. Оқушылар жұпта пікірталас жүргізеді және дәлел келтіреді.\n\n"
                      "Дебаттар сабақта оқушылардың дәлелдеу дағдысын дамытады.",
    "pairs.txt": "Работа в парах: ученики объясняют друг другу задачу и спорят о решении.",
}


@pytest.fixture
def filled(kb: KnowledgeBase, tmp_path: Path) -> KnowledgeBase:
    """A knowledge base with the bank and three documents of several passages each."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    kb.settings.chunk_tokens = 24  # several passages per document
    kb.settings.chunk_overlap = 0
    kb.bank.load_corpus(kb.settings.corpus)
    assert kb.ingest([folder]).count("failed") == 0
    return kb


def test_find_gives_each_item_once_and_pages_to_the_end_without_repeats(filled: KnowledgeBase) -> None:
    query = "дебаты учеников в парах"
    first = filled.find(query, k=10, min_score=0.0)
    assert first.total >= 20 and not first.no_close_match
    ids = [item.document.doc_id for item in first.items]
    assert len(ids) == len(set(ids)) == 10
    assert any(len(item.group.passages) > 1 for item in first.items if item.document.kind == "document")
    paged: list[str] = []
    offset = 0
    while page := filled.find(query, k=7, offset=offset, min_score=0.0).items:  # across the ranking tiers
        paged += [item.document.doc_id for item in page]
        offset += 7
    last = filled.find(query, k=7, offset=offset - 7, min_score=0.0)
    assert last.total == first.total or (first.total_is_estimate and last.total > first.total)
    assert len(paged) == len(set(paged)) == last.total  # no item twice, every item once, to the end
    assert paged[:10] == ids
    scores = [item.score for item in filled.find(query, k=50, min_score=0.0).items]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


def test_facets_count_the_matching_items(filled: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(searcher, "TIERS", ((searcher.POOL, searcher.POOL),))  # one ranking for every page
    page = filled.find("дебаты учеников в парах", k=5, min_score=0.0)
    assert sum(page.facets["type"].values()) == page.total
    every = filled.find("дебаты учеников в парах", k=200, min_score=0.0)
    kinds = [item.document.kind for item in every.items]
    assert page.facets["type"] == {kind: kinds.count(kind) for kind in page.facets["type"]}
    assert set(page.facets["lang"]) <= {"kk", "ru", "ky", "en"}
    tagged = [i for i in every.items if "debates" in i.document.facets.get("technology", [])]
    assert tagged and page.facets["technology"]["debates"] == len(tagged)


def test_min_score_leaves_out_weak_items_and_counts_only_the_rest(filled: KnowledgeBase) -> None:
    every = filled.find("дебаты учеников в парах", k=200, min_score=0.0)
    cut = sorted(item.score for item in every.items)[len(every.items) // 2]
    strict = filled.find("дебаты учеников в парах", k=200, min_score=cut)
    assert 0 < strict.total < every.total
    assert all(item.score >= cut for item in strict.items)
    assert strict.total == sum(1 for item in every.items if item.score >= cut)


def test_explain_names_the_evidence(filled: KnowledgeBase) -> None:
    page = filled.find("дебаты в парах", k=3, explain=True, mode="hybrid")
    explanation = page.items[0].explanation
    assert explanation is not None and explanation["mode"] == "hybrid"
    passage = explanation["passages"][0]  # type: ignore[index]
    assert passage["fused_rank"] >= 1 and passage["dense"] is not None
    assert {"деба", "пара"} & set(passage["matched_terms"])
    assert passage["lexical"] is not None and passage["lexical"]["rank_in_language"] >= 1
    assert filled.find("дебаты в парах", k=3).items[0].explanation is None


def test_a_filter_narrows_what_is_shown_not_whether_the_query_has_a_close_match(filled: KnowledgeBase) -> None:
    # A Russian query filtered to Kazakh matches fewer of its words there. The close-match model here reads word
    # matches alone, its floor between the query's best match in the bank and its best match in Kazakh: with the
    # filtered word match, the query was cut as "no close match" (28 of 159 cross-lingual evaluation pairs
    # searched within the answer language were). The words say whether the query is real, in the whole bank.
    query, kazakh = "дебаты учеников в парах", SearchFilters(langs=("kk",))
    everywhere = filled.searcher.rank(query, "hybrid", None, 10).words
    in_kazakh = filled.searcher.rank(query, "hybrid", kazakh, 10).words
    assert 0.0 < in_kazakh < everywhere
    model = QueryModel(dense=0.0, lexical=1.0, bias=-(everywhere + in_kazakh) / 2, floor=0.5)
    filled.__dict__["calibration"] = Calibration(MODEL, {}, model)
    assert not filled.find(query).no_close_match
    page = filled.find(query, filters=kazakh)
    assert not page.no_close_match and page.close_match == filled.find(query).close_match
    assert page.items and all("kk" in item.group.langs for item in page.items)
    deep = filled.find(query, filters=kazakh, k=100)
    assert any(item.document.source.endswith("kk_debates.txt") for item in deep.items)
    # a query with no close match anywhere has none under a filter (lexical mode finds no passage at all for it)
    for mode in ("hybrid", "dense", "lexical"):
        nonsense = filled.find("zzqxv qwpp", filters=kazakh, mode=mode)
        assert nonsense.close_match is not None and nonsense.close_match < model.floor, mode
        assert nonsense.items == [] and nonsense.total == 0 and (nonsense.no_close_match or mode == "lexical")


def test_a_filter_that_holds_nothing_close_answers_no_close_match(filled: KnowledgeBase) -> None:
    # The close-match model here reads the best dense score alone, its floor between the query's best cosine in
    # the bank and its best cosine in Kazakh: nothing shown under the filter is close, so nothing is shown.
    query, kazakh = "дебаты учеников в парах", SearchFilters(langs=("kk",))
    everywhere = filled.searcher.rank(query, "hybrid", None, 10).dense_top
    in_kazakh = filled.searcher.rank(query, "hybrid", kazakh, 10).dense_top
    assert everywhere is not None and in_kazakh is not None and in_kazakh < everywhere
    model = QueryModel(dense=1.0, lexical=0.0, bias=-(everywhere + in_kazakh) / 2, floor=0.5)
    filled.__dict__["calibration"] = Calibration(MODEL, {}, model)
    assert not filled.find(query).no_close_match and filled.find(query).items
    for mode in ("hybrid", "dense"):
        page = filled.find(query, filters=kazakh, mode=mode)
        assert page.no_close_match and page.items == [] and page.total == 0, mode
        assert page.close_match is not None and page.close_match < model.floor
    # a filter that keeps the close passage keeps the answer
    russian = filled.find(query, filters=SearchFilters(langs=("ru",)))
    assert not russian.no_close_match and russian.items


def test_a_filtered_search_reads_the_bank_s_word_match_without_an_unfiltered_dense_search(
        filled: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    # The close-match check under a filter needs the query's word match in the whole bank; it reads the lexical
    # leg alone (kept with the rankings), never a dense search without the filter (4-5 ms at 100k chunks).
    query, kazakh = "дебаты учеников в парах", SearchFilters(langs=("kk",))
    bank_words = filled.searcher.rank(query, "hybrid", None, 10).words
    filled.searcher.rankings = type(filled.searcher.rankings)()
    dense_filters: list[SearchFilters | None] = []
    search = filled.backend.search
    monkeypatch.setattr(filled.backend, "search", lambda vector, k, filters=None: dense_filters.append(filters)
                        or search(vector, k, filters))
    page = filled.find(query, filters=kazakh, explain=True)
    assert dense_filters and all(f == kazakh for f in dense_filters)
    assert page.items and page.items[0].explanation is not None
    assert 0.0 < page.items[0].explanation["word_match_per_term"] < round(bank_words, 4)  # filtered, in `explain`
    assert filled.searcher._words_in_bank(query) == bank_words  # what the close-match check read


def test_passage_search_stays_flat(filled: KnowledgeBase) -> None:
    hits = filled.search("дебаты учеников в парах", k=20)
    docs = [h.document.doc_id for h in hits]
    assert len(docs) > len(set(docs))  # several passages of one document, as before


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from tests.test_api import build_seeded_data

    yield from make_client(build_seeded_data(tmp_path_factory), tmp_path_factory.mktemp("items") / "data")


def test_api_answers_one_result_per_item_with_totals_and_facets(client: TestClient) -> None:
    body = search(client, q="дебаты в парах по истории", k=5, min_score=0)
    assert body["group_by"] == "item" and body["total"] >= 5
    deep = search(client, q="дебаты в парах по истории", k=5, offset=150, min_score=0)  # past the shallow tier
    assert deep["total_is_estimate"] is False
    assert deep["total"] >= body["total"] if body["total_is_estimate"] else deep["total"] == body["total"]
    ids = [r["doc_id"] for r in body["results"]]
    assert len(ids) == len(set(ids)) == 5
    assert sum(body["facets"]["type"].values()) == body["total"]
    assert all(0.0 <= r["score"] <= 1.0 and r["passages"] is None for r in body["results"])
    expanded = search(client, q="дебаты в парах по истории", k=5, min_score=0, expand="passages", explain="true")
    for result in expanded["results"]:
        assert len(result["passages"]) == result["matched_passages"]
        assert result["explain"]["passages"][0]["chunk_id"] == result["chunk_id"]
    flat = search(client, q="дебаты в парах по истории", k=30, group_by="passage")
    assert flat["group_by"] == "passage" and flat["total"] is None
    assert len({r["doc_id"] for r in flat["results"]}) < len(flat["results"])


def test_api_item_pages_never_repeat(client: TestClient) -> None:
    seen: list[str] = []
    offset: int | None = 0
    total = None
    while offset is not None:
        body = search(client, q="оқушылар жұпта жұмыс", k=9, offset=offset, min_score=0)
        total = body["total"]
        seen += [r["doc_id"] for r in body["results"]]
        offset = body["next_offset"]
    assert len(seen) == len(set(seen)) == total


def test_api_refuses_a_wrong_grouping_or_score(client: TestClient) -> None:
    for params in ({"group_by": "chunk"}, {"min_score": 2}, {"expand": "everything"}):
        response = client.get("/api/v1/search", params={"q": "дебаты", **params})
        assert response.status_code == 422, params
        assert response.json()["field"] in ("group_by", "min_score", "expand", "expand[0]"), response.json()


@pytest.mark.slow
def test_real_model_says_no_close_match_to_nonsense_and_answers_real_queries(bank_kb: KnowledgeBase) -> None:
    assert bank_kb.calibration.calibrated
    for nonsense in ("zzqxv qwpp", "фывапролд йцукен"):
        page = bank_kb.find(nonsense)
        assert page.no_close_match and page.items == [] and page.total == 0, nonsense
    page = bank_kb.find("как организовать дебаты учеников на уроке истории", k=10)
    assert not page.no_close_match and page.items and page.total >= len(page.items)
    scores = [item.score for item in page.items]
    assert scores == sorted(scores, reverse=True) and 0.3 < scores[0] <= 1.0
    assert any(item.document.doc_id == "tech:debates" for item in page.items[:3])
    # filtered to another language than the query's: its items, not "no close match" (the query has close ones)
    for query in ("как организовать работу в парах на уроке", "жұптық жұмысты сабақта қалай ұйымдастыру"):
        kyrgyz = bank_kb.find(query, filters=SearchFilters(langs=("ky",)))
        assert not kyrgyz.no_close_match and kyrgyz.items, query
        assert all("ky" in item.group.langs for item in kyrgyz.items)
    assert bank_kb.find("zzqxv qwpp", filters=SearchFilters(langs=("ky",))).no_close_match
