"""The experience bank, technology items, classification and similar projects, with the hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.kb.bank import technology_doc_id
from index.knowledge_base import KnowledgeBase
from index.records import SearchFilters
from ingest.knowledge import technology_text
from pedkb.errors import ConflictError, NotFoundError, ValidationError
from pedkb.settings import Settings
from tests.conftest import REPO, CountingEmbedder

CORPUS = REPO / "corpus"


def _records() -> list[dict]:
    out = []
    for path in sorted((CORPUS / "experiences").glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return _records()


@pytest.fixture
def loaded(kb: KnowledgeBase) -> KnowledgeBase:
    counts = kb.bank.load_corpus(CORPUS)
    assert counts["technologies"]["added"] == len(kb.vocabulary.technologies)
    return kb


def test_load_is_idempotent_and_counts_match(loaded: KnowledgeBase, records: list[dict],
                                             embedder: CountingEmbedder) -> None:
    before = embedder.embedded
    again = loaded.bank.load_corpus(CORPUS)
    assert again["experiences"] == {"added": 0, "updated": 0, "unchanged": len(records)}
    assert again["technologies"]["unchanged"] == len(loaded.vocabulary.technologies)
    assert embedder.embedded == before
    assert loaded.stats()["documents"] == {"experience": len(records),
                                           "technology": len(loaded.vocabulary.technologies)}


@pytest.mark.parametrize(
    ("filters", "predicate"),
    [
        (SearchFilters(langs=("ky",)), lambda r: r["language"] == "ky"),
        (SearchFilters(regions=("kz-almaty-city", "kg-bishkek")), lambda r: r["region"] in ("kz-almaty-city",
                                                                                           "kg-bishkek")),
        (SearchFilters(grades=(5,)), lambda r: 5 in r["grades"]),
        (SearchFilters(technologies=("critical-thinking",)), lambda r: "critical-thinking" in r["technologies"]),
        (SearchFilters(year_min=2020, year_max=2022), lambda r: 2020 <= r["year"] <= 2022),
        (SearchFilters(stages=("disseminated",), langs=("ru",)),
         lambda r: r["stage"] == "disseminated" and r["language"] == "ru"),
    ],
)
def test_filters_select_exactly_the_matching_records(loaded: KnowledgeBase, records: list[dict],
                                                     filters: SearchFilters, predicate) -> None:  # type: ignore[no-untyped-def]
    expected = {r["id"] for r in records if predicate(r)}
    assert expected, "the sample data should contain matches for this filter"
    got = {e.id for e in loaded.bank.select(filters, limit=500)}
    assert got == expected
    assert loaded.bank.count(filters) == len(expected)


def test_group_filter_uses_the_classification(loaded: KnowledgeBase, records: list[dict]) -> None:
    vocab = loaded.vocabulary
    expected = {r["id"] for r in records if any(vocab.group_of(t).id == "interactive" for t in r["technologies"])}
    assert {e.id for e in loaded.bank.select(SearchFilters(groups=("interactive",)), limit=500)} == expected


def test_search_returns_typed_results_and_filters_by_type(loaded: KnowledgeBase, records: list[dict]) -> None:
    first = records[0]
    hits = loaded.search(first["title"], k=5)
    assert hits[0].document.doc_id == first["id"] and hits[0].to_dict()["type"] == "experience"
    assert set(hits[0].to_dict()["technologies"]) == set(first["technologies"])
    tech_hits = loaded.search(first["title"], k=5, kinds=["technology"])
    assert tech_hits and all(h.document.kind == "technology" for h in tech_hits)


def test_pages_have_no_duplicates_and_no_gaps(loaded: KnowledgeBase) -> None:
    whole = [h.chunk.chunk_id for h in loaded.search("оқушылар мугалим ученики", k=30)]
    paged = [h.chunk.chunk_id for offset in (0, 10, 20)
             for h in loaded.search("оқушылар мугалим ученики", k=10, offset=offset)]
    assert paged == whole and len(set(paged)) == 30


def test_create_update_delete_keep_the_index_consistent(loaded: KnowledgeBase, records: list[dict]) -> None:
    new = {**records[0], "id": "exp-ru-900", "title": "Квазиуникальный заголовок зеленоватого проекта"}
    created = loaded.bank.create(new)
    assert created.id == "exp-ru-900"
    assert loaded.search("Квазиуникальный зеленоватого", k=1)[0].document.doc_id == "exp-ru-900"
    with pytest.raises(ConflictError, match="exp-ru-900"):
        loaded.bank.create(new)

    loaded.bank.update("exp-ru-900", {**new, "title": "Переименованный проект", "region": "kg-osh-city"})
    assert loaded.bank.get("exp-ru-900").region == "kg-osh-city"
    assert "exp-ru-900" in {e.id for e in loaded.bank.select(SearchFilters(regions=("kg-osh-city",)))}
    assert all(h.document.doc_id != "exp-ru-900" or "Переименованный" in h.document.title
               for h in loaded.search("Квазиуникальный зеленоватого", k=3))
    with pytest.raises(ValidationError, match="id"):
        loaded.bank.update("exp-ru-900", {**new, "id": "exp-ru-901"})

    loaded.bank.delete("exp-ru-900")
    with pytest.raises(NotFoundError):
        loaded.bank.get("exp-ru-900")
    assert all(h.document.doc_id != "exp-ru-900" for h in loaded.search("Переименованный проект", k=10))


@pytest.mark.parametrize(
    ("change", "field"),
    [({"technologies": ["no-such-tech"]}, "technologies[0]"), ({"title": ""}, "title"),
     ({"language": "de"}, "language"), ({"grades": [12]}, "grades[0]"), ({"region": "mars"}, "region")],
)
def test_bad_records_are_refused_with_the_field(loaded: KnowledgeBase, records: list[dict], change: dict,
                                                field: str) -> None:
    count = loaded.bank.count()
    with pytest.raises(ValidationError) as info:
        loaded.bank.create({**records[0], "id": "exp-ru-999", **change})
    assert field in str(info.value)
    assert loaded.bank.count() == count


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_then_import_into_another_bank(loaded: KnowledgeBase, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bank{suffix}"
    assert loaded.bank.export(path) == loaded.bank.count()
    other = KnowledgeBase(Settings(data=tmp_path / "other", model="hashing:256", chunk_tokens=64, chunk_overlap=8),
                          embedder=CountingEmbedder(256))
    with other:
        assert other.bank.import_file(path)["added"] == loaded.bank.count()
        assert [e.model_dump() for e in other.bank.select(limit=500)] == \
            [e.model_dump() for e in loaded.bank.select(limit=500)]


def test_import_is_all_or_nothing(loaded: KnowledgeBase, records: list[dict], tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {**records[0], "id": "exp-ru-950"}
    bad = {**records[1], "id": "exp-ru-951", "technologies": ["nope"]}
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps(bad, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError, match=r"bad.jsonl:2: technologies\[0\]"):
        loaded.bank.import_file(path)
    with pytest.raises(NotFoundError):
        loaded.bank.get("exp-ru-950")


def test_classify_ranks_the_described_technology_first(loaded: KnowledgeBase) -> None:
    tech = loaded.vocabulary.technologies["debates"]
    best = loaded.classify(technology_text(tech, "ky"), k=3)
    assert best[0].technology_id == "debates" and best[0].group_id == tech.group
    assert len(best) == 3 and best[0].score >= best[1].score >= best[2].score
    with pytest.raises(ValidationError, match="text"):
        loaded.classify("   ")


def test_suggested_tags_are_kept_apart_from_own_tags(loaded: KnowledgeBase, records: list[dict]) -> None:
    suggested = loaded.bank.suggested(records[0]["id"])
    assert len(suggested) == 3 and all("technology_id" in s for s in suggested)
    assert loaded.bank.get(records[0]["id"]).technologies == records[0]["technologies"]


def test_ingested_documents_get_suggested_technologies(loaded: KnowledgeBase, tmp_path: Path) -> None:
    tech = loaded.vocabulary.technologies["lesson-study"]
    path = tmp_path / "note.txt"
    path.write_text(technology_text(tech, "kk"), encoding="utf-8")
    result = loaded.ingest_file(path)
    doc = loaded.document(result.doc_id or "")
    assert doc.meta["suggested_technologies"][0]["technology_id"] == "lesson-study"  # type: ignore[index]
    assert "lesson-study" in doc.facets["technology"]
    assert result.doc_id in {d.doc_id for d in loaded.backend.filter_documents(
        SearchFilters(technologies=("lesson-study",), kinds=("document",)))[0]}


def test_similar_never_returns_the_item_itself(loaded: KnowledgeBase, records: list[dict]) -> None:
    first = records[0]
    items = loaded.similar(exp_id=first["id"], k=5)
    assert len(items) == 5 and first["id"] not in {i.doc_id for i in items}
    assert all(i.reason for i in items)
    by_text = loaded.similar(text=first["summary"], k=3, kinds=("experience",))
    assert by_text[0].doc_id == first["id"]
    with pytest.raises(ValidationError):
        loaded.similar(k=3)
    with pytest.raises(NotFoundError):
        loaded.similar(exp_id="exp-xx-000")


def test_technology_items_and_their_experiences(loaded: KnowledgeBase, records: list[dict]) -> None:
    doc = loaded.document(technology_doc_id("debates"))
    assert doc.kind == "technology" and len(loaded.backend.document_chunks(doc.doc_id)) == 3
    expected = {r["id"] for r in records if "debates" in r["technologies"]}
    assert {e.id for e in loaded.bank.for_technology("debates")} == expected
    with pytest.raises(NotFoundError):
        loaded.bank.for_technology("no-such")
