"""The shipped knowledge-base data loads and validates; bad records fail with the file, line and field."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.knowledge import (
    LANGUAGES,
    Experience,
    Vocabulary,
    dump_experiences,
    experience_text,
    load_corpus_experiences,
    load_experiences,
    load_vocabulary,
    technology_text,
)
from pedkb.errors import UnsupportedFormatError, ValidationError

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# Records whose text describes the method without naming it: classifying them is the hard case.
UNNAMED = {
    "exp-kk-007": "collective-learning",
    "exp-kk-017": "formative-assessment",
    "exp-kk-019": "stepwise-mental-actions",
    "exp-ru-005": "flipped-classroom",
    "exp-ru-008": "dialogue-of-cultures",
    "exp-ru-009": "enlarged-didactic-units",
    "exp-ky-007": "full-mastery",
    "exp-ky-008": "triz",
    "exp-ky-009": "case-method",
    "exp-ky-021": "differentiated-instruction",
}
# Pairs of clearly similar projects written in different languages (for "similar projects" tests elsewhere).
SIMILAR_PAIRS = [
    ("exp-ru-001", "exp-ky-001"),  # debates in pairs
    ("exp-kk-002", "exp-ru-002"),  # Lesson Study in a methodical association
    ("exp-kk-003", "exp-ky-004"),  # water project in a rural school
    ("exp-ru-004", "exp-ky-003"),  # mentoring young teachers
    ("exp-kk-004", "exp-ru-003"),  # criteria-based assessment
    ("exp-kk-001", "exp-ky-002"),  # critical-thinking strategies on a poet's wisdom
    ("exp-kk-005", "exp-ru-005"),  # video at home, practice in class (chemistry)
    ("exp-ru-006", "exp-ky-005"),  # Zaitsev cubes
    ("exp-kk-006", "exp-ky-006"),  # inclusive primary class
    ("exp-ru-013", "exp-ky-014"),  # a school's move to distance learning in 2020
    ("exp-kk-014", "exp-ky-019"),  # national games in physical education
    ("exp-kk-015", "exp-ky-018"),  # school-wide competence monitoring
]


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return load_vocabulary(CORPUS)


@pytest.fixture(scope="module")
def experiences(vocabulary: Vocabulary) -> list[Experience]:
    return load_corpus_experiences(CORPUS, vocabulary)


def _good_record(vocabulary: Vocabulary) -> dict:
    """The first shipped Russian record, as raw JSON."""
    line = (CORPUS / "experiences" / "ru.jsonl").read_text(encoding="utf-8").splitlines()[0]
    record: dict = json.loads(line)
    return record


def _write_jsonl(path: Path, records: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---- the shipped vocabulary ----


def test_seven_groups_in_order(vocabulary: Vocabulary) -> None:
    assert [g.order for g in vocabulary.groups.values()] == list(range(1, 8))
    assert set(vocabulary.groups) == {
        "traditional", "personality-oriented", "activation", "management",
        "didactic-reconstruction", "developmental", "interactive",
    }  # fmt: skip


def test_technologies_cover_every_group(vocabulary: Vocabulary) -> None:
    assert 45 <= len(vocabulary.technologies) <= 60
    for group_id in vocabulary.groups:
        assert vocabulary.technologies_in(group_id), group_id


def test_technologies_have_all_labels_descriptions_and_aliases(vocabulary: Vocabulary) -> None:
    for tech in vocabulary.technologies.values():
        for lang in (*LANGUAGES, "en"):
            assert getattr(tech.labels, lang).strip(), (tech.id, lang)
        for lang in LANGUAGES:
            description = getattr(tech.descriptions, lang)
            assert 2 <= description.count(".") + description.count("!") <= 5, (tech.id, lang)
            assert getattr(tech.aliases, lang), (tech.id, lang)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tech.id)


def test_added_synonyms_carry_their_sources_and_stay_unique(vocabulary: Vocabulary) -> None:
    with_sources = [tech for tech in vocabulary.technologies.values() if tech.sources]
    assert len(with_sources) >= 5
    for tech in vocabulary.technologies.values():
        assert all(len(source) >= 20 for source in tech.sources), tech.id
        for lang in (*LANGUAGES, "en"):
            names = [getattr(tech.labels, lang), *getattr(tech.aliases, lang)]
            folded = [name.casefold().replace("ё", "е") for name in names]
            assert len(folded) == len(set(folded)), (tech.id, lang)
    case, debates, flipped = (vocabulary.technologies[t] for t in ("case-method", "debates", "flipped-classroom"))
    assert "кейс-стади" in case.aliases.ru and "case study" in case.aliases.en
    assert case.labels.kk.lower() == "кейс әдісі"
    assert "дебаттар" in debates.aliases.kk and "дебаты" in debates.aliases.ru
    assert flipped.labels.kk.lower() == "төңкерілген сынып" and flipped.labels.en.lower() == "flipped classroom"


def test_vocabulary_ids_are_unique() -> None:
    raw = json.loads((CORPUS / "technologies.json").read_text(encoding="utf-8"))
    for key in ("groups", "technologies"):
        ids = [item["id"] for item in raw[key]]
        assert len(ids) == len(set(ids)), key
    for name, key in (("regions.json", "regions"), ("subjects.json", "subjects")):
        ids = [item["id"] for item in json.loads((CORPUS / name).read_text(encoding="utf-8"))[key]]
        assert len(ids) == len(set(ids)), name


def test_classifications_have_the_source_values(vocabulary: Vocabulary) -> None:
    cls = vocabulary.classifications
    assert cls.get("scale").ids() == {"republican", "regional", "national-regional", "institutional"}
    assert cls.get("significance").ids() == {"isolated", "modular", "systemic"}
    assert cls.get("origin").ids() == {"modified", "combined", "fundamentally-new"}
    assert cls.get("novelty").ids() == {"absolute", "relative"}
    assert cls.get("experience_kind").ids() == {"mass", "advanced", "innovator"}
    assert [v.id for v in cls.get("stage").values] == [
        "identified", "studied", "generalised", "disseminated", "implemented",
    ]  # fmt: skip
    assert {
        "open-lesson",
        "master-class",
        "author-seminar",
        "conference",
        "pedagogical-readings",
        "publication",
        "methodical-week",
        "online-course",
        "mentoring",
        "network-exchange",
    } <= (cls.get("dissemination").ids())


def test_regions_span_both_countries(vocabulary: Vocabulary) -> None:
    countries = Counter(region.country for region in vocabulary.regions.values())
    assert countries["KZ"] == 20 and countries["KG"] == 9


# ---- the shipped experiences ----


def test_experience_counts(experiences: list[Experience]) -> None:
    assert len(experiences) >= 66
    per_language: Counter[str] = Counter(exp.language for exp in experiences)
    assert all(per_language[lang] >= 22 for lang in LANGUAGES), per_language
    assert len({exp.id for exp in experiences}) == len(experiences)
    assert all(exp.sample for exp in experiences)


def test_experiences_match_their_file_and_id(experiences: list[Experience]) -> None:
    for lang in LANGUAGES:
        for exp in load_experiences(CORPUS / "experiences" / f"{lang}.jsonl", load_vocabulary(CORPUS)):
            assert exp.language == lang and exp.id.startswith(f"exp-{lang}-"), exp.id


def test_experiences_use_every_group_and_spread(
    experiences: list[Experience], vocabulary: Vocabulary
) -> None:
    groups = {vocabulary.group_of(tech).id for exp in experiences for tech in exp.technologies}
    assert groups == set(vocabulary.groups)
    assert len({vocabulary.group_of(exp.technologies[0]).id for exp in experiences}) == 7
    assert len({exp.subject for exp in experiences}) >= 15
    assert {vocabulary.regions[exp.region].country for exp in experiences} == {"KZ", "KG"}
    assert {g for exp in experiences for g in exp.grades} == set(range(12))


def test_experience_text_is_in_its_language(experiences: list[Experience]) -> None:
    kazakh_only = set("әғқұіһӘҒҚҰІҺ")
    for exp in experiences:
        letters = set(experience_text(exp)) | set(exp.author) | set(exp.organisation)
        if exp.language == "kk":
            assert letters & kazakh_only, exp.id
        elif exp.language == "ky":
            assert not letters & kazakh_only, exp.id
        else:
            assert not letters & (kazakh_only | set("ңөүҢӨҮ")), exp.id


def test_experience_texts_are_distinct(experiences: list[Experience]) -> None:
    titles = [exp.title for exp in experiences]
    assert len(set(titles)) == len(titles)
    methods = [exp.method[:80] for exp in experiences]
    assert len(set(methods)) == len(methods)


def _names_pattern(phrase: str) -> re.Pattern[str]:
    """A loose pattern for a phrase and its inflected forms: each word cut to a stem."""
    words = re.findall(r"\w+", phrase.lower())
    stems = [w if len(w) <= 3 else w[: max(4, len(w) - 3)] for w in words]
    return re.compile(r"\W+".join(re.escape(stem) + r"\w*" for stem in stems))


def test_unnamed_records_do_not_name_their_method(
    experiences: list[Experience], vocabulary: Vocabulary
) -> None:
    by_id = {exp.id: exp for exp in experiences}
    assert 5 <= len(UNNAMED) <= 10
    for exp_id, tech_id in UNNAMED.items():
        exp = by_id[exp_id]
        assert exp.technologies[0] == tech_id
        tech = vocabulary.technologies[tech_id]
        text = experience_text(exp).lower()
        names = [getattr(tech.labels, exp.language), *getattr(tech.aliases, exp.language)]
        for name in names:
            assert not _names_pattern(name).search(text), (exp_id, name)


def test_similar_pairs_share_their_primary_technology(experiences: list[Experience]) -> None:
    by_id = {exp.id: exp for exp in experiences}
    for a, b in SIMILAR_PAIRS:
        assert by_id[a].language != by_id[b].language
        assert by_id[a].technologies[0] == by_id[b].technologies[0], (a, b)


def test_texts_to_embed(experiences: list[Experience], vocabulary: Vocabulary) -> None:
    exp = experiences[0]
    text = experience_text(exp)
    assert text.startswith(exp.title) and exp.results in text and exp.stages[-1] in text
    assert exp.author not in text
    tech = vocabulary.technologies["critical-thinking"]
    assert "РКМЧП" in technology_text(tech, "ru")
    assert technology_text(tech, "ky").startswith(tech.labels.ky)
    with pytest.raises(ValidationError, match="lang"):
        technology_text(tech, "en")


# ---- bad records ----


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda r: r["technologies"].append("foo"), "technologies[2]", "unknown technology id 'foo'"),
        (lambda r: r.pop("title"), "title", "is required"),
        (lambda r: r.update(title="   "), "title", "must not be empty"),
        (lambda r: r.update(language="en"), "language", "'kk', 'ru' or 'ky'"),
        (lambda r: r.update(grades=[5, 12]), "grades[1]", "must be at most 11 (got 12)"),
        (lambda r: r.update(grades=[5, 5]), "grades[1]", "listed twice"),
        (lambda r: r.update(region="kz-atlantis"), "region", "unknown region"),
        (lambda r: r["innovation"].update(scale="galactic"), "innovation.scale", "unknown scale"),
        (lambda r: r.update(year=2031), "year", "must be at most 2026 (got 2031)"),
        (lambda r: r.update(dissemination=["open-lesson", "telepathy"]), "dissemination[1]", "unknown"),
        (lambda r: r.update(stages=[]), "stages", "must not be empty"),
        (lambda r: r.update(colour="red"), "colour", "is not a field of an experience"),
    ],
)
def test_bad_record_names_file_line_and_field(
    tmp_path: Path,
    vocabulary: Vocabulary,
    change: Callable[[dict], object],
    field: str,
    reason: str,
) -> None:
    good = _good_record(vocabulary)
    bad = json.loads(json.dumps(good))
    bad["id"] = "exp-ru-999"
    change(bad)
    path = _write_jsonl(tmp_path / "ru.jsonl", [good, "", bad])
    with pytest.raises(ValidationError) as caught:
        load_experiences(path, vocabulary)
    assert caught.value.field == f"{path}:3: {field}"
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:3: {field}: ")


def test_malformed_json_line(tmp_path: Path, vocabulary: Vocabulary) -> None:
    path = _write_jsonl(tmp_path / "kk.jsonl", [_good_record(vocabulary), '{"id": "exp-kk-1", "title": '])
    with pytest.raises(ValidationError, match=r"kk\.jsonl:2: malformed JSON"):
        load_experiences(path, vocabulary)


def test_record_must_be_an_object(tmp_path: Path, vocabulary: Vocabulary) -> None:
    path = _write_jsonl(tmp_path / "kk.jsonl", ["[1, 2]"])
    with pytest.raises(ValidationError, match=r"kk\.jsonl:1: a record must be a JSON object"):
        load_experiences(path, vocabulary)


def test_duplicate_id_in_a_file(tmp_path: Path, vocabulary: Vocabulary) -> None:
    good = _good_record(vocabulary)
    path = _write_jsonl(tmp_path / "ru.jsonl", [good, good])
    with pytest.raises(ValidationError, match=r"ru\.jsonl:2: id: duplicate id .* \(first on line 1\)"):
        load_experiences(path, vocabulary)


def test_bad_csv_row_names_line_and_field(
    tmp_path: Path, vocabulary: Vocabulary, experiences: list[Experience]
) -> None:
    path = tmp_path / "bank.csv"
    dump_experiences(experiences[:3], path)
    text = path.read_text(encoding="utf-8").replace(experiences[2].region, "kz-nowhere")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_experiences(path, vocabulary)
    assert caught.value.field == f"{path}:4: region"


def test_unsupported_suffix(tmp_path: Path, vocabulary: Vocabulary) -> None:
    with pytest.raises(UnsupportedFormatError):
        load_experiences(tmp_path / "bank.xlsx", vocabulary)
    with pytest.raises(UnsupportedFormatError):
        dump_experiences([], tmp_path / "bank.txt")


def test_vocabulary_errors_name_the_file(tmp_path: Path) -> None:
    for name in ("technologies.json", "classifications.json", "regions.json", "subjects.json"):
        (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    raw = json.loads((tmp_path / "technologies.json").read_text(encoding="utf-8"))
    raw["technologies"][3]["group"] = "astrology"
    (tmp_path / "technologies.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_vocabulary(tmp_path)
    assert caught.value.field == f"{tmp_path / 'technologies.json'}: technologies[3].group"


# ---- round trip ----


def test_jsonl_csv_jsonl_round_trip_is_lossless(
    tmp_path: Path, vocabulary: Vocabulary, experiences: list[Experience]
) -> None:
    tricky = experiences[0].model_copy(
        update={"stages": ["one; two", "back\\slash", 'quote " and, comma'], "dissemination": []}
    )
    records = [*experiences, tricky.model_copy(update={"id": "exp-ru-900"})]
    first, csv_path, second = tmp_path / "a.jsonl", tmp_path / "b.csv", tmp_path / "c.jsonl"
    dump_experiences(records, first)
    dump_experiences(load_experiences(first, vocabulary), csv_path)
    from_csv = load_experiences(csv_path, vocabulary)
    assert from_csv == records
    dump_experiences(from_csv, second)
    assert second.read_bytes() == first.read_bytes()


def test_shipped_jsonl_is_in_canonical_form(tmp_path: Path, vocabulary: Vocabulary) -> None:
    for lang in LANGUAGES:
        source = CORPUS / "experiences" / f"{lang}.jsonl"
        out = tmp_path / f"{lang}.jsonl"
        dump_experiences(load_experiences(source, vocabulary), out)
        assert out.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")
