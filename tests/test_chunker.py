"""Tests of chunking: token budget, overlap, offsets, pages, language runs and tiny leftovers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunker import chunk_pages
from ingest.document import Chunk, Page
from ingest.sentences import split_sentences


def count_words(text: str) -> int:
    """A whitespace tokenizer, as the tests' stand-in for the model's."""
    return len(text.split())


def count_with_specials(text: str) -> int:
    """Like a model tokenizer: two special tokens on every text and words split into pieces of 6 letters."""
    return 2 + sum(max(1, -(-len(word) // 6)) for word in text.split())


KK_SENTENCES = [
    "Әдістемелік кабинет мұғалімдердің озық тәжірибесін жыл сайын жинақтап отырады.",
    "Әдіскерлер мектептерге барып, сабақтарды бақылайды және жазба жасайды.",
    "Жазбалар облыстық электрондық банкке енгізіліп, барлық мұғалімге ашық болады.",
    "Банкте авторлық бағдарламалар, оқу-әдістемелік құралдар және шебер-сыныптар сақталады.",
    "Әр жазбаның авторы, мектебі, пәні және қысқаша сипаттамасы көрсетіледі.",
    "Педагогикалық қауымдастық бұл жазбаларды өз сабақтарында пайдаланады.",
]
RU_SENTENCES = [
    "Методический кабинет собирает сведения о передовом опыте учителей района.",
    "Лучшие материалы включаются в электронный банк педагогического опыта области.",
    "Опыт распространяется через семинары, мастер-классы и открытые уроки для коллег.",
    "Методисты следят за тем, как учителя применяют описанные приёмы на практике.",
]


def _check_invariants(pages: list[Page], chunks: list[Chunk], max_tokens: int, count=count_words) -> None:
    by_number = {page.number: page for page in pages}
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        page = by_number[chunk.page]
        assert page.text[chunk.start : chunk.end] == chunk.text
        assert chunk.n_tokens == count(chunk.text) <= max_tokens
        assert chunk.text == chunk.text.strip()


def test_chunks_respect_the_budget_and_overlap_by_whole_sentences() -> None:
    page = Page(number=1, text=" ".join(KK_SENTENCES * 3))
    chunks = chunk_pages([page], count_tokens=count_words, max_tokens=30, overlap_tokens=12)
    _check_invariants([page], chunks, 30)
    assert len(chunks) > 3
    spans = split_sentences(page.text)
    starts, ends = {start for start, _ in spans}, {end for _, end in spans}
    for chunk in chunks:
        assert chunk.start in starts and chunk.end in ends  # whole sentences only
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start < before.end  # they overlap ...
        assert count_words(page.text[after.start : before.end]) <= 12  # ... by at most the overlap budget
        assert after.end > before.end  # and every chunk brings something new
    assert chunks[0].start == 0 and chunks[-1].end == len(page.text)


def test_no_overlap_when_the_budget_is_zero() -> None:
    page = Page(number=None, text=" ".join(KK_SENTENCES))
    chunks = chunk_pages([page], count_tokens=count_words, max_tokens=25, overlap_tokens=0)
    _check_invariants([page], chunks, 25)
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_a_sentence_longer_than_the_budget_is_split_at_word_boundaries() -> None:
    words = [f"сөз{i}" for i in range(70)]
    page = Page(number=None, text=" ".join(words) + ".")
    chunks = chunk_pages([page], count_tokens=count_words, max_tokens=20, overlap_tokens=5)
    _check_invariants([page], chunks, 20)
    covered = " ".join(chunk.text for chunk in chunks)
    assert all(word in covered.split() or word + "." in covered.split() for word in words)
    assert all(not chunk.text.startswith(("з", "ө")) for chunk in chunks)  # never inside a word


def test_chunks_stay_within_one_page() -> None:
    pages = [Page(number=n, text=" ".join(KK_SENTENCES[n - 1 : n + 1])) for n in (1, 2, 3)]
    chunks = chunk_pages(pages, count_tokens=count_words, max_tokens=200, overlap_tokens=10)
    _check_invariants(pages, chunks, 200)
    assert [chunk.page for chunk in chunks] == [1, 2, 3]


def test_a_chunk_never_mixes_two_language_runs() -> None:
    text = "\n\n".join([*KK_SENTENCES[:3], "Введение", *RU_SENTENCES[:2]])
    page = Page(number=None, text=text)
    chunks = chunk_pages([page], count_tokens=count_words, max_tokens=200, overlap_tokens=20)
    _check_invariants([page], chunks, 200)
    assert [chunk.lang for chunk in chunks] == ["kk", "ru"]
    assert chunks[1].text.startswith("Введение\n\n")  # the heading goes with the run it opens
    assert "Введение" not in chunks[0].text


def test_language_runs_continue_across_pages() -> None:
    pages = [
        Page(number=1, text=" ".join(KK_SENTENCES[:3])),
        Page(
            number=2, text="ЕРЕЖЕ."
        ),  # alone it looks Russian; too short to detect, it takes the run's language
        Page(number=3, text=" ".join(RU_SENTENCES)),
    ]
    chunks = chunk_pages(pages, count_tokens=count_words, max_tokens=200, overlap_tokens=20)
    assert [(chunk.page, chunk.lang) for chunk in chunks] == [(1, "kk"), (2, "kk"), (3, "ru")]


def test_a_tiny_heading_is_merged_into_its_neighbour() -> None:
    long_sentence = " ".join(KK_SENTENCES[:2])
    page = Page(number=None, text="Кіріспе\n\n" + long_sentence)
    budget = count_words(long_sentence) + 1
    chunks = chunk_pages([page], count_tokens=count_words, max_tokens=budget, overlap_tokens=4)
    _check_invariants([page], chunks, budget)
    assert chunks[0].text.startswith("Кіріспе\n\n")
    assert all(chunk.text != "Кіріспе" for chunk in chunks)


def test_chunks_without_letters_are_not_indexed() -> None:
    page = Page(number=7, text="12\n\n___ ___")
    assert chunk_pages([page], count_tokens=count_words) == []
    assert chunk_pages([Page(number=None, text="")], count_tokens=count_words) == []


def test_a_model_like_tokenizer_with_special_tokens_stays_within_budget() -> None:
    pages = [Page(number=1, text=" ".join(KK_SENTENCES * 4)), Page(number=2, text=" ".join(RU_SENTENCES * 4))]
    chunks = chunk_pages(pages, count_tokens=count_with_specials, max_tokens=48, overlap_tokens=16)
    _check_invariants(pages, chunks, 48, count=count_with_specials)
    assert {chunk.lang for chunk in chunks if chunk.page == 1} == {"kk"}
    assert {chunk.lang for chunk in chunks if chunk.page == 2} == {"ru"}


def test_ordinals_run_over_the_whole_document() -> None:
    pages = [Page(number=n, text=" ".join(KK_SENTENCES)) for n in (1, 2)]
    chunks = chunk_pages(pages, count_tokens=count_words, max_tokens=30, overlap_tokens=8)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.page for chunk in chunks} == {1, 2}


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_budgets_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_pages(
            [Page(None, "Мәтін.")], count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap
        )


_PIECES = st.sampled_from(
    "Мұғалім сабақ өтті т.б. М. Зайцева 1. 2020 ж. (жоба. кейс) «Біз» деді. Введение урок и т.д. Новое! • "
    "оқу-әдістемелік ? … \n\n".split(" ")
)


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=80),
    max_tokens=st.integers(min_value=1, max_value=40),
    overlap=st.integers(min_value=0, max_value=39),
)
def test_offsets_and_budget_hold_for_any_text(pieces: list[str], max_tokens: int, overlap: int) -> None:
    overlap = min(overlap, max_tokens - 1)
    text = " ".join(pieces).strip()
    pages = [Page(number=1, text=text), Page(number=2, text=text[::-1])]
    chunks = chunk_pages(pages, count_tokens=count_words, max_tokens=max_tokens, overlap_tokens=overlap)
    _check_invariants(pages, chunks, max_tokens)
