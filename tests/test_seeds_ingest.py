"""Ingest the shared seed documents (real extracted PDFs) and check languages, repairs and chunks.

The seeds live outside the repository: $PEDKB_SEEDS, else ../shared/seeds beside the repo. The module is
skipped only when that folder is absent.
"""

from __future__ import annotations

import os
import re
import time
from functools import cache
from pathlib import Path

import pytest

from ingest import PreparedDocument, prepare_document, repair_text
from ingest.language import split_by_language

SEEDS = Path(os.environ.get("PEDKB_SEEDS") or Path(__file__).resolve().parents[2] / "shared" / "seeds")
pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed folder {SEEDS} is absent")

LIMIT = 5_000_000


def count_words(text: str) -> int:
    """A whitespace tokenizer."""
    return len(text.split())


def seed_path(prefix: str) -> Path:
    """The seed file whose name starts with `prefix` ("000" ... "004")."""
    matches = sorted(SEEDS.glob(f"{prefix}_*.txt"))
    assert matches, f"no seed {prefix}_*.txt in {SEEDS}"
    return matches[0]


@cache
def prepared(prefix: str) -> PreparedDocument:
    """The seed read, repaired and chunked with the default budget (cached for the module)."""
    return prepare_document(seed_path(prefix), max_bytes=LIMIT, count_tokens=count_words)


def text_of(prefix: str) -> str:
    """The repaired text of a seed (every seed is a single-page text file)."""
    pages = prepared(prefix).pages
    assert len(pages) == 1
    return pages[0].text


def _spans(prefix: str) -> list[tuple[int, str]]:
    """Hand-known language spans as (start offset in the repaired text, language), found by opening words."""
    text = text_of(prefix)
    if prefix == "001":
        marks = [
            ("В статье описывается", "ru"),
            ("The article describes", "en"),
            ("Бүгүнкү күндө инновациялар", "ky"),
        ]
        return [(0, "ky"), *((text.index(mark), lang) for mark, lang in marks)]
    if prefix == "002":
        boundary = text.index("Введение", text.index("Кестелер, графиктер, иллюстрациялар."))
        return [(0, "kk"), (boundary, "ru")]
    return [(0, "kk")]


def _language_at(spans: list[tuple[int, str]], offset: int) -> str:
    return [lang for start, lang in spans if start <= offset][-1]


@pytest.mark.parametrize(
    ("prefix", "languages"),
    [("000", ["kk"]), ("001", ["ky", "en", "ru"]), ("002", ["kk", "ru"]), ("003", ["kk"]), ("004", ["kk"])],
)
def test_document_languages(prefix: str, languages: list[str]) -> None:
    assert sorted(prepared(prefix).languages) == sorted(languages)


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_every_chunk_has_the_language_of_its_position(prefix: str) -> None:
    document = prepared(prefix)
    spans = _spans(prefix)
    text = text_of(prefix)
    for chunk in document.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens <= 256
        expected = {_language_at(spans, chunk.start), _language_at(spans, chunk.end - 1)}
        assert expected == {chunk.lang}, (chunk.ordinal, chunk.text[:80])


@pytest.mark.parametrize("prefix", ["001", "002"])
def test_language_runs_match_the_hand_known_spans(prefix: str) -> None:
    text = text_of(prefix)
    starts = [0] + [m.end() for m in re.finditer(r"\n\n", text)]
    paragraphs = text.split("\n\n")
    runs = split_by_language(paragraphs)
    found = [(starts[first], lang) for first, _, lang in runs]
    assert found == _spans(prefix)


def test_001_abstracts_are_chunked_apart() -> None:
    langs = [chunk.lang for chunk in prepared("001").chunks]
    assert langs[:3] == ["ky", "ru", "en"] and set(langs[3:]) == {"ky"}


def test_002_is_kazakh_then_russian() -> None:
    langs = [chunk.lang for chunk in prepared("002").chunks]
    switch = langs.index("ru")
    assert set(langs[:switch]) == {"kk"} and set(langs[switch:]) == {"ru"}
    assert 30 < switch < len(langs) - 30  # two halves of similar size


def test_001_syllable_splits_are_joined_and_compounds_kept() -> None:
    text = text_of("001")
    for split in (
        "ин-новациялык",
        "иш-мердүүлүгү",
        "деятель-ность",
        "пе-дагога",
        "inno-vation",
        "techno-logy",
    ):
        assert split not in text
    for word in ("инновациялык ишмердүүлүгү", "деятельность", "innovation", "технологиясын"):
        assert word in text
    assert "иш-аракет" in text and "ишаракет" not in text
    assert "социально-педагогический" in text and "илимий-техникалык" in text
    assert text.count("-") < 60  # of 175 line-end hyphens about 174 were syllable splits


def test_002_compounds_keep_their_hyphen() -> None:
    text = text_of("002")
    for compound in ("оқу-әдістемелік", "учебно-воспитательного", "мастер-классы", "ғылыми-әдістемелік"):
        assert compound in text
        assert compound.replace("-", "") not in text
    for artefact, fixed in [("іс- тәжірибенің", "іс-тәжірибенің"), ("метод- кейса", "метод-кейса")]:
        assert artefact not in text and fixed in text
    for artefact, fixed in [("өзін -өзі", "өзін-өзі"), ("мекен -жайы", "мекен-жайы")]:
        assert artefact not in text and fixed in text


def test_000_compounds_across_blank_lines_keep_their_hyphen() -> None:
    text = text_of("000")
    assert "материалдық-техникалық" in text and "инновациялық-педагогикалық" in text


def test_page_numbers_in_mid_sentence_are_removed() -> None:
    assert "банк инновационных образовательных программ" in text_of("002")
    assert "әдістерді қалыптастыру" in text_of("000")
    assert not re.search(r"(?m)^\d{1,3}$", text_of("002"))


def test_004_has_no_latin_schwa_left() -> None:
    text = text_of("004")
    assert "ə" not in text and "Ə" not in text
    assert "кәсіби" in text and "сүйенсек" in text
    assert "TALIS" in text and "Lesson Study" in text


def test_003_has_no_mixed_script_words_left() -> None:
    text = text_of("003")
    mixed = [
        w for w in re.findall(r"[^\W\d_]+", text) if re.search("[a-z]", w) and re.search("[а-яәіңғүұқөһ]", w)
    ]
    assert mixed == []
    assert "e-learning" in text and "PowerPoint" in text


@pytest.mark.parametrize("prefix", ["000", "002", "004"])
def test_citation_markers_are_stripped(prefix: str) -> None:
    assert not re.search(r"\[\d", text_of(prefix))


def test_largest_seed_repairs_in_well_under_a_second() -> None:
    raw = seed_path("002").read_text(encoding="utf-8")
    repair_text(raw)  # warm up the regular expressions
    started = time.perf_counter()
    repaired = repair_text(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"repair took {elapsed:.2f} s"
    assert repair_text(repaired) == repaired  # and repairing twice changes nothing
