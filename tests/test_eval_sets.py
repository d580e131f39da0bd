"""The shipped evaluation sets (judged queries, nonsense queries) and the "no close match" floor measurement."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from index.eval_floor import (
    FloorOutcome,
    best_floor,
    floor_outcome,
    load_nonsense,
    sweep_floor,
    sweep_table,
    top_scores,
)
from index.eval_queries import Judgement, load_queries, normalise_passage
from ingest.knowledge import load_corpus_experiences, load_vocabulary
from pedkb.errors import ValidationError

REPO = Path(__file__).resolve().parents[1]
QRELS = REPO / "corpus" / "eval" / "queries.jsonl"
NONSENSE = REPO / "corpus" / "eval" / "nonsense.jsonl"
GOOD = {"id": "q1", "lang": "kk", "text": "сұрақ", "judgements": [{"item": "exp-ru-001", "grade": 3}]}


def write_qrels(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# ---- normalisation and matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Іс- тәжірибенің", "істәжірибенің"),  # hyphen + space left by extraction
        ("өзін -өзі", "өзінөзі"),
        ("ин-\nновациялык", "инновациялык"),
        ("жəне  \n\t кәсіби", "және кәсіби"),  # Latin schwa, whitespace runs
        ("ИННОВАЦИЯ", "инновация"),
        ("новация ─ это средство", "новация - это средство"),  # box-drawing dash of the guide
        ("ещё", "еще"),
        ("білім беру - кәсіптік", "білім беру - кәсіптік"),  # a spaced dash is punctuation, kept
    ],
)
def test_normalise_passage(raw: str, expected: str) -> None:
    assert normalise_passage(raw) == expected


def test_phrase_judgement_matches_whatever_the_chunk_boundaries() -> None:
    judgement = Judgement(3, "kk", seed="002", phrase="іс-тәжірибенің электрондық банкі")
    name = "002_guide.txt"
    assert judgement.matches("d1", name, normalise_passage("… • Іс- тәжірибенің\nЭлектрондық банкі; …"))
    assert judgement.matches("d9", name, normalise_passage("іс-тәжірибенің электрондық банкі"))
    assert not judgement.matches("d1", "003_article.txt", normalise_passage("іс-тәжірибенің электрондық банкі"))
    assert not judgement.matches("d1", name, normalise_passage("іс-тәжірибенің"))  # half a phrase is not it


def test_item_judgement_matches_the_document_id() -> None:
    judgement = Judgement(2, "ru", item="exp-ru-001")
    assert judgement.matches("exp-ru-001", "experience:exp-ru-001", "anything")
    assert not judgement.matches("exp-ru-0011", "experience:exp-ru-0011", "anything")


# ---- the judged queries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"judgements": [{"item": "exp-ru-001", "grade": 4}]}, "grade must be 1, 2 or 3"),
        ({"judgements": [{"seed": "002", "phrase": "мәтін", "grade": 2}]}, "needs the lang"),
        ({"judgements": [{"item": "lesson-42", "grade": 2}]}, "unknown item id"),
        ({"judgements": [{"seed": "002", "phrase": " ", "lang": "kk", "grade": 2}]}, "non-empty phrase"),
        ({"judgements": []}, "judgements: must be a non-empty list"),
        ({"lang": "en"}, "lang: must be one of"),
    ],
)
def test_bad_qrels_lines_name_the_line_and_field(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = write_qrels(tmp_path / "q.jsonl", [{**GOOD, "id": "q0"}, {**GOOD, **change}])
    with pytest.raises(ValidationError, match=message) as caught:
        load_queries(path)
    assert ":2" in caught.value.field


def test_duplicate_query_ids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="duplicate query id"):
        load_queries(write_qrels(tmp_path / "q.jsonl", [GOOD, GOOD]))


def test_experience_language_comes_from_its_id(tmp_path: Path) -> None:
    (query,) = load_queries(write_qrels(tmp_path / "q.jsonl", [GOOD]))
    assert query.judgements[0].lang == "ru" and query.cross_lingual


def test_shipped_qrels_are_balanced_cross_lingual_and_point_at_real_items() -> None:
    queries = load_queries(QRELS)
    per_lang = Counter(q.lang for q in queries)
    assert len(queries) >= 120 and all(per_lang[lang] >= 22 for lang in ("kk", "ru", "ky")), per_lang
    assert sum(q.cross_lingual for q in queries) >= 40
    assert sum(bool(q.names) for q in queries) >= 20
    assert {q.lang for q in queries if q.names} == {"kk", "ru", "ky"}
    assert all(any(j.grade == 3 for j in q.judgements) for q in queries)
    vocabulary = load_vocabulary(REPO / "corpus")
    known = {e.id for e in load_corpus_experiences(REPO / "corpus", vocabulary)}
    known |= {f"tech:{tech}" for tech in vocabulary.technologies}
    unknown = {j.item for q in queries for j in q.judgements if j.item is not None} - known
    assert not unknown
    assert len({q.text.casefold() for q in queries}) == len(queries)


def test_the_issue_cases_are_in_the_set() -> None:
    """Issue 14's quoted queries: critical thinking (kk), pair work (ru), technology names with a misspelling."""
    by_text = {q.text: q for q in load_queries(QRELS)}
    critical = {j.item: j.grade for j in by_text["оқушылардың сыни ойлауын дамыту"].judgements}
    assert critical["exp-kk-001"] == 3  # the Abai experience
    pairs = {j.item: j.grade for j in by_text["как организовать работу в парах на уроке"].judgements}
    assert pairs["exp-kk-007"] == 3 and pairs["exp-ky-001"] == 3
    for text, tech in [("перевернутый клас", "tech:flipped-classroom"), ("кейс-стади", "tech:case-method"),
                       ("дебаты", "tech:debates")]:
        assert by_text[text].names == (tech,)


def test_a_named_technology_must_be_judged(tmp_path: Path) -> None:
    path = write_qrels(tmp_path / "q.jsonl", [{**GOOD, "names": ["tech:debates"]}])
    with pytest.raises(ValidationError, match="named but not judged"):
        load_queries(path)


# ---- the "no close match" floor -------------------------------------------------------------------------------


def scored(table: dict[str, list[tuple[str, float]]]):  # type: ignore[no-untyped-def]
    return lambda text: table.get(text, [])


def test_floor_outcome_counts_nonsense_cut_and_real_queries_lost() -> None:
    search = scored({"rubbish": [("a", 0.70)], "noise": [("b", 0.81), ("c", 0.6)], "real 1": [("d", 0.90)],
                     "real 2": [("e", 0.79)], "real 3": [("f", 0.85)], "real 4": [("g", 0.95)]})
    nonsense, real = ["rubbish", "noise", "empty"], ["real 1", "real 2", "real 3", "real 4"]
    outcome = floor_outcome(search, nonsense, real, 0.8)
    assert (outcome.nonsense_cut, outcome.real_cut) == (pytest.approx(2 / 3), 0.25)  # nothing returned is cut
    assert outcome.precision == pytest.approx(2 / 3) and not outcome.meets()
    by_rule = floor_outcome(search, nonsense, real, lambda results: len(results) != 1)
    assert by_rule.threshold is None and by_rule.nonsense_cut == pytest.approx(2 / 3) and by_rule.real_cut == 0.0
    assert top_scores(search, ["noise", "empty"]) == [0.81, float("-inf")]


def test_the_sweep_finds_the_floor_within_the_real_query_budget() -> None:
    nonsense, real = [0.5, 0.6, 0.7, 0.8], [0.75, 0.85, 0.9, 0.95]
    sweep = sweep_floor(nonsense, real)
    assert [o.threshold for o in sweep][:3] == [0.5, 0.6, 0.7] and sweep[-1].real_cut == 1.0
    assert [o.threshold for o in sweep_floor([float("-inf"), 0.4], [0.9])] == [0.4, 0.9, pytest.approx(0.9 + 1e-6)]
    best = best_floor(sweep, max_real_cut=0.0)
    assert best == FloorOutcome(0.75, 0.75, 0.0, 4, 4)
    assert best_floor(sweep, max_real_cut=0.25) == FloorOutcome(0.85, 1.0, 0.25, 4, 4)
    table = sweep_table({"dense": sweep})
    assert "| dense | 0.7500 | 0.0% | 75.0% | 1.000 | no |" in table
    assert "| dense | 0.8500 | 25.0% | 100.0% | 0.800 | no |" in table


def test_the_nonsense_set_covers_every_language_and_kind() -> None:
    queries = load_nonsense(NONSENSE)
    per_lang = Counter(q.lang for q in queries)
    assert all(per_lang[lang] >= 20 for lang in ("kk", "ru", "ky")) and per_lang["mixed"] >= 3, per_lang
    assert {q.kind for q in queries} == {"random", "mash", "off-topic"}
    assert sum(q.kind == "off-topic" for q in queries) >= 45
    assert "zzqxv qwpp" in {q.text for q in queries}
    real = {q.text.casefold() for q in load_queries(QRELS)}
    assert not real & {q.text.casefold() for q in queries}
    assert len({q.text.casefold() for q in queries}) == len(queries)


def test_a_bad_nonsense_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": "a", "lang": "kk", "kind": "mash", "text": "қққ"}\n'
                    '{"id": "b", "lang": "en", "kind": "mash", "text": "zzz"}\n', encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_nonsense(path)
    assert caught.value.field.endswith(":2")
